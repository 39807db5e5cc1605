#include "http_api.hpp"

#include <curl/curl.h>

#include <boost/json/parse.hpp>
#include <memory>
#include <mutex>

#include "cli_common.hpp"

namespace cxg::cli {

std::string http_base_url(const std::string& url) {
  std::string s = url;
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (s.rfind("ws://", 0) == 0) return "http://" + s.substr(5);
  if (s.rfind("wss://", 0) == 0) return "https://" + s.substr(6);
  return s;
}

std::string url_segment(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

ApiResponse api_request(const std::string& base_in, const std::string& method, const std::string& path,
                        const std::vector<std::string>& headers, const std::string& body, const TlsOptions& tls,
                        std::chrono::milliseconds timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const std::string base = http_base_url(base_in);
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0)
    throw CliError("invalid gateway URL '" + base_in + "' (expected http(s)://)", kExitUsage);
  const std::string url = base + path;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), &curl_easy_cleanup);
  if (!h) throw CliError("curl_easy_init failed", kExitFailure);
  curl_slist* list = nullptr;
  for (const auto& hd : headers) list = curl_slist_append(list, hd.c_str());
  list = curl_slist_append(list, "Expect:");
  if (!body.empty()) list = curl_slist_append(list, "Content-Type: application/json");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> hl(list, &curl_slist_free_all);
  ApiResponse r;
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, hl.get());
  curl_easy_setopt(h.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "cxg");
  if (!tls.ca_file.empty()) {
    // Replaces curl's default bundle; its default CA directory (/etc/ssl/certs on Debian) stays.
    curl_easy_setopt(h.get(), CURLOPT_CAINFO, tls.ca_file.c_str());
  }
  if (tls.insecure) {
    curl_easy_setopt(h.get(), CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h.get(), CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &r.body);
  if (method == "POST" || !body.empty()) {
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method == "GET") curl_easy_setopt(h.get(), CURLOPT_HTTPGET, 1L);
  const CURLcode code = curl_easy_perform(h.get());
  if (code != CURLE_OK) throw CliError("gateway unreachable at " + base + ": " + curl_easy_strerror(code), kExitFailure);
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

std::string api_error_text(const ApiResponse& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  std::string text;
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error")) {
      if (e->is_string()) text = std::string(e->as_string());
      else if (e->is_object()) {
        if (const auto* m = e->as_object().if_contains("message"); m && m->is_string()) text = std::string(m->as_string());
      }
    }
  }
  if (text.empty()) text = r.body;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (auto& c : text)
    if (c == '\n') c = ' ';
  return "HTTP " + std::to_string(r.status) + (text.empty() ? "" : " " + text);
}

}  // namespace cxg::cli
