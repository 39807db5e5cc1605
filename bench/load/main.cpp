// cxg-load: the scenarios of the relay benchmark (issue 6). Each scenario prints one JSON line
// (machine-readable; bench/run.sh collects them) and one human-readable line.
//
//   cxg-load <scenario> --gateway 127.0.0.1:PORT --gateway-pid PID --cap-secret S
//            --admin-secret S --token T [--direct-port P] [--nginx NAME=HOST:PORT:PID,PID ...]
//            [--duration 2] [--warmup 0.5] [scenario options]
//
// Scenarios: throughput (--dir e2b|b2e --size N --streams K), latency (--streams K --size N),
// idle (--executors N), register (--executors N --threads T), isolation (--streams K --size N),
// fanin (--executors N --streams K).
//
// Ratios use a run of the same workload in the same process: "direct" (bridges connect
// straight to the executor side, a websocket server here, no relay in between) and, when given,
// nginx proxying to that same server.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "cxg/codec/cap_token.hpp"
#include "peers.hpp"

namespace json = boost::json;
using namespace load;

namespace {

// ------------------------------------------------------------------------------ options

struct Target {
  std::string name;  // "direct", "cxg", "nginx-1w", ...
  enum Kind { direct, nginx, gateway } kind = direct;
  Endpoint ep;
  std::vector<int> pids;  // processes whose CPU time is charged to this relay
};

struct Options {
  std::string scenario;
  std::multimap<std::string, std::string> args;

  std::string get(const std::string& k, const std::string& def = "") const {
    const auto it = args.find(k);
    return it == args.end() ? def : it->second;
  }
  double num(const std::string& k, double def) const {
    const auto v = get(k);
    return v.empty() ? def : std::stod(v);
  }
  bool has(const std::string& k) const { return args.count(k) > 0; }
};

Endpoint parse_endpoint(const std::string& s) {
  const auto colon = s.rfind(':');
  return {s.substr(0, colon), static_cast<std::uint16_t>(std::stoi(s.substr(colon + 1)))};
}

std::vector<int> parse_pids(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, ',');)
    if (!p.empty()) out.push_back(std::stoi(p));
  return out;
}

struct Setup {
  Options o;
  Endpoint gateway;
  int gateway_pid = 0;
  std::string cap_secret, admin_secret, token, user, workspace;
  std::uint16_t direct_port = 0;
  std::vector<Target> nginx;
  double duration = 2.0, warmup = 0.5;
  int run_counter = 0;

  Target gateway_target() const { return {"cxg", Target::gateway, gateway, {gateway_pid}}; }
  Target direct_target() const { return {"direct", Target::direct, {"127.0.0.1", direct_port}, {}}; }
};

Setup parse(int argc, char** argv) {
  Setup s;
  if (argc < 2) throw std::runtime_error("usage: cxg-load <scenario> [--option value ...]");
  s.o.scenario = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::runtime_error("bad option " + k);
    s.o.args.emplace(k.substr(2), argv[i + 1]);
  }
  s.gateway = parse_endpoint(s.o.get("gateway", "127.0.0.1:6060"));
  s.gateway_pid = static_cast<int>(s.o.num("gateway-pid", 0));
  s.cap_secret = s.o.get("cap-secret");
  s.admin_secret = s.o.get("admin-secret");
  s.token = s.o.get("token");
  s.user = s.o.get("user", "bench");
  s.workspace = s.o.get("workspace", "ws-bench");
  s.direct_port = static_cast<std::uint16_t>(s.o.num("direct-port", 0));
  s.duration = s.o.num("duration", 2.0);
  s.warmup = s.o.num("warmup", 0.5);
  const auto range = s.o.args.equal_range("nginx");
  for (auto it = range.first; it != range.second; ++it) {
    // NAME=HOST:PORT:PID,PID
    const auto& v = it->second;
    const auto eq = v.find('=');
    const auto rest = v.substr(eq + 1);
    const auto c1 = rest.find(':'), c2 = rest.find(':', c1 + 1);
    Target t{v.substr(0, eq), Target::nginx, parse_endpoint(rest.substr(0, c2)),
             c2 == std::string::npos ? std::vector<int>{} : parse_pids(rest.substr(c2 + 1))};
    s.nginx.push_back(t);
  }
  return s;
}

// ------------------------------------------------------------------------------ /proc facts

