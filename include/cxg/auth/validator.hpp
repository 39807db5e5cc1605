#pragma once
// Registration credential validators (http-api.md §3.3). Implementations may block (HTTP
// calls, file reads): they run on the API worker pool, never on an I/O thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cxg::auth {

struct Credential {
  enum class Scheme { bearer, agent_assertion };
  Scheme scheme = Scheme::bearer;
  std::string value;       // the token or assertion
  std::string account_id;  // ChatGPT-Account-ID header, "" if absent
};

enum class Verdict { accepted, rejected, unavailable };

struct ValidationResult {
  Verdict verdict = Verdict::rejected;
  std::string user_id;                        // when accepted
  std::string detail;                         // reason for logs; never contains the credential
  std::optional<std::int64_t> expires_at_s;   // credential expiry (JWT exp), caps cache life
};

class Validator {
 public:
  virtual ~Validator() = default;
  virtual ValidationResult validate(const Credential& credential) = 0;
  virtual std::string_view name() const = 0;  // "agentserver" | "static" | "jwks"
  // Whether validate() would answer from memory (a cached result, a local table) rather than
  // wait on a remote service: such registrations need not queue behind slow validator calls.
  virtual bool answers_from_memory(const Credential&) { return false; }
};

// Parses "Bearer <t>" / "AgentAssertion <a>" (scheme matched case-insensitively);
// nullopt for a missing, empty or unknown scheme.
std::optional<Credential> parse_authorization(std::string_view header_value,
                                              std::string_view account_id);

}  // namespace cxg::auth
