#pragma once
// Minimal blocking HTTP client over libcurl for the validators (agentserver POST, JWKS GET).
// Safe to call from many threads at once: every call uses its own easy handle.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "cxg/common/result.hpp"

namespace cxg::auth::http {

struct Request {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  bool post = false;
  std::string body;  // sent when post
  std::chrono::milliseconds timeout{5000};
  std::size_t max_response_bytes = 1 << 20;
};

struct Response {
  long status = 0;
  std::string body;
};

// A transport failure (connection, timeout, oversized body): the message names the cause.
Result<Response, std::string> perform(const Request& request);

}  // namespace cxg::auth::http
