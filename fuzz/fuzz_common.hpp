#pragma once
// Shared helpers of the libFuzzer targets: a fatal property check and quiet logs.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cxg/common/log.hpp"

// A broken property aborts the run like a sanitizer finding: libFuzzer saves the input.
#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace cxg::fuzz {

// Logging at "error" keeps the runs fast (every rejected credential logs at info).
inline void quiet_logs() { log::init("error"); }

inline std::string_view as_view(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Whether `part` is a view into `whole` (decoders hand out views, never copies).
inline bool points_into(std::string_view whole, std::string_view part) {
  if (part.empty()) return true;
  const auto w = reinterpret_cast<std::uintptr_t>(whole.data());
  const auto p = reinterpret_cast<std::uintptr_t>(part.data());
  return p >= w && p + part.size() <= w + whole.size();
}

}  // namespace cxg::fuzz
