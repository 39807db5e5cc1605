// Registration inputs (http-api.md §2.2, wire-protocol.md §1.2): the body classifier, the
// User-Agent metadata parser and the Authorization header parser.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "cxg/auth/validator.hpp"
#include "cxg/codec/registration_body.hpp"
#include "fuzz_common.hpp"

namespace codec = cxg::codec;

namespace {

bool is_json_blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string path_id = in.ConsumeRandomLengthString(64);
  const std::string ua = in.ConsumeRandomLengthString(512);
  const std::string authorization = in.ConsumeRandomLengthString(256);
  const std::string account = in.ConsumeRandomLengthString(64);
  const std::string body = in.ConsumeRemainingBytesAsString();

  const auto kind = codec::classify_registration_body(body, path_id);
  if (is_json_blank(body)) FUZZ_CHECK(kind == codec::RegistrationKind::relay);
  FUZZ_CHECK(codec::classify_registration_body(body, path_id) == kind);  // pure

  const auto info = codec::parse_user_agent(ua);
  if (!info.codex_version.empty()) {
    FUZZ_CHECK(is_digit(info.codex_version.front()));
    FUZZ_CHECK(ua.find(info.codex_version) != std::string::npos);
  }
  if (!info.os.empty()) {
    FUZZ_CHECK(is_alpha(info.os.front()));
    FUZZ_CHECK(ua.find("(") != std::string::npos && ua.find(info.os) != std::string::npos);
  }

  const auto cred = cxg::auth::parse_authorization(authorization, account);
  if (cred) {
    FUZZ_CHECK(!cred->value.empty());
    FUZZ_CHECK(authorization.find(cred->value) != std::string::npos);
    FUZZ_CHECK(cred->account_id == account);
  }
  return 0;
}
