#include "auth/outcome.hpp"

#include "cxg/common/crypto.hpp"
#include "cxg/common/log.hpp"

namespace cxg::auth::outcome {
namespace {

ValidationResult failure(Verdict verdict, log::Level level, std::string_view validator,
                         const Credential& credential, std::string detail) {
  log::write(level, verdict == Verdict::rejected ? "credential rejected" : "validator unavailable",
             {{"validator", validator},
              {"cause", detail},
              {"credential_fp", crypto::fingerprint(credential.value)}});
  ValidationResult result;
  result.verdict = verdict;
  result.detail = std::move(detail);
  return result;
}

}  // namespace

ValidationResult accepted(std::string user_id, std::optional<std::int64_t> expires_at_s) {
  ValidationResult result;
  result.verdict = Verdict::accepted;
  result.user_id = std::move(user_id);
  result.expires_at_s = expires_at_s;
  return result;
}

// Rejections are routine (bad or stale tokens) and only informative; outages need attention.
ValidationResult rejected(std::string_view validator, const Credential& credential, std::string detail) {
  return failure(Verdict::rejected, log::Level::info, validator, credential, std::move(detail));
}

ValidationResult unavailable(std::string_view validator, const Credential& credential, std::string detail) {
  return failure(Verdict::unavailable, log::Level::warn, validator, credential, std::move(detail));
}

}  // namespace cxg::auth::outcome
