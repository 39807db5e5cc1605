#pragma once
// Parsers for configuration value formats (http-api.md §5). Each returns nullopt on a
// malformed value; the caller names the variable in the error.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cxg::config {

// "250ms", "30s", "5m", "1h30m", "0"; units ms, s, m, h (combinable, descending).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// Bytes with an optional KiB/MiB/GiB suffix ("65536", "16MiB").
std::optional<std::uint64_t> parse_size(std::string_view text);
// 1/true/yes/on or 0/false/no/off (case-insensitive).
std::optional<bool> parse_bool(std::string_view text);

}  // namespace cxg::config
