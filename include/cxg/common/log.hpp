#pragma once
// Structured JSON-lines logging on stderr (spdlog sink, Boost.JSON rendering).
// Never pass a secret, ticket, cap-token or Authorization value as a field; use
// crypto::fingerprint() when a correlation handle is needed.
#include <boost/json/object.hpp>
#include <string_view>

namespace cxg::log {

enum class Level { debug, info, warn, error };

// Throws std::invalid_argument for an unknown level name.
void init(std::string_view level_name);
Level parse_level(std::string_view name);
bool enabled(Level level);
void write(Level level, std::string_view msg, boost::json::object fields = {});

inline void debug(std::string_view m, boost::json::object f = {}) { write(Level::debug, m, std::move(f)); }
inline void info(std::string_view m, boost::json::object f = {}) { write(Level::info, m, std::move(f)); }
inline void warn(std::string_view m, boost::json::object f = {}) { write(Level::warn, m, std::move(f)); }
inline void error(std::string_view m, boost::json::object f = {}) { write(Level::error, m, std::move(f)); }

}  // namespace cxg::log
