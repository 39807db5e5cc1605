#include "cxg/common/utf8.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "cxg/common/ids.hpp"
#include "cxg/common/log.hpp"

namespace cxg {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsUnchanged) {
  EXPECT_EQ(utf8::with_replacements("plain"), "plain");
  EXPECT_EQ(utf8::with_replacements("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(utf8::with_replacements(""), "");
}

TEST(Utf8, EachInvalidByteBecomesOneReplacementCharacter) {
  EXPECT_EQ(utf8::with_replacements("a\xFF" "b"), "a" + kReplacement + "b");
  // A truncated sequence: the lead byte and the stray continuation are replaced separately.
  EXPECT_EQ(utf8::with_replacements("\xE2\x82"), kReplacement + kReplacement);
  // Overlong '/' and a UTF-16 surrogate are not UTF-8 either.
  EXPECT_EQ(utf8::with_replacements("\xC0\xAF"), kReplacement + kReplacement);
  EXPECT_EQ(utf8::with_replacements("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);
}

TEST(Utf8, SerializeValidRepairsKeysAndNestedStrings) {
  boost::json::object o;
  o["ua\xFE"] = boost::json::array{"ok", "bad\x80"};
  o["n"] = 7;
  const std::string out = utf8::serialize_valid(o);
  EXPECT_TRUE(ids::is_valid_utf8(out));
  const auto back = boost::json::parse(out).as_object();
  EXPECT_EQ(back.at("ua" + kReplacement).as_array().at(1).as_string(), "bad" + kReplacement);
  EXPECT_EQ(back.at("n").as_int64(), 7);
}

TEST(Utf8, LogLinesAreValidUtf8EvenForRawRequestBytes) {
  testing::internal::CaptureStderr();
  log::write(log::Level::error, "odd peer", {{"user_agent", "codex\xFF\xFE/1.0"}});
  const std::string line = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(line.empty());
  EXPECT_TRUE(ids::is_valid_utf8(line));
  EXPECT_EQ(boost::json::parse(line).at("user_agent").as_string(), "codex" + kReplacement + kReplacement + "/1.0");
}

}  // namespace
}  // namespace cxg
