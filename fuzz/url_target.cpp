// HTTP request-targets: the exact Boost.URL call src/transport/http_session.cpp makes
// (parse_origin_form, then the decoded segments and query parameters), with Boost.URL
// compiled into this target so the fuzzer sees its coverage, then the api::Request lookups
// the handlers use on the result.
#include <boost/url/parse.hpp>
#include <boost/url/src.hpp>
#include <string>

#include "cxg/api/http_types.hpp"
#include "fuzz_common.hpp"

namespace {

// Same as parse_target() in src/transport/http_session.cpp.
bool parse_target(std::string_view target, cxg::api::Request& out) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return false;
  for (auto seg : url->segments()) out.segments.emplace_back(seg);
  for (auto p : url->params()) out.query.emplace_back(p.key, p.has_value ? p.value : std::string());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target = cxg::fuzz::as_view(data, size);
  cxg::api::Request req;
  req.target = std::string(target);
  if (!parse_target(target, req)) return 0;
  FUZZ_CHECK(!target.empty() && target.front() == '/');
  std::size_t decoded = 0;
  for (const auto& s : req.segments) decoded += s.size();
  for (const auto& [k, v] : req.query) decoded += k.size() + v.size();
  FUZZ_CHECK(decoded <= target.size());  // percent-decoding only shrinks
  // The first value of a parameter wins.
  for (const char* name : {"token", "mode", ""}) {
    const auto v = req.query_param(name);
    std::optional<std::string> first;
    for (const auto& [k, val] : req.query)
      if (k == name) {
        first = val;
        break;
      }
    FUZZ_CHECK(v == first);
  }
  return 0;
}
