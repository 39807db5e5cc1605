#include "cxg/config/values.hpp"

#include <array>
#include <limits>

namespace cxg::config {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Consumes a run of decimal digits at the front of `text`; nullopt if there is none or it
// overflows uint64.
std::optional<std::uint64_t> take_number(std::string_view& text) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    const unsigned digit = static_cast<unsigned>(text[i] - '0');
    if (value > (kU64Max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (i == 0) return std::nullopt;
  text.remove_prefix(i);
  return value;
}

struct DurationUnit {
  std::string_view name;
  std::int64_t ms;
  int rank;  // a duration lists its units by increasing rank, each at most once
};
constexpr std::array<DurationUnit, 4> kDurationUnits{{{"h", 3'600'000, 0}, {"m", 60'000, 1}, {"s", 1'000, 2}, {"ms", 1, 3}}};

// Matches the unit at the front of `text` and consumes it. The longest name wins, so "5ms"
// is five milliseconds, not five minutes followed by garbage.
const DurationUnit* take_unit(std::string_view& text) {
  const DurationUnit* best = nullptr;
  for (const auto& u : kDurationUnits)
    if (text.starts_with(u.name) && (!best || u.name.size() > best->name.size())) best = &u;
  if (best) text.remove_prefix(best->name.size());
  return best;
}

std::optional<std::int64_t> checked_add_product(std::int64_t total, std::uint64_t n, std::int64_t unit_ms) {
  const auto unit = static_cast<std::uint64_t>(unit_ms);
  if (n > static_cast<std::uint64_t>(kI64Max) / unit) return std::nullopt;
  const auto add = static_cast<std::int64_t>(n * unit);
  if (add > kI64Max - total) return std::nullopt;
  return total + add;
}

std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > kU64Max / b) return std::nullopt;
  return a * b;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_nocase(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower_b[i]) return false;
  return true;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);  // the one unit-less value
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  int next_rank = 0;  // smallest rank the next unit may have
  while (!text.empty()) {
    const auto n = take_number(text);
    if (!n) return std::nullopt;
    const DurationUnit* unit = take_unit(text);
    if (!unit || unit->rank < next_rank) return std::nullopt;
    next_rank = unit->rank + 1;
    const auto sum = checked_add_product(total, *n, unit->ms);
    if (!sum) return std::nullopt;
    total = *sum;
  }
  return std::chrono::milliseconds(total);
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const auto n = take_number(text);
  if (!n) return std::nullopt;
  if (text.empty()) return n;
  if (text == "KiB") return checked_mul(*n, 1ull << 10);
  if (text == "MiB") return checked_mul(*n, 1ull << 20);
  if (text == "GiB") return checked_mul(*n, 1ull << 30);
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  for (std::string_view t : {"1", "true", "yes", "on"})
    if (equals_nocase(text, t)) return true;
  for (std::string_view f : {"0", "false", "no", "off"})
    if (equals_nocase(text, f)) return false;
  return std::nullopt;
}

}  // namespace cxg::config
