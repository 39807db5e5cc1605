// The `static` validator's token file (http-api.md §3.3): `<token> <user_id>` lines, `#`
// comments, blank lines. The parser is only reachable through the file, so each input is
// written to a private temporary file and loaded by make_static_validator(); a reference
// parser written here from the spec then checks the outcome: a file with a bad line is
// refused, and every listed token validates to its user.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "cxg/auth/validators.hpp"
#include "cxg/common/clock.hpp"
#include "cxg/common/ids.hpp"
#include "fuzz_common.hpp"

namespace auth = cxg::auth;

namespace {

std::string g_path;

void write_file(const std::string& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::vector<std::string> split_fields(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// nullopt: the file must be refused.
std::optional<std::map<std::string, std::string>> reference_parse(std::string_view text) {
  std::map<std::string, std::string> tokens;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const auto fields = split_fields(text.substr(start, end - start));
    start = end + 1;
    if (fields.empty() || fields[0][0] == '#') continue;
    if (fields.size() != 2 || !cxg::ids::is_valid_opaque_id(fields[1])) return std::nullopt;
    if (!tokens.emplace(fields[0], fields[1]).second) return std::nullopt;  // repeated token
  }
  return tokens;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  const char* dir = std::getenv("TMPDIR");
  g_path = std::string(dir && *dir ? dir : "/tmp") + "/cxg-fuzz-tokens-" + std::to_string(::getpid());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = cxg::fuzz::as_view(data, size);
  write_file(g_path, text);
  const auto expected = reference_parse(text);
  cxg::ManualClock clock;
  std::unique_ptr<auth::Validator> v;
  try {
    v = auth::make_static_validator({g_path, std::chrono::milliseconds(5000)}, clock);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    FUZZ_CHECK(what.starts_with("CXG_STATIC_TOKENS_FILE: "));
    // Errors name the line, never echo it (a malformed line is most likely a bare token).
    if (expected) for (const auto& [token, user] : *expected) FUZZ_CHECK(token.size() < 6 || what.find(token) == std::string::npos);
    FUZZ_CHECK(!expected);
    std::remove(g_path.c_str());
    return 0;
  }
  std::remove(g_path.c_str());
  FUZZ_CHECK(expected.has_value());
  for (const auto& [token, user] : *expected) {
    const auto r = v->validate({auth::Credential::Scheme::bearer, token, ""});
    FUZZ_CHECK(r.verdict == auth::Verdict::accepted && r.user_id == user);
    FUZZ_CHECK(r.detail.find(token) == std::string::npos || token.size() < 6);
    const auto assertion = v->validate({auth::Credential::Scheme::agent_assertion, token, ""});
    FUZZ_CHECK(assertion.verdict == auth::Verdict::rejected);
  }
  const auto unknown = v->validate({auth::Credential::Scheme::bearer, "not-a-listed-token-\x01", ""});
  FUZZ_CHECK(unknown.verdict == auth::Verdict::rejected);
  return 0;
}
