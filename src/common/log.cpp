#include "cxg/common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>

#include "cxg/common/clock.hpp"
#include "cxg/common/time_format.hpp"
#include "cxg/common/utf8.hpp"

namespace cxg::log {
namespace {

std::atomic<Level> g_level{Level::info};

spdlog::logger& logger() {
  // stderr, one line per record, no spdlog decoration: the JSON is the whole line.
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = std::make_shared<spdlog::logger>("cxg", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *instance;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

}  // namespace

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  throw std::invalid_argument("unknown log level (debug, info, warn, error)");
}

void init(std::string_view level_name_) { g_level = parse_level(level_name_); }

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view msg, boost::json::object fields) {
  if (!enabled(level)) return;
  boost::json::object line;
  line["ts"] = format_rfc3339_ms(SystemClock::instance().now_unix_ms());
  line["level"] = level_name(level);
  line["msg"] = msg;
  for (auto& kv : fields) line[kv.key()] = std::move(kv.value());
  // Fields carry request bytes (User-Agent, ids, peer-supplied reasons) that need not be UTF-8.
  logger().info(utf8::serialize_valid(line));
}

}  // namespace cxg::log
