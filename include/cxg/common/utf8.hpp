#pragma once
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

// Request bytes (headers, path ids, User-Agent) need not be UTF-8, but the JSON cxg writes
// (answers and log lines) must be (RFC 8259 §8.1). These replace each invalid byte by U+FFFD,
// as the reference gateway's Go encoder writes it.
namespace cxg::utf8 {
std::string with_replacements(std::string_view s);
// Every string and object key in `v`, recursively.
boost::json::value json_with_replacements(const boost::json::value& v);
// The serialized JSON of `v`, guaranteed valid UTF-8 (re-encodes only when needed).
std::string serialize_valid(const boost::json::value& v);
}  // namespace cxg::utf8
