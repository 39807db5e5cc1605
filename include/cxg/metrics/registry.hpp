#pragma once
// Counters and gauges rendered in Prometheus text format 0.0.4. Lookup by (name, labels)
// takes a mutex; hot paths look a series up once and keep the reference (series are never
// removed, so references stay valid for the registry's lifetime).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cxg::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) { v_.fetch_sub(n, std::memory_order_relaxed); }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

class Registry {
 public:
  // Families must be declared before use; counters are rendered as <name>_total.
  void declare_counter(const std::string& name, const std::string& help);
  void declare_gauge(const std::string& name, const std::string& help);
  Counter& counter(const std::string& name, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const Labels& labels = {});
  // A gauge whose value is computed at render time.
  void gauge_callback(const std::string& name, const Labels& labels, std::function<std::int64_t()> fn);
  std::string render() const;

 private:
  struct Family {
    bool is_counter = false;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // key: rendered label set
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::function<std::int64_t()>> callbacks;
  };
  Family& family(const std::string& name);
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// Declares every cxg series listed in http-api.md §2.1.
void declare_cxg_metrics(Registry& r, const std::string& version);

}  // namespace cxg::metrics
