#pragma once
// Builders of ValidationResult shared by the validators. Each failure is logged here with its
// cause and a fingerprint of the credential (never the credential itself), so the HTTP layer
// can answer a bare 401/503 while the log says why.
#include <string>
#include <string_view>

#include "cxg/auth/validator.hpp"

namespace cxg::auth::outcome {

ValidationResult accepted(std::string user_id, std::optional<std::int64_t> expires_at_s = {});
ValidationResult rejected(std::string_view validator, const Credential& credential, std::string detail);
ValidationResult unavailable(std::string_view validator, const Credential& credential, std::string detail);

}  // namespace cxg::auth::outcome
