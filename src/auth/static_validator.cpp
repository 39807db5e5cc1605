// `static` validator (http-api.md §3.3): a file of `<token> <user_id>` lines, hot-reloaded.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "auth/outcome.hpp"
#include "auth/text_file.hpp"
#include "cxg/auth/validators.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/ids.hpp"
#include "cxg/common/log.hpp"
#include "cxg/common/result.hpp"

namespace cxg::auth {
namespace {

constexpr std::string_view kName = "static";
constexpr std::string_view kVariable = "CXG_STATIC_TOKENS_FILE";

// Only digests are kept, so a memory dump does not reveal the tokens.
struct TokenEntry {
  crypto::Digest token_digest;
  std::string user_id;
};
using TokenTable = std::vector<TokenEntry>;

// Identity of one version of the file: an edit changes mtime or size, a replacing rename
// changes the inode.
struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

Result<FileStamp, std::string> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return unexpected(path + ": " + std::strerror(errno));
  return FileStamp{st.st_dev, st.st_ino, st.st_size,
                   std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::vector<std::string_view> split_fields(std::string_view line) {
  constexpr std::string_view kSpace = " \t\r\f\v";
  std::vector<std::string_view> fields;
  std::size_t pos = line.find_first_not_of(kSpace);
  while (pos != std::string_view::npos) {
    const std::size_t end = std::min(line.find_first_of(kSpace, pos), line.size());
    fields.push_back(line.substr(pos, end - pos));
    pos = line.find_first_not_of(kSpace, end);
  }
  return fields;
}

// Errors name the line but never echo it: a malformed line is most likely a bare token.
Result<TokenTable, std::string> parse_tokens(std::string_view text) {
  TokenTable table;
  std::map<crypto::Digest, std::size_t> first_line_of;  // duplicate detection only
  std::size_t line_no = 0;
  for (std::size_t start = 0; start <= text.size(); ++line_no) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const auto fields = split_fields(text.substr(start, end - start));
    start = end + 1;
    if (fields.empty() || fields.front().starts_with('#')) continue;
    const std::string where = "line " + std::to_string(line_no + 1) + ": ";
    if (fields.size() != 2)
      return unexpected(where + "expected 2 fields '<token> <user_id>', found " +
                        std::to_string(fields.size()));
    if (!ids::is_valid_opaque_id(fields[1])) return unexpected(where + "invalid user_id");
    const crypto::Digest digest = crypto::sha256(fields[0]);
    const auto [it, inserted] = first_line_of.try_emplace(digest, line_no + 1);
    if (!inserted) return unexpected(where + "token repeated from line " + std::to_string(it->second));
    table.push_back({digest, std::string(fields[1])});
  }
  return table;
}

struct LoadedFile {
  FileStamp stamp;
  std::shared_ptr<const TokenTable> table;
};

// The stamp is taken before reading: if the file changes during the read, the next check
// sees a different stamp and reads it again.
Result<LoadedFile, std::string> load_file(const std::string& path) {
  auto stamp = stamp_of(path);
  if (!stamp) return unexpected(stamp.error());
  auto text = read_text_file(path);
  if (!text) return unexpected(text.error());
  auto table = parse_tokens(*text);
  if (!table) return unexpected(path + ": " + table.error());
  return LoadedFile{*stamp, std::make_shared<const TokenTable>(std::move(*table))};
}

// Every entry is compared, without early exit, so the time taken does not depend on which
// entry (if any) matches; comparing fixed-size digests keeps each comparison's time
// independent of the token's length too. A digest-keyed hash map would also be safe (its
// timing reveals at most bits of a digest, not of a token) but the linear scan is plainly
// constant-time, and token files are operator-edited lists sitting behind the result cache.
const std::string* find_user(const TokenTable& table, const crypto::Digest& token_digest) {
  const std::string* user = nullptr;
  for (const auto& entry : table) {
    if (crypto::constant_time_equal(crypto::as_bytes(entry.token_digest), crypto::as_bytes(token_digest)))
      user = &entry.user_id;
  }
  return user;
}

class StaticValidator final : public Validator {
 public:
  StaticValidator(StaticTokensOptions opts, const Clock& clock)
      : path_(std::move(opts.path)), recheck_interval_ms_(opts.recheck_interval.count()), clock_(clock) {
    auto loaded = load_file(path_);
    if (!loaded) throw std::runtime_error(std::string(kVariable) + ": " + loaded.error());
    last_seen_ = loaded->stamp;
    table_ = loaded->table;
    next_check_ms_ = clock_.now_unix_ms() + recheck_interval_ms_;
  }

  ValidationResult validate(const Credential& credential) override {
    if (credential.scheme != Credential::Scheme::bearer)
      return outcome::rejected(kName, credential, "static tokens accept Bearer only");
    const auto table = current_table();
    const std::string* user = find_user(*table, crypto::sha256(credential.value));
    if (!user) return outcome::rejected(kName, credential, "token not listed");
    return outcome::accepted(*user);
  }

  std::string_view name() const override { return kName; }
  // The table is in memory; a reload reads a local file at most once per interval.
  bool answers_from_memory(const Credential&) override { return true; }

 private:
  // The lock is held across a reload, which happens at most once per interval and only when
  // the file changed; other validations wait that long rather than read a half-swapped state.
  std::shared_ptr<const TokenTable> current_table() {
    std::lock_guard lock(mu_);
    const std::int64_t now = clock_.now_unix_ms();
    if (now >= next_check_ms_) {
      next_check_ms_ = now + recheck_interval_ms_;
      reload_if_changed();
    }
    return table_;
  }

  // Each change is read once, good or bad: a bad or missing file is reported once, not on
  // every check, and read again only after it changes.
  void reload_if_changed() {
    auto stamp = stamp_of(path_);
    const FileStamp seen = stamp ? *stamp : FileStamp{};  // {} stands for "cannot stat"
    if (seen == last_seen_) return;
    last_seen_ = seen;
    auto loaded = load_file(path_);
    if (!loaded) {
      log::error("static tokens reload failed; keeping the previous tokens",
                 {{"variable", kVariable}, {"problem", loaded.error()}});
      return;
    }
    table_ = loaded->table;
    log::info("static tokens reloaded", {{"variable", kVariable}, {"tokens", table_->size()}});
  }

  const std::string path_;
  const std::int64_t recheck_interval_ms_;
  const Clock& clock_;
  std::mutex mu_;
  std::shared_ptr<const TokenTable> table_;
  FileStamp last_seen_;
  std::int64_t next_check_ms_ = 0;
};

}  // namespace

std::unique_ptr<Validator> make_static_validator(StaticTokensOptions opts, const Clock& clock) {
  return std::make_unique<StaticValidator>(std::move(opts), clock);
}

}  // namespace cxg::auth