double cpu_seconds(const std::vector<int>& pids) {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (const int pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(f, line);
    const auto rp = line.rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream rest(line.substr(rp + 2));
    std::string field;
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    total += static_cast<double>(utime + stime) / ticks;
  }
  return total;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int fd_count(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (auto* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

// ------------------------------------------------------------------------------ helpers

double now_s() { return static_cast<double>(now_ns()) / 1e9; }

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

template <class Pred>
bool wait_for(Pred pred, double timeout_s) {
  const double end = now_s() + timeout_s;
  while (!pred()) {
    if (now_s() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Runs f(client, i) for i in [0, n) on `threads` threads, each with its own keep-alive client.
template <class F>
void parallel_http(const Endpoint& ep, std::size_t n, int threads, F f) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      HttpClient client(ep);
      for (std::size_t i; (i = next.fetch_add(1)) < n;) f(client, i);
    });
  for (auto& t : pool) t.join();
}

std::string fmt(double v, int prec = 0) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string size_label(std::size_t size) {
  return size % 1024 == 0 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
}

void emit(const json::object& line, const std::string& human) {
  std::cout << json::serialize(line) << "\n" << "# " << human << std::endl;
}

json::object row(const std::string& scenario, const std::string& cxg, const std::string& direct,
                 const std::string& nginx, const std::string& ratio, const std::string& target, json::value met) {
  return {{"scenario", scenario}, {"cxg", cxg}, {"direct", direct}, {"nginx", nginx},
          {"ratio", ratio},       {"target", target}, {"met", met}};
}

// ------------------------------------------------------------------------------ gateway admin

class Admin {
 public:
  explicit Admin(Setup& s) : s_(s) {}

  std::vector<std::string> new_ids(std::size_t n, const std::string& tag) {
    std::vector<std::string> ids;
    const int run = ++s_.run_counter;
    for (std::size_t i = 0; i < n; ++i)
      ids.push_back("bx-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(run) + "-" + std::to_string(i));
    return ids;
  }

  // Creates the executors for the bench user and, if `bind`, binds them to the workspace.
  void create(const std::vector<std::string>& ids, bool bind, int threads = 4) {
    std::atomic<int> bad{0};
    parallel_http(s_.gateway, ids.size(), threads, [&](HttpClient& c, std::size_t i) {
      auto r = c.request("POST", "/api/codex-exec/register", admin_headers(true),
                         json::serialize(json::object{{"exe_id", ids[i]}}));
      if (r.status != 200 && r.status != 201) ++bad;
      if (!bind) return;
      r = c.request("POST", "/api/codex-exec/workspaces/" + s_.workspace + "/executors", admin_headers(false),
                    json::serialize(json::object{{"exe_id", ids[i]}, {"name", "n-" + ids[i]}}));
      if (r.status != 201) ++bad;
    });
    if (bad) throw std::runtime_error("admin setup failed for " + std::to_string(bad.load()) + " requests");
  }

  // POST /cloud/executor/{id}/register; returns the websocket target (path + query).
  std::string register_one(HttpClient& c, const std::string& id) {
    const auto r = c.request("POST", "/cloud/executor/" + id + "/register", {{"Authorization", "Bearer " + s_.token}});
    if (r.status != 200) return {};
    const auto url = json::parse(r.body).as_object().at("url").as_string();
    const std::string_view u(url.data(), url.size());
    const auto scheme = u.find("://");
    const auto slash = u.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
    return std::string(u.substr(slash));
  }

  std::vector<std::string> register_all(const std::vector<std::string>& ids, int threads = 4) {
    std::vector<std::string> targets(ids.size());
    parallel_http(s_.gateway, ids.size(), threads,
                  [&](HttpClient& c, std::size_t i) { targets[i] = register_one(c, ids[i]); });
    for (const auto& t : targets)
      if (t.empty()) throw std::runtime_error("registration failed");
    return targets;
  }

  std::string cap() const {
    cxg::codec::CapClaims claims;
    claims.turn_id = "trn-bench-" + std::to_string(getpid()) + "-" + std::to_string(s_.run_counter);
    claims.workspace_id = s_.workspace;
    claims.iat = static_cast<std::int64_t>(std::time(nullptr));
    claims.exp = claims.iat + 3600;
    return cxg::codec::mint_cap_token(s_.cap_secret, claims);
  }

 private:
  std::vector<std::pair<std::string, std::string>> admin_headers(bool with_user) const {
    std::vector<std::pair<std::string, std::string>> h{{"X-Internal-Secret", s_.admin_secret},
                                                       {"Content-Type", "application/json"}};
    if (with_user) h.emplace_back("X-User-Id", s_.user);
    return h;
  }
  Setup& s_;
};

// Connects executors in batches (thousands of simultaneous SYNs would overflow listen backlogs
// and cost 1 s SYN retries). Returns false if some did not connect within the timeout.
bool connect_executors(World& w, const Endpoint& ep, const std::vector<std::string>& targets, int batch = 256) {
  const int base = w.executors().ready + w.executors().failed;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    w.connect_executor(ep, targets[i]);
    if ((i + 1) % batch == 0)
      wait_for([&] { return w.executors().ready + w.executors().failed - base >= static_cast<int>(i + 1) - batch / 2; }, 20);
  }
  wait_for([&] { return w.executors().ready + w.executors().failed - base >= static_cast<int>(targets.size()); }, 30);
  return w.executors().failed == 0 && w.executors().ready - base >= static_cast<int>(targets.size());
}

bool wait_bridges(World& w, int n) {
  wait_for([&] { return w.bridges().ready + w.bridges().failed >= n; }, 30);
  return w.bridges().ready >= n && w.bridges().failed == 0;
}

// Sets up one executor (gateway) or the direct server (direct, nginx) and `streams` bridges
// with one Flow each. Returns an error text, empty on success.
std::string attach(Setup& s, const Target& t, World& w, std::vector<std::unique_ptr<Flow>>& flows, int streams,
                   std::uint64_t window) {
  const std::string tag = std::to_string(getpid()) + "-" + std::to_string(s.run_counter + 1);
  for (int i = 0; i < streams; ++i) {
    flows.push_back(std::make_unique<Flow>("st-" + tag + "-" + std::to_string(i)));
    flows.back()->window = window;
  }
  Endpoint bridge_ep;
  std::string bridge_target;
  if (t.kind == Target::gateway) {
    Admin admin(s);
    const auto ids = admin.new_ids(1, "x");
    admin.create(ids, true, 1);
    const auto targets = admin.register_all(ids, 1);
    if (!connect_executors(w, s.gateway, targets)) return "executor did not connect";
    bridge_ep = s.gateway;
    bridge_target = "/bridge/" + ids[0] + "?token=" + admin.cap();
  } else {
    ++s.run_counter;
    if (!w.listen_direct(s.direct_port)) return "cannot listen on direct port " + std::to_string(s.direct_port);
    bridge_ep = t.ep;  // the direct server itself, or nginx in front of it
    bridge_target = "/direct";
  }
  for (auto& f : flows) w.connect_bridge(bridge_ep, bridge_target, f.get());
  if (!wait_bridges(w, streams))
    return "bridges: " + std::to_string(w.bridges().ready.load()) + " ready, " + std::to_string(w.bridges().failed.load()) +
           " failed (last HTTP status " + std::to_string(w.bridges().last_http_status.load()) + ")";
  return {};
}

std::vector<Target> relay_targets(const Setup& s) {
  std::vector<Target> ts;
  if (s.direct_port) ts.push_back(s.direct_target());
  if (s.direct_port)
    for (const auto& n : s.nginx) ts.push_back(n);
  if (s.gateway_pid || s.o.has("gateway")) ts.push_back(s.gateway_target());
  return ts;
}

std::uint64_t sum_received(const std::vector<std::unique_ptr<Flow>>& flows, std::size_t first = 0,
                           std::size_t last = SIZE_MAX) {
  std::uint64_t n = 0;
  for (std::size_t i = first; i < std::min(last, flows.size()); ++i) n += flows[i]->received.load();
  return n;
}

// ------------------------------------------------------------------------------ throughput

struct Rate {
  std::string error;
  double mb_s = 0, frames_s = 0, relay_cpu_s = 0, load_cpu_s = 0, seconds = 0;
  double cpu_s_per_gb() const { return mb_s > 0 ? relay_cpu_s / (mb_s * seconds / 1000.0) : 0; }
};

Rate measure_throughput(Setup& s, const Target& t, bool e2b, std::size_t size, int streams) {
  WorldConfig cfg;
  cfg.exec_mode = e2b ? ExecMode::source : ExecMode::sink;
  cfg.bridge_mode = e2b ? BridgeMode::sink : BridgeMode::source;
  cfg.payload_size = size;
  World w(cfg);
  std::vector<std::unique_ptr<Flow>> flows;
  // 4 MiB in flight per stream: well inside the gateway's 16 MiB per-bridge queue.
  const std::uint64_t window = std::max<std::uint64_t>(4, (4u << 20) / size);
  Rate r;
  r.error = attach(s, t, w, flows, streams, window);
  if (!r.error.empty()) return r;
  sleep_s(s.warmup);
  const auto f0 = sum_received(flows);
  const double c0 = cpu_seconds(t.pids), l0 = self_cpu_seconds(), t0 = now_s();
  sleep_s(s.duration);
  const auto f1 = sum_received(flows);
  const double c1 = cpu_seconds(t.pids), l1 = self_cpu_seconds(), t1 = now_s();
  const int ended = w.bridges().ended;
  w.stop();
  if (ended) r.error = std::to_string(ended) + " bridge(s) closed during the run";
  r.seconds = t1 - t0;
  r.frames_s = static_cast<double>(f1 - f0) / r.seconds;
  r.mb_s = r.frames_s * static_cast<double>(size) / 1e6;
  r.relay_cpu_s = c1 - c0;
  r.load_cpu_s = l1 - l0;
  return r;
}

json::object rate_json(const Rate& r, bool relay) {
  json::object o{{"mb_s", r.mb_s}, {"frames_s", r.frames_s}, {"load_cpu_s", r.load_cpu_s}, {"seconds", r.seconds}};
  if (relay) {
    o["relay_cpu_s"] = r.relay_cpu_s;
    o["cpu_s_per_gb"] = r.cpu_s_per_gb();
  }
  if (!r.error.empty()) o["error"] = r.error;
  return o;
}

void scenario_throughput(Setup& s) {
  const bool e2b = s.o.get("dir", "e2b") == "e2b";
  const auto size = static_cast<std::size_t>(s.o.num("size", 65536));
  const int streams = static_cast<int>(s.o.num("streams", 1));
  const std::string name = std::string("throughput ") + (e2b ? "e→b" : "b→e") + " " + size_label(size) + " ×" +
                           std::to_string(streams);
  json::object results;
  std::map<std::string, Rate> rates;
  for (const auto& t : relay_targets(s)) {
    rates[t.name] = measure_throughput(s, t, e2b, size, streams);
    results[t.name] = rate_json(rates[t.name], t.kind != Target::direct);
  }
  const auto get = [&](const std::string& n) { return rates.count(n) ? rates[n].mb_s : 0.0; };
  double nginx_best = 0;
  std::string nginx_text, human_nginx;
  for (const auto& n : s.nginx) {
    nginx_best = std::max(nginx_best, get(n.name));
    nginx_text += (nginx_text.empty() ? "" : " / ") + fmt(get(n.name)) + " (" + n.name + ")";
  }
  const double cxg = get("cxg"), direct = get("direct");
  json::object line{{"scenario", "throughput"}, {"name", name},       {"dir", e2b ? "e2b" : "b2e"},
                    {"size", size},              {"streams", streams}, {"results", results}};
  if (direct > 0) line["cxg_to_direct"] = cxg / direct;
  if (nginx_best > 0) line["cxg_to_nginx_best"] = cxg / nginx_best;
  const auto& cr = rates["cxg"];
  std::string ratio = direct > 0 ? fmt(cxg / direct, 2) + "× direct" : "";
  if (nginx_best > 0) ratio += ", " + fmt(cxg / nginx_best, 2) + "× nginx best";
  const bool big = size >= 65536;
  json::value met = nullptr;
  if (big && nginx_best > 0) met = cxg >= nginx_best;
  line["row"] = row(name, fmt(cxg) + " MB/s, " + fmt(cr.frames_s / 1000, 1) + "k fr/s, " + fmt(cr.cpu_s_per_gb(), 2) + " CPU-s/GB",
                    fmt(direct) + " MB/s", nginx_text.empty() ? "—" : nginx_text + " MB/s", ratio,
                    big ? "≥ 1.0× nginx best; CPU/GB reported" : "CPU/GB reported", met);
  std::string errors;
  for (const auto& [n, r] : rates)
    if (!r.error.empty()) errors += " [" + n + ": " + r.error + "]";
  emit(line, name + ": cxg " + fmt(cxg) + " MB/s (" + fmt(cr.frames_s) + " frames/s, " + fmt(cr.cpu_s_per_gb(), 2) +
                 " gateway CPU-s/GB), direct " + fmt(direct) + " MB/s" +
                 (nginx_text.empty() ? "" : ", nginx " + nginx_text) + "; " + ratio + errors);
}

// ------------------------------------------------------------------------------ latency

struct Latency {
  std::string error;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, rtt_s = 0;
  std::size_t samples = 0;
};

Latency measure_latency(Setup& s, const Target& t, std::size_t size, int streams) {
  WorldConfig cfg;
  cfg.exec_mode = ExecMode::echo;
  cfg.bridge_mode = BridgeMode::latency;
  cfg.payload_size = size;
  World w(cfg);
  std::vector<std::unique_ptr<Flow>> flows;
  Latency l;
  l.error = attach(s, t, w, flows, streams, 1);
  if (!l.error.empty()) return l;
  sleep_s(s.warmup);
  w.set_measuring(true);
  sleep_s(s.duration);
  w.set_measuring(false);
  w.stop();
  auto v = w.take_latency_samples();
  l.samples = v.size();
  if (v.empty()) {
    l.error = "no samples";
    return l;
  }
  std::sort(v.begin(), v.end());
  const auto pct = [&](double p) {
    return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]) / 1e3;
  };
  l.p50 = pct(0.50);
  l.p90 = pct(0.90);
  l.p99 = pct(0.99);
  l.max = static_cast<double>(v.back()) / 1e3;
  l.rtt_s = static_cast<double>(v.size()) / s.duration;
  return l;
}

void scenario_latency(Setup& s) {
  const auto size = static_cast<std::size_t>(s.o.num("size", 200));
  const int streams = static_cast<int>(s.o.num("streams", 1));
  const std::string name = "round trip " + std::to_string(size) + " B ×" + std::to_string(streams);
  json::object results;
  std::map<std::string, Latency> lat;
  for (const auto& t : relay_targets(s)) {
    const auto l = measure_latency(s, t, size, streams);
    lat[t.name] = l;
    json::object o{{"p50_us", l.p50}, {"p90_us", l.p90}, {"p99_us", l.p99}, {"max_us", l.max},
                   {"round_trips_s", l.rtt_s}, {"samples", l.samples}};
    if (!l.error.empty()) o["error"] = l.error;
    results[t.name] = o;
  }
  const auto& c = lat["cxg"];
  const auto& d = lat["direct"];
  json::object line{{"scenario", "latency"}, {"name", name}, {"size", size}, {"streams", streams}, {"results", results}};
  line["added_p50_us"] = c.p50 - d.p50;
  line["added_p99_us"] = c.p99 - d.p99;
  std::string nginx_text;
  for (const auto& n : s.nginx)
    nginx_text += (nginx_text.empty() ? "" : " / ") + fmt(lat[n.name].p50) + "/" + fmt(lat[n.name].p99) + " (" + n.name + ")";
  const auto pp = [](const Latency& l) { return fmt(l.p50) + "/" + fmt(l.p90) + "/" + fmt(l.p99) + "/" + fmt(l.max); };
  std::string target;
  json::value met = nullptr;
  if (streams == 1) {
    target = "p50 ≤ 100 µs";
    met = c.p50 <= 100;
  } else if (streams >= 64) {
    target = "p99 ≤ 2× direct";
    met = d.p99 > 0 && c.p99 <= 2 * d.p99;
  }
  line["row"] = row(name + " (p50/p90/p99/max µs)", pp(c), pp(d), nginx_text.empty() ? "—" : nginx_text + " (p50/p99)",
                    "+" + fmt(c.p50 - d.p50) + " µs p50, +" + fmt(c.p99 - d.p99) + " µs p99 over direct", target, met);
  emit(line, name + ": cxg p50/p90/p99/max " + pp(c) + " µs (" + fmt(c.rtt_s) + " rt/s), direct " + pp(d) +
                 " µs" + (nginx_text.empty() ? "" : ", nginx p50/p99 " + nginx_text) + "; added p50 " +
                 fmt(c.p50 - d.p50) + " µs, p99 " + fmt(c.p99 - d.p99) + " µs" +
                 (c.error.empty() ? "" : " [cxg: " + c.error + "]"));
}

// ------------------------------------------------------------------------------ idle

void scenario_idle(Setup& s) {
  const int n = static_cast<int>(s.o.num("executors", 10000));
  Admin admin(s);
  const auto ids = admin.new_ids(static_cast<std::size_t>(n), "i");
  const double tc = now_s();
  admin.create(ids, false, 4);
  const double t_create = now_s() - tc;
  const double tr = now_s();
  const auto targets = admin.register_all(ids, 4);
  const double t_reg = now_s() - tr;
  sleep_s(0.5);
  const long rss0 = rss_kib(s.gateway_pid);
  const int fd0 = fd_count(s.gateway_pid);
  WorldConfig cfg;
  cfg.exec_mode = ExecMode::echo;
  World w(cfg);
  const double t0 = now_s();
  const bool ok = connect_executors(w, s.gateway, targets);
  const double t_connect = now_s() - t0;
  sleep_s(std::max(1.0, s.duration));  // hold them; let the gateway settle (presence writes)
  const long rss1 = rss_kib(s.gateway_pid);
  const int fd1 = fd_count(s.gateway_pid);
  const int ended = w.executors().ended;
  const int ready = w.executors().ready;
  w.stop();
  const double per_conn = static_cast<double>(rss1 - rss0) / std::max(1, ready);
  const std::string name = "idle executors ×" + std::to_string(n);
  json::object line{{"scenario", "idle"},       {"name", name},           {"executors", n},
                    {"connected", ready},        {"ended_while_held", ended}, {"rss_before_kib", rss0},
                    {"rss_after_kib", rss1},     {"rss_per_conn_kib", per_conn}, {"fds_before", fd0},
                    {"fds_after", fd1},          {"fds_per_conn", static_cast<double>(fd1 - fd0) / std::max(1, ready)},
                    {"connect_s", t_connect},    {"admin_create_s", t_create}, {"register_s", t_reg},
                    {"connect_ok", ok}};
  line["row"] = row(name, fmt(per_conn, 1) + " KiB RSS/conn, " + std::to_string(fd1 - fd0) + " fds (+" +
                              fmt(static_cast<double>(fd1 - fd0) / std::max(1, ready), 2) + "/conn)",
                    "—", "—", "", "≤ 8 KiB RSS per idle executor", per_conn <= 8.0);
  emit(line, name + ": " + std::to_string(ready) + " connected (" + fmt(t_connect, 1) + " s), gateway RSS " +
                 std::to_string(rss0) + " → " + std::to_string(rss1) + " KiB = " + fmt(per_conn, 1) +
                 " KiB/conn, fds " + std::to_string(fd0) + " → " + std::to_string(fd1) + ", " +
                 std::to_string(ended) + " dropped while held");
}

// ------------------------------------------------------------------------------ registration

void scenario_register(Setup& s) {
  const int n = static_cast<int>(s.o.num("executors", 500));
  const int threads = static_cast<int>(s.o.num("threads", 8));
  Admin admin(s);
  const auto ids = admin.new_ids(static_cast<std::size_t>(n), "r");
  admin.create(ids, false, 4);
  std::atomic<std::uint64_t> ok{0}, bad{0};
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::vector<std::uint32_t>> lat(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      HttpClient c(s.gateway);
      auto& mine = lat[static_cast<std::size_t>(t)];
      mine.reserve(1 << 20);
      for (std::size_t i = static_cast<std::size_t>(t); !stop.load(); i += static_cast<std::size_t>(threads)) {
        const auto a = now_ns();
        const auto r = c.request("POST", "/cloud/executor/" + ids[i % ids.size()] + "/register",
                                 {{"Authorization", "Bearer " + s.token}});
        if (!measuring.load()) continue;
        if (r.status == 200) {
          ++ok;
          if (mine.size() < mine.capacity()) mine.push_back(static_cast<std::uint32_t>((now_ns() - a) / 1000));
        } else {
          ++bad;
        }
      }
    });
  sleep_s(s.warmup);
  const double c0 = cpu_seconds({s.gateway_pid}), t0 = now_s();
  measuring = true;
  sleep_s(s.duration);
  measuring = false;
  const double c1 = cpu_seconds({s.gateway_pid}), t1 = now_s();
  stop = true;
  for (auto& t : pool) t.join();
  std::vector<std::uint32_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    return all.empty() ? 0.0 : static_cast<double>(all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))]);
  };
  const double rate = static_cast<double>(ok.load()) / (t1 - t0);
  const std::string name = "registrations (static validator, SQLite, " + std::to_string(threads) + " clients)";
  json::object line{{"scenario", "register"}, {"name", name},         {"threads", threads}, {"executors", n},
                    {"ok", ok.load()},         {"errors", bad.load()}, {"per_s", rate},     {"p50_us", pct(0.5)},
                    {"p99_us", pct(0.99)},     {"gateway_cpu_s", c1 - c0}, {"seconds", t1 - t0}};
  line["row"] = row(name, fmt(rate) + "/s (p50 " + fmt(pct(0.5)) + " µs, p99 " + fmt(pct(0.99)) + " µs)", "—", "—", "",
                    "≥ 20 000/s", rate >= 20000);
  emit(line, name + ": " + fmt(rate) + " registrations/s, p50 " + fmt(pct(0.5)) + " µs, p99 " + fmt(pct(0.99)) +
                 " µs, " + std::to_string(bad.load()) + " errors, gateway CPU " + fmt((c1 - c0) / (t1 - t0) * 100) + "%");
}

