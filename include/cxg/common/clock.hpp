#pragma once
#include <atomic>
#include <cstdint>

namespace cxg {

// Time source injected everywhere time matters, so units never read the wall clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_unix_ms() const = 0;
  std::int64_t now_unix_s() const { return now_unix_ms() / 1000; }
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_unix_ms() const override;
  static const SystemClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  std::int64_t now_unix_ms() const override { return now_ms_.load(); }
  void set_ms(std::int64_t ms) { now_ms_ = ms; }
  void advance_ms(std::int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<std::int64_t> now_ms_;
};

}  // namespace cxg
