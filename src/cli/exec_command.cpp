// `cxg exec`: run one command on a remote executor through the gateway (wire-protocol §8.4).
//
// Sequence: dial /bridge/<exe_id> (plain JSON-RPC, or relay v1 with --relay), initialize
// (10 s) + initialized, process/start, then print process/output notifications in seq order
// until process/closed (or 2 s without input after process/exited), forwarding local stdin with
// process/write. Exit code: the remote one (0-255, else 255); 125 for gateway, connection and
// protocol failures.
//
// Facts about the real exec-servers (0.130.0, 0.138.0) this relies on:
//  - a process's notifications share one seq counter starting at 1; they may arrive out of
//    seq order, `process/exited` may come before the last output, and the process/start
//    response may come after the first output;
//  - `process/write` cannot close a pipe: `closeStdin`, an empty chunk and similar variants
//    are accepted and ignored. With --tty, EOF is sent as ^D, which the remote pty turns into
//    end-of-file.
#include "exec_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "bridge_client.hpp"
#include "cli_common.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"
#include "local_io.hpp"
#include "output_sequencer.hpp"

namespace cxg::cli {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kExitInterrupted = 130;
constexpr int kExitTimedOut = 124;
constexpr std::size_t kStdinChunk = 64 * 1024;
constexpr int kWriteWindow = 4;  // process/write requests in flight

constexpr milliseconds kTerminateWait{5000};

struct ExecOptions : BridgeOptions {
  std::string exe_id;
  std::vector<std::string> argv;
  std::string cwd = "/";
  std::vector<std::string> env;
  bool tty = false;
  bool stdin_flag = false;
  bool no_stdin = false;
  std::string timeout;
  std::string inherit_env = "core";
};

// ----------------------------------------------------------------------------- signals, tty

std::atomic<int> g_signals{0};
struct termios g_saved_tty;
std::atomic<bool> g_tty_raw{false};

void restore_tty() {
  if (g_tty_raw.exchange(false)) ::tcsetattr(0, TCSANOW, &g_saved_tty);
}

extern "C" void on_signal(int) {
  if (g_signals.fetch_add(1) + 1 >= 2) {
    if (g_tty_raw.load()) ::tcsetattr(0, TCSANOW, &g_saved_tty);
    static const char msg[] = "\ncxg: interrupted again, exiting\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(kExitInterrupted);
  }
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
}

void make_tty_raw() {
  if (::tcgetattr(0, &g_saved_tty) != 0) return;
  struct termios raw = g_saved_tty;
  ::cfmakeraw(&raw);
  if (::tcsetattr(0, TCSANOW, &raw) == 0) g_tty_raw = true;
}

struct TtyGuard {
  ~TtyGuard() { restore_tty(); }
};

// Whether local stdin should be forwarded when neither -i nor -n is given: yes for pipes,
// sockets and non-empty files; no for a terminal, /dev/null, an empty file or a closed fd.
bool stdin_has_data_source() {
  struct stat st {};
  if (::fstat(0, &st) != 0) return false;
  if (::isatty(0)) return false;
  if (S_ISREG(st.st_mode)) return st.st_size > 0;
  if (S_ISCHR(st.st_mode)) {
    struct stat null_st {};
    if (::stat("/dev/null", &null_st) == 0 && null_st.st_rdev == st.st_rdev) return false;
    return true;
  }
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

// ----------------------------------------------------------------------------- stdin pump

// Reads local stdin on its own thread and sends it as process/write chunks of ≤ 64 KiB, at
// most kWriteWindow unanswered at a time. The main thread routes write responses here.
class StdinPump {
 public:
  StdinPump(BridgeClient& br, std::string process_id, bool eof_as_ctrl_d)
      : br_(br), pid_(std::move(process_id)), ctrl_d_(eof_as_ctrl_d) {
    if (::pipe2(wake_, O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
  }
  ~StdinPump() {
    stop();
    if (wake_[0] >= 0) ::close(wake_[0]);
    if (wake_[1] >= 0) ::close(wake_[1]);
  }

  void start() { thread_ = std::thread([this] { run(); }); }

  void stop() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
  }

  // True if `id` was one of our process/write requests.
  bool on_response(std::int64_t id, const json::object& msg) {
    std::lock_guard lk(mu_);
    auto it = chunks_.find(id);
    if (it == chunks_.end()) return false;
    std::string chunk = std::move(it->second);
    chunks_.erase(it);
    --outstanding_;
    std::string status;
    if (const auto* r = msg.if_contains("result"); r && r->is_object())
      if (const auto* s = r->as_object().if_contains("status"); s && s->is_string()) status = std::string(s->as_string());
    if (status == "starting" && !stop_) {
      // The process is not running yet: send the chunk again (requests run in order).
      const auto again = br_.send_request("process/write", json::object{{"processId", pid_}, {"chunk", chunk}});
      chunks_.emplace(again, std::move(chunk));
      ++outstanding_;
    } else if (status != "accepted") {
      remote_closed_ = true;  // stdinClosed, unknownProcess, or an error (process gone)
    }
    cv_.notify_all();
    return true;
  }

 private:
  void run() {
    std::string buf(kStdinChunk, '\0');
    char last = '\n';
    for (;;) {
      pollfd fds[2] = {{0, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      const int n = ::poll(fds, wake_[0] >= 0 ? 2 : 1, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || (fds[1].revents & POLLIN)) return;
      const ssize_t got = ::read(0, buf.data(), buf.size());
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        // A pipe cannot be closed remotely (see the file comment); a pty can be sent ^D.
        if (ctrl_d_) send(last == '\n' ? std::string("\x04") : std::string("\x04\x04"));
        return;
      }
      last = buf[static_cast<std::size_t>(got) - 1];
      if (!send(std::string(buf.data(), static_cast<std::size_t>(got)))) return;
    }
  }

  bool send(const std::string& bytes) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return stop_ || remote_closed_ || outstanding_ < kWriteWindow; });
    if (stop_ || remote_closed_) return false;
    std::string chunk = encoding::base64_encode(bytes);
    const auto id = br_.send_request("process/write", json::object{{"processId", pid_}, {"chunk", chunk}});
    chunks_.emplace(id, std::move(chunk));
    ++outstanding_;
    return true;
  }

  BridgeClient& br_;
  const std::string pid_;
  const bool ctrl_d_;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::int64_t, std::string> chunks_;  // id → base64 chunk, for "starting" retries
  int outstanding_ = 0;
  bool stop_ = false, remote_closed_ = false;
};

// ----------------------------------------------------------------------------- output

// ----------------------------------------------------------------------------- the run

json::object parse_env(const std::vector<std::string>& pairs) {
  json::object env;
  for (const auto& kv : pairs) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw CliError("--env " + kv + ": expected KEY=VALUE", kExitGatewayFailure);
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// The message of a JSON-RPC error, on one line.
std::string rpc_error_text(const json::object& msg) {
  const auto* err = msg.if_contains("error");
  std::string text = "unknown error";
  if (err) text = json_brief(*err);
  if (err && err->is_object())
    if (const auto* m = err->as_object().if_contains("message"); m && m->is_string()) text = std::string(m->as_string());
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

int map_exit_code(const json::value* code) {
  if (!code || !code->is_number()) return 255;
  std::int64_t c = 0;
  if (code->is_int64()) c = code->as_int64();
  else if (code->is_uint64()) c = static_cast<std::int64_t>(std::min<std::uint64_t>(code->as_uint64(), 1u << 30));
  else c = static_cast<std::int64_t>(code->as_double());
  return c >= 0 && c <= 255 ? static_cast<int>(c) : 255;
}

int run_exec(ExecOptions& o) {
  if (o.argv.empty()) throw CliError("no command given: cxg exec <exe_id> -- <command> [args…]", kExitGatewayFailure);
  json::object env = parse_env(o.env);
  const auto connect_timeout = parse_duration_flag("--connect-timeout", o.connect_timeout, kExitGatewayFailure);
  std::optional<milliseconds> run_timeout;
  if (!o.timeout.empty()) run_timeout = parse_duration_flag("--timeout", o.timeout, kExitGatewayFailure);
  const auto wait_online = parse_duration_flag("--wait-online", o.wait_online, kExitGatewayFailure);
  if (o.cwd.empty() || o.cwd.front() != '/')
    throw CliError("--cwd must be an absolute path on the executor", kExitGatewayFailure);

  BridgeTarget target{o.resolved_url(), o.exe_id, resolve_cap_token(o, kExitGatewayFailure), o.relay, connect_timeout,
                      kExitGatewayFailure, o.resolved_ca_file(), o.insecure};
  ::signal(SIGPIPE, SIG_IGN);
  install_signal_handlers();  // a signal before process/start just ends cxg (130)
  auto br = BridgeClient::open(target, wait_online);
  br->initialize("cxg-exec");
  if (g_signals.load() > 0) {
    br->close("interrupted");
    return kExitInterrupted;
  }

  const bool interactive_tty = o.tty && ::isatty(0) && !o.no_stdin;
  const bool forward_stdin = !o.no_stdin && (o.stdin_flag || interactive_tty || stdin_has_data_source());
  const std::string process_id = "cxg-" + crypto::random_token(9);
  json::array argv;
  for (const auto& a : o.argv) argv.emplace_back(a);
  json::object start{{"processId", process_id}, {"argv", std::move(argv)}, {"cwd", o.cwd},
                     {"env", std::move(env)},   {"tty", o.tty}};
  if (forward_stdin) start["pipeStdin"] = true;
  if (o.inherit_env != "none")
    start["envPolicy"] = json::object{{"inherit", o.inherit_env}, {"ignoreDefaultExcludes", false},
                                      {"exclude", json::array{}}, {"set", json::object{}}, {"includeOnly", json::array{}}};

  TtyGuard tty_guard;
  const std::int64_t start_id = br->send_request("process/start", std::move(start));
  if (interactive_tty) make_tty_raw();
  std::unique_ptr<StdinPump> pump;
  if (forward_stdin) {
    // In raw mode the user types ^D themselves; from a pipe or file EOF becomes ^D for a pty.
    pump = std::make_unique<StdinPump>(*br, process_id, o.tty && !interactive_tty);
    pump->start();
  }

  OutputSequencer seq;
  std::optional<int> exit_code;
  AfterExitedWait after_exit;
  bool closed = false, closed_without_seq = false, stdout_broken = false;
  bool terminate_sent = false, timed_out = false;
  Clock::time_point terminate_deadline{};
  const auto started = Clock::now();

  auto send_terminate = [&] {
    if (terminate_sent) return;
    terminate_sent = true;
    terminate_deadline = Clock::now() + kTerminateWait;
    br->send_request("process/terminate", json::object{{"processId", process_id}});
  };
  auto finish = [&](int code) {
    if (pump) pump->stop();
    restore_tty();
    br->close("cxg exec done");
    return code;
  };
  auto deliver = [&](const OutputSequencer::Note& n) {
    if (n.method == "process/output") {
      const auto* chunk = n.params.if_contains("chunk");
      const auto* stream = n.params.if_contains("stream");
      if (!chunk || !chunk->is_string()) return;
      auto bytes = encoding::base64_decode(chunk->as_string());
      if (!bytes) return;
      const bool to_stderr = stream && stream->is_string() && stream->as_string() == "stderr";
      if (!write_all(to_stderr ? 2 : 1, *bytes) && !to_stderr && !stdout_broken) {
        stdout_broken = true;  // e.g. `cxg exec … | head`: stop the remote command
        send_terminate();
      }
    } else if (n.method == "process/exited") {
      exit_code = map_exit_code(n.params.if_contains("exitCode"));
      after_exit.exited();
    } else if (n.method == "process/closed") {
      closed = true;
    }
  };

  try {
    for (;;) {
      const auto now = Clock::now();
      if (g_signals.load() > 0 && !terminate_sent) send_terminate();
      if (run_timeout && !terminate_sent && now - started >= *run_timeout) {
        timed_out = true;
        std::cerr << "cxg: --timeout " << o.timeout << " elapsed; terminating the remote process\n";
        send_terminate();
      }
      for (auto& n : seq.ready(now, closed_without_seq)) deliver(n);
      if (closed) break;
      if (terminate_sent && now >= terminate_deadline && !exit_code) {
        restore_tty();
        std::cerr << "cxg: the remote process did not exit within 5 s of process/terminate\n";
        return finish(timed_out ? kExitTimedOut : kExitInterrupted);
      }
      const milliseconds poll(seq.has_pending() || closed_without_seq ? 20 : 100);
      auto msg = br->next(poll);
      if (!msg) {
        if (after_exit.quiet_poll(poll)) {
          for (auto& n : seq.ready(Clock::now(), true)) deliver(n);
          break;
        }
        continue;
      }
      after_exit.message_arrived();
      const auto* method = msg->if_contains("method");
      if (!method) {
        const auto* idv = msg->if_contains("id");
        if (!idv || !idv->is_int64()) continue;
        const std::int64_t id = idv->as_int64();
        if (pump && pump->on_response(id, *msg)) continue;
        if (id == start_id && msg->contains("error")) {
          const std::string text = rpc_error_text(*msg);
          restore_tty();
          std::cerr << "cxg: cannot start " << o.argv.front() << " on " << o.exe_id << ": " << text << '\n';
          const bool not_found = text.find("No such file") != std::string::npos ||
                                 text.find("not found") != std::string::npos ||
                                 text.find("Unable to resolve") != std::string::npos;
          return finish(not_found ? 127 : 126);
        }
        continue;
      }
      auto n = process_notification(*msg, process_id);
      if (!n) continue;
      if (n->seq) {
        seq.add(*n->seq, std::move(n->note), Clock::now());
      } else if (n->note.method == "process/closed") {
        closed_without_seq = true;  // deliver everything pending, then stop
      } else {
        deliver(n->note);
      }
    }
  } catch (const CliError&) {
    if (pump) pump->stop();
    restore_tty();
    throw;
  }
  const int code = finish(exit_code.value_or(255));
  if (timed_out) return kExitTimedOut;
  if (!exit_code) {
    std::cerr << "cxg: the remote process ended without reporting an exit code\n";
  }
  return code;
}

}  // namespace

void add_exec_command(CLI::App& app) {
  auto o = std::make_shared<ExecOptions>();
  auto* cmd = app.add_subcommand("exec", "Run a command on a remote executor and stream its output");
  add_bridge_options(*cmd, *o);
  cmd->add_option("--cwd", o->cwd, "working directory on the executor (absolute, default /)");
  cmd->add_option("-e,--env", o->env, "environment variable for the command, KEY=VALUE (repeatable)")->allow_extra_args(false);
  cmd->add_flag("-t,--tty", o->tty, "run the command in a pseudo-terminal (stdout and stderr merge; a local "
                                    "terminal is put in raw mode)");
  cmd->add_flag("-i,--stdin", o->stdin_flag, "forward local stdin even when it is a terminal");
  cmd->add_flag("-n,--no-stdin", o->no_stdin, "never forward local stdin");
  cmd->add_option("--inherit-env", o->inherit_env,
                  "environment the executor adds below --env: core (PATH, HOME, LANG, SHELL, USER…; default), "
                  "all (the exec-server's whole environment) or none")
      ->check(CLI::IsMember({"core", "all", "none"}));
  cmd->add_option("--timeout", o->timeout, "terminate the remote command after this long (exit 124)");
  cmd->add_option("exe_id", o->exe_id, "executor (environment) id")->required();
  cmd->add_option("command", o->argv, "the command and its arguments, after --")->required();
  cmd->footer(
      "Exit status: the remote command's (0-255; 255 for anything else); 125 when the gateway,\n"
      "the connection or the protocol fails (the reason is printed on stderr); 124 after --timeout;\n"
      "130 on a second Ctrl-C (the first one asks the executor to terminate the command).\n"
      "Stdin is forwarded when it is a pipe or a non-empty file (or with -i). The exec-server cannot\n"
      "close a remote pipe, so a command that reads its stdin to the end only sees EOF with --tty.\n"
      "\n"
      "Examples:\n"
      "  cxg exec laptop -- uname -a\n"
      "  cxg exec --workspace ws-1 laptop -- sh -c 'echo $HOME; exit 3'     # token minted locally\n"
      "  CXG_URL=https://gw.example CODEX_EXEC_GATEWAY_TOKEN=$CAP cxg exec laptop -- ls -la /tmp\n"
      "  cxg exec --cwd /srv --env RUST_LOG=debug laptop -- ./run.sh\n"
      "  cxg exec -t laptop -- bash                                          # interactive shell\n"
      "  printf 'a\\nb\\n' | cxg exec -t laptop -- sort                         # stdin, EOF as ^D");
  cmd->callback([o] {
    throw CLI::RuntimeError(run_reporting(kExitGatewayFailure, [&] { return run_exec(*o); }));
  });
}

}  // namespace cxg::cli
