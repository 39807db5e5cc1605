#pragma once
#include <memory>
#include <string>

#include "cxg/store/store.hpp"

namespace cxg::store {

struct SqliteOptions {
  std::string path;  // filesystem path or ":memory:"
  bool take_process_lock = true;  // flock <path>.lock; a second process refuses to start
};

// Opens (creating if needed) the database, sets foreign_keys=ON, journal_mode=WAL,
// busy_timeout=5000, and runs the versioned migrations. Throws StoreError on failure,
// including "database is locked by another cxg process (<path>.lock)".
std::unique_ptr<Store> open_sqlite_store(const SqliteOptions& opts);

}  // namespace cxg::store
