// Capability tokens (http-api.md §3.2): verify_cap_token on fuzzed tokens, on tokens signed
// over fuzzed header/payload JSON (so the claim parsing behind the signature is reached),
// the mint/verify round trip of fuzzed claims, and the strict base64url the tokens rely on.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "cxg/codec/cap_token.hpp"
#include "cxg/common/crypto.hpp"
#include "cxg/common/encoding.hpp"
#include "cxg/common/ids.hpp"
#include "fuzz_common.hpp"

namespace codec = cxg::codec;
namespace crypto = cxg::crypto;
namespace encoding = cxg::encoding;

namespace {

constexpr std::string_view kKey = "cap-key";

void check_base64(std::string_view raw) {
  // Strict unpadded base64url: exactly one textual form per byte string.
  if (const auto decoded = encoding::base64url_decode(raw)) FUZZ_CHECK(encoding::base64url_encode(*decoded) == raw);
  FUZZ_CHECK(encoding::base64url_decode(encoding::base64url_encode(raw)) == std::string(raw));
  if (const auto decoded = encoding::base64_decode(raw)) FUZZ_CHECK(encoding::base64_encode(*decoded) == raw);
  FUZZ_CHECK(encoding::base64_decode(encoding::base64_encode(raw)) == std::string(raw));
}

void check_claims_of_valid_token(const codec::CapClaims& c, std::int64_t now) {
  FUZZ_CHECK(!c.turn_id.empty() && !c.workspace_id.empty());
  FUZZ_CHECK(now <= c.exp);
}

void check_signed_json(FuzzedDataProvider& in, std::int64_t now) {
  const std::string header = in.ConsumeBool() ? std::string(R"({"alg":"HS256","typ":"CXG"})") : in.ConsumeRandomLengthString(128);
  const std::string payload = in.ConsumeRandomLengthString(1024);
  std::string token = encoding::base64url_encode(header) + "." + encoding::base64url_encode(payload);
  token += "." + encoding::base64url_encode(crypto::as_bytes(crypto::hmac_sha256(kKey, token)));
  const auto v = codec::verify_cap_token(kKey, token, now);
  if (v) check_claims_of_valid_token(*v, now);
  else FUZZ_CHECK(v.error().error != codec::CapTokenError::bad_signature && v.error().detail != nullptr);
}

void check_round_trip(FuzzedDataProvider& in) {
  codec::CapClaims c;
  c.turn_id = in.ConsumeRandomLengthString(64);
  c.workspace_id = in.ConsumeRandomLengthString(64);
  c.user_id = in.ConsumeRandomLengthString(64);
  c.iat = in.ConsumeIntegral<std::int64_t>();
  c.exp = in.ConsumeIntegral<std::int64_t>();
  c.skip_audit = in.ConsumeBool();
  std::int64_t at = in.ConsumeIntegral<std::int64_t>();
  if (in.ConsumeBool() && c.exp > INT64_MIN && c.exp < INT64_MAX) at = c.exp + in.ConsumeIntegralInRange<std::int64_t>(-1, 1);
  const std::string token = codec::mint_cap_token(kKey, c);
  const auto v = codec::verify_cap_token(kKey, token, at);
  const bool utf8 = cxg::ids::is_valid_utf8(c.turn_id) && cxg::ids::is_valid_utf8(c.workspace_id) &&
                    cxg::ids::is_valid_utf8(c.user_id);
  if (!utf8 || c.turn_id.empty() || c.workspace_id.empty()) {
    FUZZ_CHECK(!v && v.error().error == codec::CapTokenError::malformed);
    return;
  }
  if (at > c.exp) {
    FUZZ_CHECK(!v && v.error().error == codec::CapTokenError::expired);  // exp == now is still valid
    return;
  }
  FUZZ_CHECK(v.ok());
  FUZZ_CHECK(v->turn_id == c.turn_id && v->workspace_id == c.workspace_id && v->user_id == c.user_id);
  FUZZ_CHECK(v->iat == c.iat && v->exp == c.exp && v->skip_audit == c.skip_audit);
  // Another key is a bad signature.
  const auto other = codec::verify_cap_token("other-key", token, at);
  FUZZ_CHECK(!other && other.error().error == codec::CapTokenError::bad_signature);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw = cxg::fuzz::as_view(data, size);
  constexpr std::int64_t kNow = 1'700'000'000;
  check_base64(raw);
  const auto v = codec::verify_cap_token(kKey, raw, kNow);
  if (v) check_claims_of_valid_token(*v, kNow);
  else FUZZ_CHECK(codec::to_string(v.error().error) != nullptr);

  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) check_signed_json(in, kNow);
  else check_round_trip(in);
  return 0;
}