// ------------------------------------------------------------------------------ isolation

struct IsolationRun {
  std::string error;
  double others_mb_s = 0;
  double closed_after_ms = -1;  // stall → executor saw the stream's Reset
  double bridge_end_ms = -1;
};

IsolationRun run_isolation(Setup& s, std::size_t size, int streams, bool stall) {
  WorldConfig cfg;
  cfg.exec_mode = ExecMode::source;
  cfg.bridge_mode = BridgeMode::sink;
  cfg.payload_size = size;
  World w(cfg);
  std::vector<std::unique_ptr<Flow>> flows;
  IsolationRun r;
  r.error = attach(s, s.gateway_target(), w, flows, streams, std::max<std::uint64_t>(4, (4u << 20) / size));
  if (!r.error.empty()) return r;
  sleep_s(s.warmup);
  Flow& victim = *flows.back();
  const auto stall_at = now_ns();
  if (stall) victim.stalled = true;
  const auto f0 = sum_received(flows, 0, flows.size() - 1);
  const double t0 = now_s();
  sleep_s(s.duration);
  const auto f1 = sum_received(flows, 0, flows.size() - 1);
  const double t1 = now_s();
  if (stall) {
    wait_for([&] { return victim.reset_at_ns.load() != 0; }, 2 * s.duration);
    if (victim.reset_at_ns) r.closed_after_ms = static_cast<double>(victim.reset_at_ns - stall_at) / 1e6;
  }
  w.stop();
  r.others_mb_s = static_cast<double>(f1 - f0) * static_cast<double>(size) / 1e6 / (t1 - t0);
  return r;
}

