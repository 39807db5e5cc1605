#include "cxg/codec/registration_body.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace cxg::codec {
// Readable gtest failure output.
void PrintTo(RegistrationKind k, std::ostream* os) {
  static constexpr const char* kNames[] = {"relay", "legacy_json", "noise", "invalid_body", "id_mismatch"};
  *os << kNames[static_cast<int>(k)];
}

namespace {

using K = RegistrationKind;

K classify(std::string_view body, std::string_view path_id = "exe_1") {
  return classify_registration_body(body, path_id);
}

std::string legacy_0130_body(std::string_view executor_id) {
  return R"({"idempotency_id":"codex-exec-server-)" + std::string(64, 'a') + R"(","executor_id":")" +
         std::string(executor_id) + R"(","name":"my-laptop","labels":{},"metadata":{}})";
}

TEST(RegistrationBody, EmptyOrBlankIsRelay) {
  EXPECT_EQ(classify(""), K::relay);
  EXPECT_EQ(classify("  \r\n\t "), K::relay);
}

TEST(RegistrationBody, Exact0130BodyIsLegacy) { EXPECT_EQ(classify(legacy_0130_body("exe_1")), K::legacy_json); }

TEST(RegistrationBody, IdempotencyIdIsOpaque) {
  EXPECT_EQ(classify(R"({"idempotency_id":"anything"})"), K::legacy_json);
  EXPECT_EQ(classify(R"({"idempotency_id":42})"), K::legacy_json);
  EXPECT_EQ(classify(" {\"idempotency_id\":\"x\"}\n"), K::legacy_json);
}

TEST(RegistrationBody, UnknownObjectIsRelay) {
  EXPECT_EQ(classify("{}"), K::relay);
  EXPECT_EQ(classify(R"({"name":"x","labels":{}})"), K::relay);
  EXPECT_EQ(classify(R"({"executor_id":"exe_1"})"), K::relay);
  EXPECT_EQ(classify(R"({"executor_id":null})"), K::relay);
}

TEST(RegistrationBody, SecurityProfile) {
  EXPECT_EQ(classify(R"({"security_profile":"noise-hybrid-ik","public_key":"abc"})"), K::noise);
  EXPECT_EQ(classify(R"({"security_profile":{"kind":"noise"}})"), K::noise);
  // Empty means absent.
  EXPECT_EQ(classify(R"({"security_profile":""})"), K::relay);
  EXPECT_EQ(classify(R"({"security_profile":null})"), K::relay);
  EXPECT_EQ(classify(R"({"security_profile":"","idempotency_id":"x"})"), K::legacy_json);
}

// Noise is decided first (a 501 with no state change), then the id check, then legacy.
TEST(RegistrationBody, Precedence) {
  EXPECT_EQ(classify(R"({"security_profile":"noise","executor_id":"other","idempotency_id":"x"})"), K::noise);
  EXPECT_EQ(classify(legacy_0130_body("exe_2")), K::id_mismatch);
  EXPECT_EQ(classify(R"({"executor_id":"exe_2"})"), K::id_mismatch);
}

TEST(RegistrationBody, IdMismatchForms) {
  EXPECT_EQ(classify(legacy_0130_body("exe_1"), "exe_2"), K::id_mismatch);
  EXPECT_EQ(classify(R"({"executor_id":"EXE_1"})"), K::id_mismatch);
  EXPECT_EQ(classify(R"({"executor_id":1})", "1"), K::id_mismatch);  // not a string
  EXPECT_EQ(classify(R"({"executor_id":""})"), K::id_mismatch);
}

TEST(RegistrationBody, NotAnObjectIsInvalid) {
  for (std::string_view body : {"[]", R"(["idempotency_id"])", R"("idempotency_id")", "42", "null", "true",
                                "garbage", "{", R"({"a":1}x)", R"({"a":1} {"b":2})", "\xff\xfe"})
    EXPECT_EQ(classify(body), K::invalid_body) << body;
}

struct UaCase {
  const char* ua;
  const char* version;
  const char* os;
};

class UserAgent : public ::testing::TestWithParam<UaCase> {};

TEST_P(UserAgent, Parses) {
  const UaCase& c = GetParam();
  const UserAgentInfo info = parse_user_agent(c.ua);
  EXPECT_EQ(info.codex_version, c.version) << c.ua;
  EXPECT_EQ(info.os, c.os) << c.ua;
}

INSTANTIATE_TEST_SUITE_P(
    Examples, UserAgent,
    ::testing::Values(UaCase{"codex_cli_rs/0.130.0 (Darwin 24.4.0; arm64)", "0.130.0", "Darwin"},
                      UaCase{"Codex_CLI/1.2.3-beta+x", "1.2.3-beta+x", ""},
                      UaCase{"codex/0.138.0 (Linux 6.1; x86_64)", "0.138.0", "Linux"},
                      UaCase{"CODEX_CLI_RS / 0.131.0", "0.131.0", ""},
                      UaCase{"mycodex/1.0", "", ""},          // no word boundary before codex
                      UaCase{"x_codex/1.0", "", ""},          // '_' is a word character
                      UaCase{"my-codex/1.0", "1.0", ""},      // '-' is not
                      UaCase{"codex_cli_rsx/1.0", "", ""},    // unknown suffix
                      UaCase{"codex_cli_rs/v1.0", "", ""},    // version must start with a digit
                      UaCase{"codex/abc codex/2.0", "2.0", ""},  // first *match*, not first candidate
                      UaCase{"codex/1.0_rc1;x", "1.0_rc1", ""},
                      UaCase{"curl/8.0 (( 9x; (  Windows_NT-10 )", "", "Windows_NT-10"},
                      UaCase{"foo (x86)", "", "x86"},
                      UaCase{"foo (", "", ""},
                      UaCase{"", "", ""}));

}  // namespace
}  // namespace cxg::codec
