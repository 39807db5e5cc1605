#include "cxg/server/gateway.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cxg/api/router.hpp"
#include "cxg/auth/validators.hpp"
#include "cxg/common/log.hpp"
#include "cxg/relay/hub.hpp"
#include "cxg/server/maintenance.hpp"
#include "cxg/server/presence_writer.hpp"
#include "cxg/store/sqlite_store.hpp"
#include "cxg/transport/http_server.hpp"
#include "cxg/version.hpp"

namespace cxg::server {
namespace {

using config::Config;

std::unique_ptr<store::Store> open_store(const Config& cfg) {
  if (cfg.database.kind == config::StoreKind::postgres)
    throw std::runtime_error("CXG_DATABASE_URL: PostgreSQL is not supported by this build yet");
  return store::open_sqlite_store({cfg.database.sqlite_path, cfg.database.sqlite_path != ":memory:"});
}

// With SQLite the static token file defaults to an empty 0600 file beside the database.
void ensure_static_tokens_file(const std::string& path) {
  if (std::filesystem::exists(path)) return;
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd < 0 && errno != EEXIST)
    throw std::runtime_error("CXG_STATIC_TOKENS_FILE: cannot create " + path + ": " + std::strerror(errno));
  if (fd >= 0) {
    const char header[] = "# <token> <user_id>, one per line\n";
    [[maybe_unused]] auto n = ::write(fd, header, sizeof header - 1);
    ::close(fd);
  }
  log::info("created empty static token file", {{"path", path}});
}

std::unique_ptr<auth::Validator> make_validator(const Config& cfg, const Clock& clock) {
  std::unique_ptr<auth::Validator> v;
  switch (cfg.auth_validator) {
    case config::ValidatorKind::agentserver:
      v = auth::make_agentserver_validator({cfg.agentserver_internal_url, cfg.agentserver_internal_secret});
      break;
    case config::ValidatorKind::static_tokens:
      if (cfg.database.kind == config::StoreKind::sqlite) ensure_static_tokens_file(cfg.static_tokens_file);
      // Local lookups need no cache, and a cache would keep a removed token valid past
      // the file's hot reload (R14).
      return auth::make_static_validator({cfg.static_tokens_file}, clock);
    case config::ValidatorKind::jwks:
      v = auth::make_jwks_validator({cfg.jwks_file, cfg.jwks_url, cfg.jwks_refresh, cfg.jwks_leeway,
                                     cfg.jwks_issuer, cfg.jwks_audience, cfg.jwks_user_claim},
                                    clock);
      break;
  }
  return auth::make_caching_validator(std::move(v), cfg.auth_cache_ttl, clock);
}

void log_startup(const Config& cfg) {
  for (const auto& w : cfg.warnings) log::warn(w);
  if (!cfg.generated_secrets.empty()) {
    boost::json::array names;
    for (const auto& n : cfg.generated_secrets) names.push_back(boost::json::string(n));
    log::info("generated secrets kept in cxg-secrets.env beside the database",
              {{"variables", names}, {"dir", cfg.database.sqlite_dir}});
  }
}

// SIGTERM/SIGINT are taken synchronously by sigwait on a dedicated thread: they must be
// blocked before any other thread starts so that no thread is interrupted by them.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

int run_gateway(Config cfg) {
  const sigset_t signals = block_shutdown_signals();
  log_startup(cfg);
  const Clock& clock = SystemClock::instance();

  auto store = open_store(cfg);
  auto validator = make_validator(cfg, clock);
  metrics::Registry metrics;
  metrics::declare_cxg_metrics(metrics, kVersion);
  auth::TicketIssuer ticket_issuer(cfg.ws_ticket_secret,
                                   std::chrono::duration_cast<std::chrono::seconds>(cfg.ws_ticket_ttl));
  auth::TicketReplayGuard tickets;
  api::TurnRevocations revocations(*store, clock);
  api::Readiness readiness;
  PresenceWriter presence(*store, clock, cfg.replica_id);
  relay::Hub relay({cfg.bridge_queue_bytes, cfg.stream_inflight_bytes, cfg.max_streams_per_executor}, metrics, presence);
  revocations.set_listener(&relay);
  metrics.gauge_callback("cxg_revocations", {}, [&] { return static_cast<std::int64_t>(revocations.size()); });

  store->clear_replica_presence(cfg.replica_id, clock.now_unix_ms());
  store->heartbeat_replica(cfg.replica_id, cfg.peer_url, clock.now_unix_ms());
  revocations.resync();
  readiness.revocations_loaded();

  api::Services services{cfg, clock, *store, *validator, ticket_issuer, tickets, revocations, readiness, metrics, relay};
  api::Router router(services);
  transport::ServerOptions opts;
  opts.host = cfg.listen_host;
  opts.port = cfg.listen_port;
  opts.tls_cert_file = cfg.tls_cert_file;
  opts.tls_key_file = cfg.tls_key_file;
  opts.io_threads = std::max(2u, std::thread::hardware_concurrency());
  opts.ping_interval = cfg.ping_interval;
  opts.idle_timeout = cfg.idle_timeout;
  opts.write_timeout = cfg.write_timeout;
  opts.first_frame_timeout = cfg.first_frame_timeout;
  opts.max_bridge_message_bytes = cfg.max_bridge_message_bytes;
  opts.max_executor_message_bytes = cfg.max_executor_message_bytes;
  transport::HttpServer server(opts, router, metrics, relay);
  server.start();

  Maintenance maintenance(*store, revocations, readiness, clock, cfg.replica_id, cfg.peer_url,
                          {std::chrono::milliseconds(1000), std::chrono::milliseconds(10'000),
                           std::chrono::milliseconds(60'000), cfg.revocation_prune_interval});
  maintenance.start();
  log::info("cxg listening", {{"address", cfg.listen_host}, {"port", server.port()}, {"version", kVersion},
                              {"replica_id", cfg.replica_id}, {"database", cfg.database.kind == config::StoreKind::sqlite
                                                                               ? cfg.database.sqlite_path : "postgres"}});

  const int sig = wait_signal(signals);
  log::info("shutdown requested, draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  readiness.begin_draining();
  // A second signal while draining means "now": exit 1 without waiting.
  std::thread second_signal([signals] {
    wait_signal(signals);
    log::warn("second signal during drain, exiting immediately");
    std::_Exit(1);
  });
  second_signal.detach();

  server.stop_accepting();
  relay.shutdown();
  const auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_timeout;
  if (!server.wait_idle(deadline)) log::warn("shutdown timeout reached with requests in flight");
  maintenance.stop();
  server.stop();
  presence.stop();
  try {
    store->clear_replica_presence(cfg.replica_id, clock.now_unix_ms());
  } catch (const std::exception& e) {
    log::error("presence cleanup failed", {{"error", e.what()}});
  }
  log::info("cxg stopped");
  return 0;
}

}  // namespace cxg::server