void scenario_isolation(Setup& s) {
  const auto size = static_cast<std::size_t>(s.o.num("size", 65536));
  const int streams = static_cast<int>(s.o.num("streams", 8));
  const auto base = run_isolation(s, size, streams, false);
  const auto stalled = run_isolation(s, size, streams, true);
  const double ratio = base.others_mb_s > 0 ? stalled.others_mb_s / base.others_mb_s : 0;
  const std::string name = "isolation: 1 of " + std::to_string(streams) + " bridges stalls (" + size_label(size) + " e→b)";
  json::object line{{"scenario", "isolation"},
                    {"name", name},
                    {"streams", streams},
                    {"size", size},
                    {"others_mb_s_baseline", base.others_mb_s},
                    {"others_mb_s_stalled", stalled.others_mb_s},
                    {"others_ratio", ratio},
                    {"stalled_closed_after_ms", stalled.closed_after_ms}};
  if (!base.error.empty() || !stalled.error.empty()) line["error"] = base.error + " " + stalled.error;
  line["row"] = row(name, fmt(ratio * 100) + " % of baseline for the other " + std::to_string(streams - 1) +
                              "; stalled bridge closed after " + fmt(stalled.closed_after_ms) + " ms",
                    "—", "—", fmt(stalled.others_mb_s) + " / " + fmt(base.others_mb_s) + " MB/s", "≥ 90 %",
                    ratio >= 0.9);
  emit(line, name + ": others " + fmt(stalled.others_mb_s) + " MB/s stalled vs " + fmt(base.others_mb_s) +
                 " MB/s baseline = " + fmt(ratio * 100) + " %; stalled bridge closed (executor got its Reset) after " +
                 fmt(stalled.closed_after_ms) + " ms" + (line.count("error") ? " [" + std::string(line["error"].as_string()) + "]" : ""));
}

