#include "auth/http_client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <new>

namespace cxg::auth::http {
namespace {

// curl_global_init is not thread-safe and must run once before any handle is created.
bool curl_initialized() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; });
  return ok;
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

struct Sink {
  std::string body;
  std::size_t limit = 0;
  bool overflow = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t n = size * count;
  if (sink->body.size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  sink->body.append(data, n);
  return n;
}

void append_header(HeaderList& list, const char* header) {
  curl_slist* next = curl_slist_append(list.get(), header);
  if (!next) throw std::bad_alloc();
  list.release();  // now owned through `next`
  list.reset(next);
}

HeaderList build_headers(const Request& request) {
  HeaderList list;
  for (const auto& header : request.headers) append_header(list, header.c_str());
  // An empty "Expect:" stops curl from waiting for "100 Continue" before sending a large
  // body (a JWT can exceed curl's threshold), which would add a second to every call.
  if (request.post) append_header(list, "Expect:");
  return list;
}

void configure(CURL* h, const Request& request, curl_slist* headers, Sink& sink) {
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is an answer, not a hop
  // Worker threads must not receive SIGALRM from curl's resolver timeouts.
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  if (request.post) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
}

}  // namespace

Result<Response, std::string> perform(const Request& request) {
  if (!curl_initialized()) return unexpected(std::string("curl_global_init failed"));
  EasyHandle handle(curl_easy_init());
  if (!handle) return unexpected(std::string("curl_easy_init failed"));
  const HeaderList headers = build_headers(request);
  Sink sink{.body = {}, .limit = request.max_response_bytes};
  configure(handle.get(), request, headers.get(), sink);

  const CURLcode code = curl_easy_perform(handle.get());
  if (sink.overflow)
    return unexpected("response larger than " + std::to_string(request.max_response_bytes) + " bytes");
  if (code != CURLE_OK) return unexpected(std::string(curl_easy_strerror(code)));
  Response response;
  curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(sink.body);
  return response;
}

}  // namespace cxg::auth::http
