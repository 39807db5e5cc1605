#pragma once
#include <string>

#include "cxg/common/result.hpp"

namespace cxg::auth {

// The whole file; the error is "<path>: <reason>".
Result<std::string, std::string> read_text_file(const std::string& path);

}  // namespace cxg::auth