// ------------------------------------------------------------------------------ fan-in

void scenario_fanin(Setup& s) {
  const int n = static_cast<int>(s.o.num("executors", 1000));
  const int streams = static_cast<int>(s.o.num("streams", 4));
  Admin admin(s);
  const auto ids = admin.new_ids(static_cast<std::size_t>(n), "f");
  const double setup_start = now_s();
  admin.create(ids, true, 4);
  const auto targets = admin.register_all(ids, 4);
  WorldConfig cfg;
  cfg.exec_mode = ExecMode::fanin;
  cfg.bridge_mode = BridgeMode::fanin;
  cfg.fanin_window = static_cast<int>(s.o.num("window", 4));
  World w(cfg);
  std::string error;
  if (!connect_executors(w, s.gateway, targets)) error = "executors did not all connect";
  std::vector<std::unique_ptr<Flow>> flows;
  const std::string cap = admin.cap();
  for (int e = 0; e < n && error.empty(); ++e)
    for (int k = 0; k < streams; ++k) {
      flows.push_back(std::make_unique<Flow>("fs-" + std::to_string(e) + "-" + std::to_string(k)));
      w.connect_bridge(s.gateway, "/bridge/" + ids[static_cast<std::size_t>(e)] + "?token=" + cap, flows.back().get());
      if (flows.size() % 256 == 0)
        wait_for([&] { return w.bridges().ready + w.bridges().failed + 128 >= static_cast<int>(flows.size()); }, 20);
    }
  if (error.empty() && !wait_bridges(w, n * streams))
    error = "bridges: " + std::to_string(w.bridges().ready.load()) + " ready, " + std::to_string(w.bridges().failed.load()) + " failed";
  const double setup_s = now_s() - setup_start;
  w.start_fanin();
  sleep_s(s.warmup);
  const auto f0 = sum_received(flows);
  const double c0 = cpu_seconds({s.gateway_pid}), t0 = now_s();
  sleep_s(s.duration);
  const auto f1 = sum_received(flows);
  const double c1 = cpu_seconds({s.gateway_pid}), t1 = now_s();
  const int ended = w.bridges().ended + w.executors().ended;
  w.stop();
  auto& be = w.to_executor_check();
  auto& eb = w.to_bridge_check();
  const auto lost = be.lost + eb.lost, dup = be.duplicated + eb.duplicated, reord = be.reordered + eb.reordered;
  const double rt_s = static_cast<double>(f1 - f0) / (t1 - t0);
  const std::string name = "fan-in " + std::to_string(n) + " executors × " + std::to_string(streams) + " streams";
  json::object line{{"scenario", "fanin"},
                    {"name", name},
                    {"executors", n},
                    {"streams", n * streams},
                    {"checked_b2e", be.checked.load()},
                    {"checked_e2b", eb.checked.load()},
                    {"lost", lost},
                    {"duplicated", dup},
                    {"reordered", reord},
                    {"echoes_per_s", rt_s},
                    {"gateway_cpu_s", c1 - c0},
                    {"setup_s", setup_s},
                    {"sockets_ended", ended}};
  if (!error.empty()) line["error"] = error;
  const bool clean = error.empty() && lost == 0 && dup == 0 && reord == 0 && ended == 0 && be.checked > 0;
  line["row"] = row(name, std::to_string(lost) + " lost / " + std::to_string(dup) + " dup / " + std::to_string(reord) +
                              " reordered of " + std::to_string(be.checked + eb.checked) + " frames (" + fmt(rt_s) +
                              " echoes/s)",
                    "—", "—", "", "0 / 0 / 0", clean);
  emit(line, name + ": " + std::to_string(be.checked.load()) + " b→e + " + std::to_string(eb.checked.load()) +
                 " e→b frames checked, lost " + std::to_string(lost) + ", duplicated " + std::to_string(dup) +
                 ", reordered " + std::to_string(reord) + ", " + fmt(rt_s) + " echoes/s, " + std::to_string(ended) +
                 " sockets ended, setup " + fmt(setup_s, 1) + " s" + (error.empty() ? "" : " [" + error + "]"));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto s = parse(argc, argv);
    const std::map<std::string, void (*)(Setup&)> scenarios{
        {"throughput", scenario_throughput}, {"latency", scenario_latency}, {"idle", scenario_idle},
        {"register", scenario_register},     {"isolation", scenario_isolation}, {"fanin", scenario_fanin}};
    const auto it = scenarios.find(s.o.scenario);
    if (it == scenarios.end()) throw std::runtime_error("unknown scenario " + s.o.scenario);
    it->second(s);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cxg-load: " << e.what() << std::endl;
    return 1;
  }
}
