#pragma once
// Versioned schema migrations (http-api.md §6 rule 1). A migration is a version string plus
// the SQL that moves the schema one step; the list is applied in order, each one in its own
// transaction together with its schema_migrations row, so a crash never leaves a half-applied
// version. The PostgreSQL store is meant to keep the same shape: its own ordered list with
// the same version names, run under an advisory lock.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cxg::store::sqlite {

class Connection;

struct Migration {
  std::string_view version;  // sorts and compares as text; never renamed once released
  const char* sql;           // DDL only, no values; may hold several statements
};

// The SQLite schema history, oldest first.
std::span<const Migration> sqlite_migrations();

// Creates schema_migrations if needed, then applies every migration in `migrations` whose
// version is not recorded yet, in list order, stamping applied_at = now_ms. Throws
// StoreError on any failure; the failing migration leaves no trace.
// Returns the versions applied by this call.
std::vector<std::string_view> apply_migrations(Connection& conn,
                                               std::span<const Migration> migrations,
                                               std::int64_t now_ms);

}  // namespace cxg::store::sqlite
