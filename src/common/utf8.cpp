#include "cxg/common/utf8.hpp"

#include <boost/json/serialize.hpp>

#include "cxg/common/ids.hpp"

namespace cxg::utf8 {

std::string with_replacements(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len != 0 && i + len <= s.size() && ids::is_valid_utf8(s.substr(i, len))) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

boost::json::value json_with_replacements(const boost::json::value& v) {
  if (v.is_string()) return boost::json::string(with_replacements(v.get_string()));
  if (v.is_array()) {
    boost::json::array a;
    for (const auto& x : v.get_array()) a.push_back(json_with_replacements(x));
    return a;
  }
  if (v.is_object()) {
    boost::json::object o;
    for (const auto& [k, x] : v.get_object()) o[with_replacements(k)] = json_with_replacements(x);
    return o;
  }
  return v;
}

std::string serialize_valid(const boost::json::value& v) {
  std::string out = boost::json::serialize(v);
  if (!ids::is_valid_utf8(out)) out = boost::json::serialize(json_with_replacements(v));
  return out;
}

}  // namespace cxg::utf8
