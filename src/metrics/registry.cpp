#include "cxg/metrics/registry.hpp"

#include <stdexcept>

namespace cxg::metrics {
namespace {

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string s = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) s += ',';
    s += labels[i].first + "=\"" + escape_label_value(labels[i].second) + '"';
  }
  return s + '}';
}

}  // namespace

void Registry::declare_counter(const std::string& name, const std::string& help) {
  std::lock_guard lk(mu_);
  auto& f = families_[name];
  f.is_counter = true;
  f.help = help;
}

void Registry::declare_gauge(const std::string& name, const std::string& help) {
  std::lock_guard lk(mu_);
  auto& f = families_[name];
  f.is_counter = false;
  f.help = help;
}

Registry::Family& Registry::family(const std::string& name) {
  auto it = families_.find(name);
  if (it == families_.end()) throw std::logic_error("undeclared metric " + name);
  return it->second;
}

Counter& Registry::counter(const std::string& name, const Labels& labels) {
  std::lock_guard lk(mu_);
  auto& slot = family(name).counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const Labels& labels) {
  std::lock_guard lk(mu_);
  auto& slot = family(name).gauges[render_labels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

void Registry::gauge_callback(const std::string& name, const Labels& labels,
                              std::function<std::int64_t()> fn) {
  std::lock_guard lk(mu_);
  family(name).callbacks[render_labels(labels)] = std::move(fn);
}

std::string Registry::render() const {
  std::lock_guard lk(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const std::string series = f.is_counter ? name + "_total" : name;
    out += "# HELP " + series + ' ' + f.help + '\n';
    out += "# TYPE " + series + (f.is_counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, c] : f.counters) out += series + labels + ' ' + std::to_string(c->value()) + '\n';
    for (const auto& [labels, g] : f.gauges) out += series + labels + ' ' + std::to_string(g->value()) + '\n';
    for (const auto& [labels, fn] : f.callbacks) out += series + labels + ' ' + std::to_string(fn()) + '\n';
  }
  return out;
}

void declare_cxg_metrics(Registry& r, const std::string& version) {
  r.declare_gauge("cxg_executors_connected", "Executor websockets connected to this replica.");
  r.declare_gauge("cxg_bridges_active", "Bridge websockets active, by flavour.");
  r.declare_gauge("cxg_streams_active", "Relay streams active on this replica.");
  r.declare_gauge("cxg_revocations", "Turn revocations held in memory.");
  r.declare_gauge("cxg_ready", "1 when /readyz answers ready.");
  r.declare_gauge("cxg_build_info", "Build information.");
  r.declare_counter("cxg_registrations", "Executor registrations by path and result.");
  r.declare_counter("cxg_bridge_rejections", "Bridge admissions refused, by reason.");
  r.declare_counter("cxg_frames", "Relay frames forwarded, by direction.");
  r.declare_counter("cxg_bytes", "Relay payload bytes forwarded, by direction.");
  r.declare_counter("cxg_frames_dropped", "Relay frames dropped, by reason.");
  r.declare_counter("cxg_executor_evictions", "Executor connections replaced by a newer one.");
  r.declare_counter("cxg_stream_resets", "Stream resets sent or forwarded, by reason.");
  r.declare_counter("cxg_slow_consumer_closes", "Bridges closed as slow consumers.");
  r.declare_counter("cxg_auth_validator_requests", "Registration validator calls, by validator and result.");
  r.declare_counter("cxg_http_requests", "HTTP requests, by route and status code.");
  r.gauge("cxg_build_info", {{"version", version}}).set(1);
  r.gauge("cxg_bridges_active", {{"flavour", "relay"}});
  r.gauge("cxg_bridges_active", {{"flavour", "plain"}});
  r.gauge("cxg_executors_connected");
  r.gauge("cxg_streams_active");
  r.gauge("cxg_ready");
  r.counter("cxg_executor_evictions");
  r.counter("cxg_slow_consumer_closes");
  r.counter("cxg_frames", {{"direction", "to_executor"}});
  r.counter("cxg_frames", {{"direction", "to_bridge"}});
  r.counter("cxg_bytes", {{"direction", "to_executor"}});
  r.counter("cxg_bytes", {{"direction", "to_bridge"}});
}

}  // namespace cxg::metrics
