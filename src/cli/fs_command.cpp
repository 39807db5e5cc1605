// `cxg fs ls|cat|get|put|mkdir|rm|stat`: file operations on an executor over one bridge
// (fs/* methods, wire-protocol §8.3). Remote paths are absolute native paths.
//
// Transfers: `put` sends files up to 16 MiB with one fs/writeFile; larger ones are streamed
// into `head -c <size>` on the executor with process/write (the bridge limit is 32 MiB per
// message) and renamed into place. `get` uses fs/readFile; when the file is too large for one
// message (the gateway closes the bridge with 1009), it falls back to reading the file in
// pieces with `tail | head` processes (see stream_get).
#include "fs_command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>

#include "bridge_client.hpp"
#include "cli_common.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"
#include "cxg/common/time_format.hpp"
#include "local_io.hpp"
#include "output_sequencer.hpp"

namespace cxg::cli {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kExitRemoteError = 1;
constexpr std::uint64_t kRpcPutMax = 16u << 20;
constexpr std::size_t kStreamChunk = 64 * 1024;
constexpr int kStreamWindow = 16;
constexpr milliseconds kTransferTimeout{600'000};
constexpr milliseconds kPoll{100};

struct FsOptions : BridgeOptions {
  std::string exe_id;
  std::vector<std::string> paths;
  bool long_format = false, json_out = false, parents = false, recursive = false, force = false;
};

std::string remote_path(const std::string& p) {
  if (p.empty() || p.front() != '/') throw CliError("remote path must be absolute: '" + p + "'", kExitUsage);
  return p;
}

std::unique_ptr<BridgeClient> open_fs(const FsOptions& o) {
  BridgeTarget t{o.resolved_url(),
                 o.exe_id,
                 resolve_cap_token(o, kExitGatewayFailure),
                 o.relay,
                 parse_duration_flag("--connect-timeout", o.connect_timeout, kExitGatewayFailure),
                 kExitGatewayFailure,
                 o.resolved_ca_file(),
                 o.insecure};
  auto br = BridgeClient::open(t, parse_duration_flag("--wait-online", o.wait_online, kExitGatewayFailure));
  br->initialize("cxg-fs");
  return br;
}

// Runs one fs/* call; a JSON-RPC error becomes "cxg: <op> <path>: <message>" and exit 1.
json::value fs_call(BridgeClient& br, const std::string& method, json::object params, const std::string& path,
                    milliseconds timeout = std::chrono::seconds(60), const std::function<void()>& tick = {}) {
  try {
    return br.call(method, std::move(params), timeout, tick);
  } catch (const RpcFailure& f) {
    throw CliError(path + ": " + f.message, kExitRemoteError);
  }
}

const json::object& as_obj(const json::value& v, const std::string& what) {
  if (!v.is_object()) throw CliError("protocol error: " + what + " returned " + json_brief(v), kExitGatewayFailure);
  return v.as_object();
}

bool flag(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_bool() && v->as_bool();
}

std::string time_field(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  if (!v || !v->is_number()) return "-";
  const auto ms = v->is_int64() ? v->as_int64() : v->is_uint64() ? static_cast<std::int64_t>(v->as_uint64())
                                                                  : static_cast<std::int64_t>(v->as_double());
  return ms > 0 ? format_rfc3339_ms(ms) : "-";
}

std::string kind_of(const json::object& m) {
  if (flag(m, "isSymlink")) return "symlink";
  if (flag(m, "isDirectory")) return "directory";
  if (flag(m, "isFile")) return "file";
  return "other";
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// ----------------------------------------------------------------------------- ls, stat

int do_ls(FsOptions& o) {
  const std::string path = remote_path(o.paths.at(0));
  auto br = open_fs(o);
  const auto res = fs_call(*br, "fs/readDirectory", {{"path", path}}, path);
  const auto* entries = as_obj(res, "fs/readDirectory").if_contains("entries");
  if (!entries || !entries->is_array()) throw CliError("protocol error: no entries in " + json_brief(res), kExitGatewayFailure);
  std::vector<json::object> list;
  for (const auto& e : entries->as_array())
    if (e.is_object()) list.push_back(e.as_object());
  auto name_of = [](const json::object& e) {
    const auto* n = e.if_contains("fileName");
    return n && n->is_string() ? std::string(n->as_string()) : std::string();
  };
  std::sort(list.begin(), list.end(), [&](const auto& a, const auto& b) { return name_of(a) < name_of(b); });
  if (o.long_format) {
    // Pipelined fs/getMetadata for every entry; answers come back in request order.
    std::vector<std::int64_t> ids;
    for (const auto& e : list) ids.push_back(br->send_request("fs/getMetadata", {{"path", join_path(path, name_of(e))}}));
    std::map<std::int64_t, json::object> meta;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (meta.size() < ids.size() && Clock::now() < deadline) {
      auto m = br->next(milliseconds(500));
      if (!m) continue;
      const auto* id = m->if_contains("id");
      const auto* r = m->if_contains("result");
      if (id && id->is_int64()) meta[id->as_int64()] = r && r->is_object() ? r->as_object() : json::object{};
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto it = meta.find(ids[i]);
      if (it == meta.end()) continue;
      for (const auto& [k, v] : it->second) list[i][k] = v;
    }
  }
  br->close();
  if (o.json_out) {
    json::array arr;
    for (auto& e : list) arr.emplace_back(std::move(e));
    std::cout << json::serialize(arr) << '\n';
    return 0;
  }
  for (const auto& e : list) {
    const std::string name = name_of(e) + (flag(e, "isDirectory") ? "/" : "");
    if (o.long_format) {
      char line[512];
      std::snprintf(line, sizeof line, "%-9s  %-24s  ", kind_of(e).c_str(), time_field(e, "modifiedAtMs").c_str());
      std::cout << line << name << '\n';
    } else {
      std::cout << name << '\n';
    }
  }
  return 0;
}

int do_stat(FsOptions& o) {
  auto br = open_fs(o);
  json::array all;
  for (const auto& p : o.paths) {
    const std::string path = remote_path(p);
    auto res = fs_call(*br, "fs/getMetadata", {{"path", path}}, path);
    json::object m = as_obj(res, "fs/getMetadata");
    if (o.json_out) {
      m["path"] = path;
      all.emplace_back(std::move(m));
      continue;
    }
    std::cout << "path:      " << path << '\n'
              << "type:      " << kind_of(m) << '\n'
              << "created:   " << time_field(m, "createdAtMs") << '\n'
              << "modified:  " << time_field(m, "modifiedAtMs") << '\n';
  }
  br->close();
  if (o.json_out) std::cout << json::serialize(all.size() == 1 ? all[0] : json::value(all)) << '\n';
  return 0;
}

int do_mkdir(FsOptions& o) {
  auto br = open_fs(o);
  for (const auto& p : o.paths) {
    const std::string path = remote_path(p);
    fs_call(*br, "fs/createDirectory", {{"path", path}, {"recursive", o.parents}}, path);
  }
  br->close();
  return 0;
}

int do_rm(FsOptions& o) {
  auto br = open_fs(o);
  for (const auto& p : o.paths) {
    const std::string path = remote_path(p);
    if (path == "/") throw CliError("refusing to remove /", kExitUsage);
    fs_call(*br, "fs/remove", {{"path", path}, {"recursive", o.recursive}, {"force", o.force}}, path);
  }
  br->close();
  return 0;
}

// ----------------------------------------------------------------------------- get, cat

// A local output: a temporary file renamed into place on success, or stdout.
class LocalSink {
 public:
  explicit LocalSink(const std::string& path) : path_(path) {
    if (path == "-") {
      fd_ = 1;
      return;
    }
    tmp_ = path + ".cxg-part-" + crypto::random_token(4);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) throw CliError("cannot write " + path + ": " + std::strerror(errno), kExitRemoteError);
  }
  ~LocalSink() {
    if (fd_ > 1) ::close(fd_);
    if (!tmp_.empty() && !committed_) ::unlink(tmp_.c_str());
  }
  void write(std::string_view data) {
    if (!write_all(fd_, data)) throw CliError("cannot write " + path_ + ": " + std::strerror(errno), kExitRemoteError);
  }
  void commit() {
    if (tmp_.empty()) return;
    if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
      fd_ = -1;
      throw CliError("cannot write " + path_ + ": " + std::strerror(errno), kExitRemoteError);
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      throw CliError("cannot rename into " + path_ + ": " + std::strerror(errno), kExitRemoteError);
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// One short process on the executor, its stdout handed to `on_stdout` in seq order.
struct RemoteRun {
  std::int64_t exit_code = -1;
  std::string stderr_text;
};
RemoteRun run_remote(BridgeClient& br, json::array argv, const std::string& path,
                     const std::function<void(std::string_view)>& on_stdout) {
  const std::string pid = "cxg-get-" + crypto::random_token(6);
  const auto start_id = br.send_request(
      "process/start", {{"processId", pid}, {"argv", std::move(argv)}, {"cwd", "/"}, {"env", json::object{}}, {"tty", false}});
  OutputSequencer seq;
  RemoteRun run;
  bool closed = false;
  AfterExitedWait after_exit;
  auto deliver = [&](const OutputSequencer::Note& n) {
    if (n.method == "process/output") {
      const auto* c = n.params.if_contains("chunk");
      const auto* s = n.params.if_contains("stream");
      if (!c || !c->is_string()) return;
      auto bytes = encoding::base64_decode(c->as_string());
      if (!bytes) return;
      if (s && s->is_string() && s->as_string() == "stderr") run.stderr_text += *bytes;
      else on_stdout(*bytes);
    } else if (n.method == "process/exited") {
      const auto* c = n.params.if_contains("exitCode");
      run.exit_code = c && c->is_int64() ? c->as_int64() : -1;
      after_exit.exited();
    } else if (n.method == "process/closed") {
      closed = true;
    }
  };
  for (;;) {
    for (auto& n : seq.ready(Clock::now(), false)) deliver(n);
    if (closed) break;
    auto m = br.next(kPoll);
    if (!m) {
      if (after_exit.quiet_poll(kPoll)) break;
      continue;
    }
    after_exit.message_arrived();
    if (!m->contains("method")) {
      const auto* id = m->if_contains("id");
      if (id && id->is_int64() && id->as_int64() == start_id && m->contains("error"))
        throw CliError(path + ": cannot start a reader on the executor: " + json_brief(m->at("error")), kExitRemoteError);
      continue;
    }
    auto n = process_notification(*m, pid);
    if (!n) continue;
    if (n->seq) seq.add(*n->seq, std::move(n->note), Clock::now());
    else if (n->note.method == "process/closed") closed = true;
  }
  for (auto& n : seq.ready(Clock::now(), true)) deliver(n);
  while (!run.stderr_text.empty() && run.stderr_text.back() == '\n') run.stderr_text.pop_back();
  return run;
}

// Streams a file too large for one fs/readFile in pieces, each read by a
// `tail -c +<offset> | head -c <n>` process on the executor. The executor writes output as
// fast as it reads it and the gateway cannot slow the executor down for one bridge, so with
// one `cat` of the whole file a reader slower than the disk overflows the bridge's queue
// (CXG_BRIDGE_QUEUE_BYTES, 16 MiB: 4106). One piece in flight (~5.6 MB of base64) never can.
void stream_get(const FsOptions& o, const std::string& path, LocalSink& sink, const std::string& label) {
  constexpr std::uint64_t kPiece = 4u << 20;
  auto br = open_fs(o);
  std::string size_line;
  auto sized = run_remote(*br, {"/bin/sh", "-c", "wc -c < \"$1\"", "cxg-get", path}, path,
                          [&](std::string_view d) { size_line += d; });
  std::uint64_t total = 0;
  try {
    total = std::stoull(size_line);
  } catch (...) {
    sized.exit_code = sized.exit_code == 0 ? -1 : sized.exit_code;
  }
  if (sized.exit_code != 0)
    throw CliError(path + ": " + (sized.stderr_text.empty() ? "cannot read the file's size on the executor" : sized.stderr_text),
                   kExitRemoteError);
  ProgressBar bar(label, total);
  std::uint64_t got = 0;
  while (got < total) {
    const std::uint64_t want = std::min(kPiece, total - got);
    std::uint64_t piece = 0;
    auto run = run_remote(*br,
                          {"/bin/sh", "-c", "tail -c +\"$2\" -- \"$1\" | head -c \"$3\"", "cxg-get", path,
                           std::to_string(got + 1), std::to_string(want)},
                          path, [&](std::string_view d) {
                            sink.write(d);
                            piece += d.size();
                            bar.update(got + piece);
                          });
    if (run.exit_code != 0)
      throw CliError(path + ": " + (run.stderr_text.empty() ? "reading failed on the executor" : run.stderr_text),
                     kExitRemoteError);
    if (piece != want) throw CliError(path + ": the file changed while it was being read", kExitRemoteError);
    got += piece;
  }
  br->close();
  bar.finish();
}

int do_get(FsOptions& o, bool to_stdout) {
  const std::string path = remote_path(o.paths.at(0));
  std::string local = "-";
  if (!to_stdout) {
    local = o.paths.size() > 1 ? o.paths[1] : path.substr(path.find_last_of('/') + 1);
    if (local.empty()) throw CliError("give a local file name for " + path, kExitUsage);
    struct stat st {};
    if (local != "-" && ::stat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) local = join_path(local, path.substr(path.find_last_of('/') + 1));
  }
  LocalSink sink(local);
  bool too_big = false;
  {
    auto br = open_fs(o);
    const auto meta = as_obj(fs_call(*br, "fs/getMetadata", {{"path", path}}, path), "fs/getMetadata");
    if (flag(meta, "isDirectory")) throw CliError(path + ": is a directory", kExitRemoteError);
    ProgressBar bar("get " + path, 0);
    try {
      const auto res = fs_call(*br, "fs/readFile", {{"path", path}}, path, kTransferTimeout,
                               [&] { bar.update(br->receiving_bytes() * 3 / 4); });
      const auto* data = as_obj(res, "fs/readFile").if_contains("dataBase64");
      if (!data || !data->is_string()) throw CliError("protocol error: no dataBase64 in fs/readFile", kExitGatewayFailure);
      auto bytes = encoding::base64_decode(data->as_string());
      if (!bytes) throw CliError("protocol error: fs/readFile returned invalid base64", kExitGatewayFailure);
      sink.write(*bytes);
      bar.update(bytes->size());
      bar.finish();
      br->close();
    } catch (const CliError& e) {
      // 1009: the answer exceeded the gateway's executor message limit; stream it instead.
      if (std::string(e.what()).find(" 1009") == std::string::npos) throw;
      too_big = true;
    }
  }
  if (too_big) stream_get(o, path, sink, "get " + path);
  sink.commit();
  return 0;
}

// ----------------------------------------------------------------------------- put

std::string read_local(const std::string& path) {
  const int fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CliError("cannot read " + path + ": " + std::strerror(errno), kExitRemoteError);
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      if (fd > 0) ::close(fd);
      throw CliError("cannot read " + path + ": " + std::strerror(err), kExitRemoteError);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  if (fd > 0) ::close(fd);
  return data;
}

// Streams `data` into `head -c <n> > tmp && mv tmp dest` on the executor.
void stream_put(BridgeClient& br, const std::string& data, const std::string& dest, ProgressBar& bar) {
  const std::string pid = "cxg-put-" + crypto::random_token(6);
  const std::string tmp = dest + ".cxg-part-" + crypto::random_token(4);
  json::array argv{"/bin/sh", "-c", "head -c \"$1\" > \"$2\" && mv -f -- \"$2\" \"$3\" || { rm -f -- \"$2\"; exit 1; }",
                   "cxg-put", std::to_string(data.size()), tmp, dest};
  const auto start_id = br.send_request("process/start", {{"processId", pid},
                                                          {"argv", std::move(argv)},
                                                          {"cwd", "/"},
                                                          {"env", json::object{}},
                                                          {"tty", false},
                                                          {"pipeStdin", true}});
  std::size_t sent = 0, acked = 0;
  std::map<std::int64_t, std::size_t> writes;  // id → bytes
  OutputSequencer seq;
  std::string err;
  std::optional<std::int64_t> exit_code;
  bool closed = false;
  AfterExitedWait after_exit;
  auto deliver = [&](const OutputSequencer::Note& n) {
    if (n.method == "process/output") {
      const auto* c = n.params.if_contains("chunk");
      if (c && c->is_string())
        if (auto b = encoding::base64_decode(c->as_string())) err += *b;
    } else if (n.method == "process/exited") {
      const auto* c = n.params.if_contains("exitCode");
      exit_code = c && c->is_int64() ? c->as_int64() : -1;
      after_exit.exited();
    } else if (n.method == "process/closed") {
      closed = true;
    }
  };
  auto last_progress = Clock::now();
  for (;;) {
    while (sent < data.size() && writes.size() < static_cast<std::size_t>(kStreamWindow) && !exit_code) {
      const std::size_t n = std::min(kStreamChunk, data.size() - sent);
      const auto id = br.send_request("process/write",
                                      {{"processId", pid}, {"chunk", encoding::base64_encode(std::string_view(data).substr(sent, n))}});
      writes[id] = n;
      sent += n;
    }
    for (auto& n : seq.ready(Clock::now(), false)) deliver(n);
    if (closed) break;
    if (Clock::now() - last_progress > std::chrono::seconds(60))
      throw CliError(dest + ": the upload stalled", kExitGatewayFailure);
    auto m = br.next(kPoll);
    if (!m) {
      if (after_exit.quiet_poll(kPoll)) break;
      continue;
    }
    after_exit.message_arrived();
    const auto* method = m->if_contains("method");
    if (!method) {
      const auto* id = m->if_contains("id");
      if (!id || !id->is_int64()) continue;
      if (id->as_int64() == start_id && m->contains("error"))
        throw CliError(dest + ": cannot start the upload on the executor: " + json_brief(m->at("error")), kExitRemoteError);
      auto it = writes.find(id->as_int64());
      if (it == writes.end()) continue;
      const auto* r = m->if_contains("result");
      const json::value* st = r && r->is_object() ? r->as_object().if_contains("status") : nullptr;
      if (!st || !st->is_string() || st->as_string() != "accepted")
        throw CliError(dest + ": upload refused by the executor: " + json_brief(*m), kExitRemoteError);
      acked += it->second;
      writes.erase(it);
      last_progress = Clock::now();
      bar.update(acked);
      continue;
    }
    auto n = process_notification(*m, pid);
    if (!n) continue;
    if (n->seq) seq.add(*n->seq, std::move(n->note), Clock::now());
    else if (n->note.method == "process/closed") closed = true;
  }
  for (auto& n : seq.ready(Clock::now(), true)) deliver(n);
  if (exit_code.value_or(-1) != 0 || acked != data.size()) {
    while (!err.empty() && err.back() == '\n') err.pop_back();
    throw CliError(dest + ": upload failed on the executor" + (err.empty() ? "" : ": " + err), kExitRemoteError);
  }
}

int do_put(FsOptions& o) {
  const std::string local = o.paths.at(0);
  std::string dest = remote_path(o.paths.at(1));
  const std::string data = read_local(local);
  auto br = open_fs(o);
  // A destination directory receives the file under its local name.
  if (local != "-") {
    try {
      const auto meta = br->call("fs/getMetadata", {{"path", dest}}, std::chrono::seconds(30));
      if (meta.is_object() && flag(meta.as_object(), "isDirectory"))
        dest = join_path(dest, local.substr(local.find_last_of('/') + 1));
    } catch (const RpcFailure&) {
      // does not exist yet: fine
    }
  }
  ProgressBar bar("put " + dest, data.size());
  if (data.size() <= kRpcPutMax) {
    const std::size_t wire = data.size() * 4 / 3 + 200;
    fs_call(*br, "fs/writeFile", {{"path", dest}, {"dataBase64", encoding::base64_encode(data)}}, dest, kTransferTimeout,
            [&] { bar.update(wire > br->pending_write_bytes() ? (wire - br->pending_write_bytes()) * 3 / 4 : 0); });
  } else {
    stream_put(*br, data, dest, bar);
  }
  bar.finish();
  br->close();
  return 0;
}

// ----------------------------------------------------------------------------- registration

void add_op(CLI::App& fs, std::shared_ptr<FsOptions> o, const char* name, const char* help, const char* args_help,
            std::size_t min_paths, std::size_t max_paths, std::function<int(FsOptions&)> run) {
  auto* cmd = fs.add_subcommand(name, help);
  add_bridge_options(*cmd, *o);
  cmd->add_option("exe_id", o->exe_id, "executor (environment) id")->required();
  auto* paths = cmd->add_option("paths", o->paths, args_help)->required();
  paths->expected(static_cast<int>(min_paths), static_cast<int>(max_paths));
  cmd->callback([o, run] { throw CLI::RuntimeError(run_reporting(kExitGatewayFailure, [&] { return run(*o); })); });
  if (std::string(name) == "ls") {
    cmd->add_flag("-l,--long", o->long_format, "type and modification time of every entry");
    cmd->add_flag("--json", o->json_out, "JSON array of the entries");
  } else if (std::string(name) == "stat") {
    cmd->add_flag("--json", o->json_out, "JSON output");
  } else if (std::string(name) == "mkdir") {
    cmd->add_flag("-p,--parents", o->parents, "create missing parent directories, no error if it exists");
  } else if (std::string(name) == "rm") {
    cmd->add_flag("-r,--recursive", o->recursive, "remove directories and their contents");
    cmd->add_flag("-f,--force", o->force, "ignore a missing path");
  }
}

}  // namespace

void add_fs_command(CLI::App& app) {
  auto* fs = app.add_subcommand("fs", "File operations on a remote executor (ls, cat, get, put, mkdir, rm, stat)");
  fs->require_subcommand(1);
  fs->footer(
      "Every operation takes the bridge options of `cxg exec` (--url, --token, --workspace, --relay…),\n"
      "then the executor id, then absolute remote paths. Exit status: 0; 1 when the executor reports an\n"
      "error (missing file…) or a local file cannot be used; 2 for usage errors; 125 when the gateway or\n"
      "the connection fails.\n"
      "\n"
      "Examples:\n"
      "  cxg fs ls -l laptop /var/log\n"
      "  cxg fs cat laptop /etc/os-release\n"
      "  cxg fs get laptop /var/log/syslog ./syslog          # progress bar on a terminal for big files\n"
      "  cxg fs put laptop ./build.tar.gz /tmp/build.tar.gz\n"
      "  cxg fs mkdir -p laptop /tmp/a/b/c && cxg fs rm -r laptop /tmp/a\n"
      "  cxg fs stat --json laptop /etc/hosts");
  auto o = std::make_shared<FsOptions>();
  add_op(*fs, o, "ls", "List a directory", "remote directory", 1, 1, do_ls);
  add_op(*fs, o, "cat", "Print a remote file on stdout", "remote file", 1, 1,
         [](FsOptions& x) { return do_get(x, true); });
  add_op(*fs, o, "get", "Download a file: get <exe_id> REMOTE [LOCAL|-]", "REMOTE [LOCAL]", 1, 2,
         [](FsOptions& x) { return do_get(x, false); });
  add_op(*fs, o, "put", "Upload a file: put <exe_id> LOCAL|- REMOTE", "LOCAL REMOTE", 2, 2, do_put);
  add_op(*fs, o, "mkdir", "Create directories", "remote directories", 1, 64, do_mkdir);
  add_op(*fs, o, "rm", "Remove files or directories", "remote paths", 1, 64, do_rm);
  add_op(*fs, o, "stat", "Show type and times of remote paths", "remote paths", 1, 64, do_stat);
}

}  // namespace cxg::cli
