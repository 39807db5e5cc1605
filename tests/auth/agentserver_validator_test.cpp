#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>

#include "auth/test_http_server.hpp"
#include "cxg/auth/validators.hpp"

namespace cxg::auth {
namespace {

using namespace std::chrono_literals;
using test_support::TestHttpServer;

Credential bearer(std::string token, std::string account = "") {
  return {Credential::Scheme::bearer, std::move(token), std::move(account)};
}

std::unique_ptr<Validator> make(const std::string& base_url, std::chrono::milliseconds timeout = 5000ms) {
  return make_agentserver_validator({.base_url = base_url, .internal_secret = "s3cret", .timeout = timeout});
}

ValidationResult validate_against(const std::string& canned_response, const Credential& credential) {
  TestHttpServer server(canned_response);
  return make(server.base_url())->validate(credential);
}

TEST(AgentserverValidator, SendsTheReferenceRequest) {  // R7
  TestHttpServer server(TestHttpServer::response(200, R"({"user_id":"u-1"})"));
  auto v = make(server.base_url() + "/");  // the trailing slash is not doubled
  EXPECT_EQ(v->name(), "agentserver");
  const auto r = v->validate(bearer("tok-1", "acct-9"));
  EXPECT_EQ(r.verdict, Verdict::accepted);
  EXPECT_EQ(r.user_id, "u-1");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.request_line, "POST /internal/codex-auth/validate HTTP/1.1");
  EXPECT_EQ(req.headers.at("x-internal-secret"), "s3cret");
  EXPECT_EQ(req.headers.at("content-type"), "application/json");
  const auto body = boost::json::parse(req.body).as_object();
  EXPECT_EQ(body.at("scheme"), "bearer");
  EXPECT_EQ(body.at("token"), "tok-1");
  EXPECT_EQ(body.at("account_id"), "acct-9");
  EXPECT_FALSE(body.contains("assertion"));
}

TEST(AgentserverValidator, SendsAgentAssertionsAsSuch) {
  TestHttpServer server(TestHttpServer::response(200, R"({"user_id":"u-2"})"));
  const auto r = make(server.base_url())->validate({Credential::Scheme::agent_assertion, "assert-1", ""});
  EXPECT_EQ(r.user_id, "u-2");
  const auto body = boost::json::parse(server.requests().at(0).body).as_object();
  EXPECT_EQ(body.at("scheme"), "agent_assertion");
  EXPECT_EQ(body.at("assertion"), "assert-1");
  EXPECT_EQ(body.at("account_id"), "");
  EXPECT_FALSE(body.contains("token"));
}

TEST(AgentserverValidator, EmptyOrMissingUserIsRejected) {  // R8
  EXPECT_EQ(validate_against(TestHttpServer::response(200, R"({"user_id":""})"), bearer("t")).verdict,
            Verdict::rejected);
  EXPECT_EQ(validate_against(TestHttpServer::response(200, R"({})"), bearer("t")).verdict, Verdict::rejected);
}

TEST(AgentserverValidator, ClientErrorsAreRejections) {  // R8
  EXPECT_EQ(validate_against(TestHttpServer::response(403, R"({"error":"no"})"), bearer("t")).verdict,
            Verdict::rejected);
  EXPECT_EQ(validate_against(TestHttpServer::response(401, ""), bearer("t")).verdict, Verdict::rejected);
}

TEST(AgentserverValidator, ServerErrorsAreOutages) {  // R8
  EXPECT_EQ(validate_against(TestHttpServer::response(500, "oops", "text/plain"), bearer("t")).verdict,
            Verdict::unavailable);
  EXPECT_EQ(validate_against(TestHttpServer::response(503, ""), bearer("t")).verdict, Verdict::unavailable);
}

TEST(AgentserverValidator, UnparsableOkIsAnOutage) {
  EXPECT_EQ(validate_against(TestHttpServer::response(200, "<html>", "text/html"), bearer("t")).verdict,
            Verdict::unavailable);
}

TEST(AgentserverValidator, RedirectIsNotFollowed) {
  const std::string redirect =
      "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n";
  EXPECT_EQ(validate_against(redirect, bearer("t")).verdict, Verdict::unavailable);
}

TEST(AgentserverValidator, TimeoutIsAnOutage) {  // R8
  TestHttpServer server("", TestHttpServer::Mode::hang);
  const auto started = std::chrono::steady_clock::now();
  const auto r = make(server.base_url(), 300ms)->validate(bearer("t"));
  EXPECT_EQ(r.verdict, Verdict::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(server.requests().size(), 1u);  // the request did arrive
}

TEST(AgentserverValidator, ConnectionErrorIsAnOutage) {  // R8
  const auto port = TestHttpServer::closed_port();
  const auto r = make("http://127.0.0.1:" + std::to_string(port))->validate(bearer("t"));
  EXPECT_EQ(r.verdict, Verdict::unavailable);
}

TEST(AgentserverValidator, MissingUrlIsAConfigurationError) { EXPECT_THROW(make(""), std::runtime_error); }

}  // namespace
}  // namespace cxg::auth
