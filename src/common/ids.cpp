#include "cxg/common/ids.hpp"

#include <cstdint>
#include <cstring>

namespace cxg::ids {
namespace {
bool is_exe_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}
bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
}  // namespace

bool is_valid_exe_id(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id)
    if (!is_exe_char(c)) return false;
  return true;
}

bool is_valid_opaque_id(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7F) return false;
  return true;
}

bool is_valid_stream_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  if (is_space(id.front()) || is_space(id.back())) return false;
  return is_valid_utf8(id);
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    // ASCII fast path, 8 bytes at a time: stream ids and JSON payloads on the relay path are
    // almost all ASCII, and a byte at a time made this check its largest per-frame cost.
    constexpr std::uint64_t kHighBits = 0x8080808080808080u;
    for (std::uint64_t word; i + sizeof word <= n; i += sizeof word) {
      std::memcpy(&word, s.data() + i, sizeof word);
      if (word & kHighBits) break;
    }
    if (i == n) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace cxg::ids
