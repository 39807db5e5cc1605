#pragma once
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cxg::api {

// Parses a request body that must be a JSON object; an empty body counts as {} when
// `empty_is_object`. nullopt on anything else.
std::optional<boost::json::object> parse_json_object(std::string_view body, bool empty_is_object);

// Reads an optional string member: absent/null -> "", a string -> its value, any other
// type -> nullopt (a type error the caller reports as invalid JSON).
std::optional<std::string> optional_string(const boost::json::object& o, std::string_view key);

}  // namespace cxg::api
