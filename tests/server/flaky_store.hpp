#pragma once
// A real store behind a switch that makes chosen calls fail, to test recovery paths.
#include <atomic>

#include "cxg/store/store.hpp"

namespace cxg::testing {

class FlakyStore final : public store::Store {
 public:
  explicit FlakyStore(store::Store& real) : real_(real) {}
  std::atomic<int> fail_presence_writes{0};  // next N upsert_presence calls throw
  std::atomic<bool> fail_ping{false};

  store::CreateExecutorResult create_executor(const store::NewExecutor& e, std::int64_t now) override { return real_.create_executor(e, now); }
  std::optional<store::Executor> get_executor(const std::string& id, std::int64_t now) override { return real_.get_executor(id, now); }
  bool delete_executor(const std::string& id) override { return real_.delete_executor(id); }
  std::optional<std::string> executor_owner(const std::string& id) override { return real_.executor_owner(id); }
  std::string ensure_executor(const std::string& id, const std::string& u, std::int64_t now) override { return real_.ensure_executor(id, u, now); }
  void record_registration(const std::string& id, const store::RegistrationMetadata& m, std::int64_t now) override { real_.record_registration(id, m, now); }
  store::UpsertBindingResult upsert_binding(const store::Binding& b, std::int64_t now) override { return real_.upsert_binding(b, now); }
  bool delete_binding(const std::string& w, const std::string& e) override { return real_.delete_binding(w, e); }
  bool binding_exists(const std::string& w, const std::string& e) override { return real_.binding_exists(w, e); }
  std::vector<store::BoundExecutor> list_bindings(const std::string& w, std::int64_t now) override { return real_.list_bindings(w, now); }
  std::vector<std::string> workspaces_of(const std::string& e) override { return real_.workspaces_of(e); }
  void upsert_presence(const std::string& e, const std::string& r, const std::string& c, const std::string& p, std::int64_t now) override {
    if (fail_presence_writes > 0) {
      --fail_presence_writes;
      throw store::StoreError("injected failure");
    }
    real_.upsert_presence(e, r, c, p, now);
  }
  bool remove_presence(const std::string& e, const std::string& c, std::int64_t now) override { return real_.remove_presence(e, c, now); }
  void touch_last_seen(const std::string& e, std::int64_t now) override { real_.touch_last_seen(e, now); }
  void clear_replica_presence(const std::string& r, std::int64_t now) override { real_.clear_replica_presence(r, now); }
  void heartbeat_replica(const std::string& r, const std::string& u, std::int64_t now) override { real_.heartbeat_replica(r, u, now); }
  std::int64_t revoke_turn(const std::string& t, std::int64_t exp, std::int64_t now) override { return real_.revoke_turn(t, exp, now); }
  std::vector<store::Revocation> load_revocations(std::int64_t now) override { return real_.load_revocations(now); }
  std::size_t prune_revocations(std::int64_t now) override { return real_.prune_revocations(now); }
  void ping() override {
    if (fail_ping) throw store::StoreError("injected failure");
    real_.ping();
  }

 private:
  store::Store& real_;
};

}  // namespace cxg::testing
