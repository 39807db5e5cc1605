#pragma once
#include <string_view>

namespace cxg::ids {
// exe_id / environment id: [A-Za-z0-9_-]{1,256}.
bool is_valid_exe_id(std::string_view id);
// Workspace, user and turn ids: opaque, 1-256 bytes, no control characters.
bool is_valid_opaque_id(std::string_view id);
// Relay stream_id: 1-128 bytes of UTF-8, no leading or trailing whitespace.
bool is_valid_stream_id(std::string_view id);
bool is_valid_utf8(std::string_view s);
}  // namespace cxg::ids
