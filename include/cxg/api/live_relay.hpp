#pragma once
// What the HTTP layer needs from the relay (implemented by the relay core; a no-op
// implementation serves while no relay is wired). All calls are thread-safe.
#include <cstddef>
#include <string>

namespace cxg::api {

class LiveRelay {
 public:
  virtual ~LiveRelay() = default;
  // Live executor connection on this replica?
  virtual bool executor_connected(const std::string& exe_id) const = 0;
  // Legacy (mode=json) executor that already serves a bridge?
  virtual bool legacy_executor_busy(const std::string& exe_id) const = 0;
  virtual std::size_t active_streams(const std::string& exe_id) const = 0;
  // Admin delete: executor socket 4002, its bridges 4104.
  virtual void close_executor_deleted(const std::string& exe_id) = 0;
  // Binding removed: that workspace's bridges to the executor get 4105 + Reset executor_unbound.
  virtual void close_unbound(const std::string& workspace_id, const std::string& exe_id) = 0;
};

class NoRelay final : public LiveRelay {
 public:
  bool executor_connected(const std::string&) const override { return false; }
  bool legacy_executor_busy(const std::string&) const override { return false; }
  std::size_t active_streams(const std::string&) const override { return 0; }
  void close_executor_deleted(const std::string&) override {}
  void close_unbound(const std::string&, const std::string&) override {}
};

}  // namespace cxg::api
