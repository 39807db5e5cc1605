#include "cxg/common/ids.hpp"

#include <gtest/gtest.h>

#include <string>

namespace cxg::ids {
namespace {

TEST(Ids, ExeId) {
  EXPECT_TRUE(is_valid_exe_id("exe_1-A"));
  EXPECT_TRUE(is_valid_exe_id(std::string(256, 'a')));
  EXPECT_FALSE(is_valid_exe_id(std::string(257, 'a')));
  EXPECT_FALSE(is_valid_exe_id(""));
  EXPECT_FALSE(is_valid_exe_id("a.b"));
  EXPECT_FALSE(is_valid_exe_id("a b"));
  EXPECT_FALSE(is_valid_exe_id("a/b"));
}

TEST(Ids, OpaqueId) {
  EXPECT_TRUE(is_valid_opaque_id("ws 1/ä"));
  EXPECT_FALSE(is_valid_opaque_id(""));
  EXPECT_FALSE(is_valid_opaque_id("a\nb"));
  EXPECT_FALSE(is_valid_opaque_id(std::string(257, 'a')));
}

TEST(Ids, StreamId) {
  EXPECT_TRUE(is_valid_stream_id("stream-a"));
  EXPECT_TRUE(is_valid_stream_id(std::string(128, 's')));
  EXPECT_FALSE(is_valid_stream_id(std::string(129, 's')));
  EXPECT_FALSE(is_valid_stream_id(" s"));
  EXPECT_FALSE(is_valid_stream_id("s\t"));
  EXPECT_FALSE(is_valid_stream_id("\xff"));
}

TEST(Ids, Utf8) {
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
}

}  // namespace
}  // namespace cxg::ids
