#include "cxg/config/secrets_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"

namespace cxg::config {
namespace {

constexpr const char* kFileName = "cxg-secrets.env";
constexpr std::size_t kSecretBytes = 32;

// The file lives beside the database, so its I/O problems are reported against the
// variable that chose that directory.
[[noreturn]] void io_fail(const char* what, const std::string& path, int err) {
  throw ConfigError("CXG_DATABASE_URL: cannot " + std::string(what) + " " + path + ": " + std::strerror(err));
}

std::string secrets_path(const std::string& dir) {
  const std::string base = dir.empty() ? "." : dir;
  return base.back() == '/' ? base + kFileName : base + "/" + kFileName;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

struct FileText {
  std::string text;
  mode_t mode = 0;
};

// nullopt when the file does not exist; any other failure throws, because carrying on would
// generate fresh secrets and overwrite the ones that tokens were minted with.
std::optional<FileText> read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    io_fail("read", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) io_fail("read", path, errno);
  FileText file{{}, static_cast<mode_t>(st.st_mode & 07777)};
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_fail("read", path, errno);
    if (n == 0) break;
    file.text.append(buf, static_cast<std::size_t>(n));
  }
  return file;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// `VAR=value` lines; blank lines, `#` comments and lines without `=` are skipped.
std::map<std::string, std::string> parse_lines(std::string_view text) {
  std::map<std::string, std::string> entries;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const auto line = trim(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    const auto eq = line.find('=');
    if (line.empty() || line.front() == '#' || eq == std::string_view::npos) continue;
    const auto name = trim(line.substr(0, eq));
    if (!name.empty()) entries[std::string(name)] = std::string(trim(line.substr(eq + 1)));
  }
  return entries;
}

std::string render(const std::map<std::string, std::string>& entries) {
  std::string out =
      "# cxg zero-configuration secrets (generated; keep private, mode 0600).\n"
      "# Tokens minted with these values stop verifying if they change.\n";
  for (const auto& [name, value] : entries) out += name + "=" + value + "\n";
  return out;
}

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_fail("write", path, errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Writes a private temporary file beside `path` (0600 from creation on, never wider), synced.
std::string write_temp(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp-" + encoding::hex_encode(crypto::random_bytes(6));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) io_fail("write", tmp, errno);
  write_all(fd.get(), contents, tmp);
  if (::fsync(fd.get()) != 0) io_fail("write", tmp, errno);
  if (::close(fd.release()) != 0) io_fail("write", tmp, errno);
  return tmp;
}

// Makes the rename durable; best effort, because the rename itself already happened.
void sync_parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());
}

// Moves the temp file into place. A first creation uses link(), which fails if another
// process created the file meanwhile; the caller then re-reads instead of clobbering the
// secrets that process may already be using. Returns false in that case.
bool publish(const std::string& tmp, const std::string& path, bool replace) {
  if (!replace) {
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    if (rc == 0 || err == EEXIST) {
      ::unlink(tmp.c_str());
      return rc == 0;
    }
    // Filesystems without hard links: fall through to rename.
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_fail("write", path, err);
  }
  return true;
}

struct Slot {
  const char* var;
  std::string* value;
};

// The secrets this start still lacks, named as they are stored in the file.
std::vector<Slot> missing_secrets(Config& cfg) {
  std::vector<Slot> slots;
  if (cfg.captoken_hmac_secret.empty()) slots.push_back({"CXG_CAPTOKEN_HMAC_SECRET", &cfg.captoken_hmac_secret});
  if (cfg.internal_shared_secret.empty())
    slots.push_back({"CXG_INTERNAL_SHARED_SECRET", &cfg.internal_shared_secret});
  // Empty only when both CXG_WS_TICKET_SECRET and CXG_AGENTSERVER_INTERNAL_SECRET are.
  if (cfg.ws_ticket_secret.empty()) slots.push_back({"CXG_WS_TICKET_SECRET", &cfg.ws_ticket_secret});
  return slots;
}

void warn_if_not_private(const FileText& file, const std::string& path, Config& cfg) {
  if ((file.mode & 077) == 0) return;
  char mode[16];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(file.mode & 07777));
  cfg.warnings.push_back(path + ": mode " + mode + " lets other users read the secrets; expected 0600");
}

// One read-fill-publish round; false if another process created the file concurrently.
bool fill_from_file(Config& cfg, const std::vector<Slot>& slots, const std::string& path) {
  const auto file = read_file(path);
  auto entries = file ? parse_lines(file->text) : std::map<std::string, std::string>{};
  std::vector<std::string> generated;
  for (const Slot& slot : slots) {
    std::string& stored = entries[slot.var];
    if (!stored.empty()) continue;
    stored = crypto::random_token(kSecretBytes);
    generated.push_back(slot.var);
  }
  if (!generated.empty() && !publish(write_temp(path, render(entries)), path, file.has_value())) return false;
  if (!generated.empty()) sync_parent_dir(path);
  if (file) warn_if_not_private(*file, path, cfg);
  for (const Slot& slot : slots) *slot.value = entries[slot.var];
  cfg.generated_secrets = std::move(generated);
  return true;
}

// PostgreSQL: replicas must share the secrets, so none may be generated locally.
void require_shared_secrets(const Config& cfg) {
  if (cfg.captoken_hmac_secret.empty()) throw ConfigError("CXG_CAPTOKEN_HMAC_SECRET is required");
  if (cfg.internal_shared_secret.empty()) throw ConfigError("CXG_INTERNAL_SHARED_SECRET is required");
  if (cfg.ws_ticket_secret.empty()) throw ConfigError("CXG_WS_TICKET_SECRET is required");
}

}  // namespace

void ensure_secrets(Config& cfg) {
  if (cfg.database.kind == StoreKind::postgres) return require_shared_secrets(cfg);
  const auto slots = missing_secrets(cfg);
  if (slots.empty()) return;
  const std::string path = secrets_path(cfg.database.sqlite_dir);
  // A second round only happens if another process created the file between our read
  // and our publish; its values are then read back and used.
  for (int round = 0; round < 2; ++round)
    if (fill_from_file(cfg, slots, path)) return;
  throw ConfigError("CXG_DATABASE_URL: " + path + " keeps changing; another cxg process is starting");
}

std::map<std::string, std::string> read_secrets_file(const std::string& dir) {
  const auto file = read_file(secrets_path(dir));
  return file ? parse_lines(file->text) : std::map<std::string, std::string>{};
}

}  // namespace cxg::config
