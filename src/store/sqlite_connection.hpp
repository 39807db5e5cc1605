#pragma once
// A small RAII layer over the sqlite3 C API: one connection with a cache of prepared
// statements, a Query that binds parameters and resets its statement when it goes out of
// scope, and a Transaction that rolls back unless committed. Not thread-safe by itself;
// SqliteStore serialises access with a mutex. Every unexpected sqlite result throws
// StoreError carrying sqlite's own message (the store holds no secrets).
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cxg/store/store.hpp"

namespace cxg::store::sqlite {

class Connection;

// One execution of a cached prepared statement. Parameters are 1-based, as in sqlite.
class Query {
 public:
  Query(Connection& conn, sqlite3_stmt* stmt);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::string_view text);
  // Without this, a string literal would pick the bool overload (a standard conversion).
  Query& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Query& bind(int index, std::int64_t value);
  Query& bind(int index, bool value);
  Query& bind(int index, std::nullopt_t);
  // Binds all arguments in order, starting at parameter 1.
  template <typename... Args>
  Query& bind_all(const Args&... args) {
    int index = 0;
    (bind(++index, args), ...);
    return *this;
  }

  // Advances one row: true when a row is available, false when done; throws otherwise.
  bool step();
  // Runs to completion. Returns SQLITE_DONE, or the extended SQLITE_CONSTRAINT_* code when
  // a constraint failed (an expected outcome the caller maps); any other error throws.
  int run_allowing_constraint();
  // Runs to completion, throwing on any error.
  void run();

  std::string text(int column) const;  // NULL reads as ""
  std::int64_t int64(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;
  bool boolean(int column) const { return int64(column) != 0; }

 private:
  Connection& conn_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating if needed) the database and applies the connection pragmas:
  // foreign_keys=ON (the cascades depend on it), busy_timeout=5000, synchronous=NORMAL and,
  // for files, journal_mode=WAL.
  static std::unique_ptr<Connection> open(const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs SQL without parameters (DDL, pragmas, BEGIN/COMMIT). May hold several statements.
  void exec(const char* sql);
  // Prepares `sql` once and reuses it on later calls with the same text.
  Query query(const std::string& sql);
  // Rows changed by the last INSERT/UPDATE/DELETE (cascaded rows are not counted).
  std::int64_t changes() const;
  // Returns the first column of the first row, as text ("" when there is no row).
  std::string scalar_text(const std::string& sql);

  [[noreturn]] void fail(std::string_view what) const;
  sqlite3* handle() const { return db_; }
  static bool is_memory_path(const std::string& path) { return path == ":memory:"; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  void apply_pragmas(bool in_memory);

  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, Finalize>> statements_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless commit() ran. IMMEDIATE
// takes the write lock up front, so read-then-write sequences cannot hit a busy upgrade.
class Transaction {
 public:
  explicit Transaction(Connection& conn);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& conn_;
  bool open_ = true;
};

}  // namespace cxg::store::sqlite
