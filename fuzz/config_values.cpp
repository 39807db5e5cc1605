// Configuration value formats (http-api.md §5): durations (`250ms`, `1h30m`, `0`), sizes
// (bytes with KiB/MiB/GiB) and booleans, on raw text and as a round trip of values written
// in the documented syntax, against 128-bit arithmetic for the overflow edges.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "cxg/config/values.hpp"
#include "fuzz_common.hpp"

namespace config = cxg::config;

namespace {

constexpr __int128 kI64Max = INT64_MAX;
constexpr unsigned __int128 kU64Max = UINT64_MAX;

void check_raw(std::string_view text) {
  if (const auto d = config::parse_duration(text)) {
    FUZZ_CHECK(d->count() >= 0);
    FUZZ_CHECK(!text.empty() && text.find_first_not_of("0123456789hms") == std::string_view::npos);
  }
  if (const auto n = config::parse_size(text)) FUZZ_CHECK(!text.empty() && text[0] >= '0' && text[0] <= '9');
  if (const auto b = config::parse_bool(text)) FUZZ_CHECK(text.size() >= 1 && text.size() <= 5);
}

void check_duration(FuzzedDataProvider& in) {
  // Each unit at most once, in descending order (h, m, s, ms), each one optional.
  static constexpr const char* kUnits[] = {"h", "m", "s", "ms"};
  static constexpr std::int64_t kMs[] = {3'600'000, 60'000, 1'000, 1};
  std::string text;
  unsigned __int128 total = 0;
  bool any = false;
  for (int i = 0; i < 4; ++i) {
    if (!in.ConsumeBool()) continue;
    const auto n = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint64_t>(0, 5000) : in.ConsumeIntegral<std::uint64_t>();
    std::string digits = std::to_string(n);
    if (in.ConsumeBool()) digits = "00" + digits;  // leading zeros are digits too
    text += digits + kUnits[i];
    total += static_cast<unsigned __int128>(n) * kMs[i];
    any = true;
  }
  const auto d = config::parse_duration(text);
  if (!any) {
    FUZZ_CHECK(!d);
    return;
  }
  if (total > static_cast<unsigned __int128>(kI64Max)) FUZZ_CHECK(!d);
  else FUZZ_CHECK(d && static_cast<unsigned __int128>(d->count()) == total);
  // Out of order or repeated units are refused.
  if (d && text.size() < 200) FUZZ_CHECK(!config::parse_duration(text + "5h"));
}

void check_size(FuzzedDataProvider& in) {
  static constexpr const char* kSuffix[] = {"", "KiB", "MiB", "GiB"};
  static constexpr unsigned kShift[] = {0, 10, 20, 30};
  const int i = in.ConsumeIntegralInRange(0, 3);
  const auto n = in.ConsumeIntegral<std::uint64_t>();
  const auto v = config::parse_size(std::to_string(n) + kSuffix[i]);
  const unsigned __int128 expected = static_cast<unsigned __int128>(n) << kShift[i];
  if (expected > kU64Max) FUZZ_CHECK(!v);
  else FUZZ_CHECK(v && *v == static_cast<std::uint64_t>(expected));
  FUZZ_CHECK(!config::parse_size(std::to_string(n) + " " + kSuffix[i] + "x"));
  FUZZ_CHECK(!config::parse_size("-" + std::to_string(n)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_raw(cxg::fuzz::as_view(data, size));
  FuzzedDataProvider in(data, size);
  check_duration(in);
  check_size(in);
  return 0;
}
