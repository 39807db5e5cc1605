#include "cxg/config/values.hpp"

#include <gtest/gtest.h>

namespace cxg::config {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(ParseDuration, SingleUnits) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30s));
  EXPECT_EQ(parse_duration("5m"), milliseconds(5min));
  EXPECT_EQ(parse_duration("24h"), milliseconds(24h));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("0"), milliseconds(0));
}

TEST(ParseDuration, Combined) {
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(90min));
  EXPECT_EQ(parse_duration("1m30s"), milliseconds(90s));
  EXPECT_EQ(parse_duration("1h2m3s4ms"), milliseconds(1h + 2min + 3s + 4ms));
  EXPECT_EQ(parse_duration("2s500ms"), milliseconds(2500));
  EXPECT_EQ(parse_duration("90m"), milliseconds(90min));  // a unit may exceed the next larger one
}

TEST(ParseDuration, Rejects) {
  for (std::string_view bad : {"", "abc", "30", "00", "-5s", "+5s", "5", "5x", "5 s", " 5s", "5s ", "1.5h", "s",
                               "30m1h",     // ascending
                               "1s1s",      // repeated
                               "1ms1s",     // ms before s
                               "1h30m30m",  // repeated after others
                               "5us", "5ns", "5S", "5H", "1h30"})
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
}

TEST(ParseDuration, Overflow) {
  EXPECT_FALSE(parse_duration("9223372036854775808ms").has_value());
  EXPECT_EQ(parse_duration("9223372036854775807ms"), milliseconds(INT64_MAX));
  EXPECT_FALSE(parse_duration("2562047788016h").has_value());  // product > int64
  EXPECT_FALSE(parse_duration("99999999999999999999999s").has_value());  // number > uint64
  EXPECT_FALSE(parse_duration("2562047788015h12m55s808ms").has_value());  // sum > int64
  EXPECT_EQ(parse_duration("2562047788015h12m55s807ms"), milliseconds(INT64_MAX));
}

TEST(ParseSize, Forms) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("65536"), 65536u);
  EXPECT_EQ(parse_size("64KiB"), 64u << 10);
  EXPECT_EQ(parse_size("16MiB"), 16u << 20);
  EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
}

TEST(ParseSize, Rejects) {
  for (std::string_view bad : {"", "MiB", "-1", "16 MiB", "16mib", "16MB", "16M", "16KB", "1.5MiB", "16MiBx", "x",
                               "18446744073709551616", "17179869184GiB"})
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
}

TEST(ParseBool, Forms) {
  for (std::string_view t : {"1", "true", "TRUE", "True", "yes", "YES", "on", "On"}) EXPECT_EQ(parse_bool(t), true) << t;
  for (std::string_view f : {"0", "false", "False", "no", "NO", "off", "OFF"}) EXPECT_EQ(parse_bool(f), false) << f;
  for (std::string_view bad : {"", "2", "y", "n", "enabled", " true", "true "})
    EXPECT_FALSE(parse_bool(bad).has_value()) << bad;
}

}  // namespace
}  // namespace cxg::config
