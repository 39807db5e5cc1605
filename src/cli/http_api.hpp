#pragma once
// A small blocking HTTP client (libcurl) for the operator commands: the admin API
// (/api/codex-exec/*) and the internal API (/api/exec-gateway/*).
#include <chrono>
#include <string>
#include <vector>

namespace cxg::cli {

struct ApiResponse {
  long status = 0;
  std::string body;
};

// `base` is the gateway URL (http(s)://, or ws(s):// which is mapped back). Throws CliError
// ("gateway unreachable at …", exit 1) on a transport failure; any HTTP status is returned.
struct TlsOptions {
  std::string ca_file;  // extra CA bundle (PEM)
  bool insecure = false;
};
ApiResponse api_request(const std::string& base, const std::string& method, const std::string& path,
                        const std::vector<std::string>& headers = {}, const std::string& body = {},
                        const TlsOptions& tls = {}, std::chrono::milliseconds timeout = std::chrono::seconds(15));

// "http://h:p" from "ws://h:p" etc.; trailing '/' removed.
std::string http_base_url(const std::string& url);

// The error text of a failed admin/internal response: {"error":"…"} or a plain body.
std::string api_error_text(const ApiResponse& r);

// Percent-encodes one path segment (workspace ids are opaque).
std::string url_segment(const std::string& s);

}  // namespace cxg::cli
