// `agentserver` validator (http-api.md §3.3): asks the agentserver's internal endpoint.
#include <boost/json.hpp>
#include <stdexcept>

#include "auth/http_client.hpp"
#include "auth/outcome.hpp"
#include "cxg/auth/validators.hpp"

namespace cxg::auth {
namespace {

namespace json = boost::json;
constexpr std::string_view kName = "agentserver";
constexpr std::size_t kMaxResponseBytes = 64 * 1024;

std::string validate_url(std::string base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  return base_url + "/internal/codex-auth/validate";
}

std::string request_body(const Credential& credential) {
  json::object body;
  if (credential.scheme == Credential::Scheme::bearer) {
    body["scheme"] = "bearer";
    body["token"] = credential.value;
  } else {
    body["scheme"] = "agent_assertion";
    body["assertion"] = credential.value;
  }
  body["account_id"] = credential.account_id;
  return json::serialize(body);
}

class AgentserverValidator final : public Validator {
 public:
  explicit AgentserverValidator(AgentserverOptions opts)
      : url_(validate_url(std::move(opts.base_url))),
        secret_header_("X-Internal-Secret: " + opts.internal_secret),
        timeout_(opts.timeout) {}

  ValidationResult validate(const Credential& credential) override {
    http::Request request{.url = url_,
                          .headers = {"Content-Type: application/json", secret_header_},
                          .post = true,
                          .body = request_body(credential),
                          .timeout = timeout_,
                          .max_response_bytes = kMaxResponseBytes};
    auto response = http::perform(request);
    if (!response) return outcome::unavailable(kName, credential, "request failed: " + response.error());
    return interpret(*response, credential);
  }

  std::string_view name() const override { return kName; }

 private:
  // 4xx is the agentserver saying no; everything else that is not a clean 200 means we could
  // not get an answer (R8: 503, not 401).
  static ValidationResult interpret(const http::Response& response, const Credential& credential) {
    const long status = response.status;
    if (status >= 400 && status < 500)
      return outcome::rejected(kName, credential, "agentserver answered " + std::to_string(status));
    if (status != 200)
      return outcome::unavailable(kName, credential, "agentserver answered " + std::to_string(status));
    return interpret_ok_body(response.body, credential);
  }

  static ValidationResult interpret_ok_body(const std::string& body, const Credential& credential) {
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    if (ec || !doc.is_object())
      return outcome::unavailable(kName, credential, "agentserver 200 body is not a JSON object");
    const json::value* user = doc.as_object().if_contains("user_id");
    if (!user || user->is_null())
      return outcome::rejected(kName, credential, "agentserver 200 without user_id");
    // A non-string user_id is a broken agentserver, not a verdict on the credential.
    if (!user->is_string())
      return outcome::unavailable(kName, credential, "agentserver user_id is not a string");
    if (user->as_string().empty())
      return outcome::rejected(kName, credential, "agentserver 200 with empty user_id");
    return outcome::accepted(std::string(user->as_string()));
  }

  const std::string url_;
  const std::string secret_header_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<Validator> make_agentserver_validator(AgentserverOptions opts) {
  if (opts.base_url.empty())
    throw std::runtime_error("CXG_AGENTSERVER_INTERNAL_URL: required by the agentserver validator");
  // The secret goes verbatim into a header line; a line break would split the request.
  if (opts.internal_secret.find_first_of("\r\n") != std::string::npos)
    throw std::runtime_error("CXG_AGENTSERVER_INTERNAL_SECRET: contains a line break");
  return std::make_unique<AgentserverValidator>(std::move(opts));
}

}  // namespace cxg::auth
