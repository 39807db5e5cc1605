#include "store/sqlite_connection.hpp"

#include <string>

namespace cxg::store::sqlite {

// ---------------------------------------------------------------- Query

Query::Query(Connection& conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}

Query::~Query() {
  // Return the cached statement to a clean state for its next user. sqlite3_reset repeats
  // the last step's error code, which was already handled (or thrown) by then.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Query& Query::bind(int index, std::string_view text) {
  if (sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                          SQLITE_UTF8) != SQLITE_OK) {
    conn_.fail("bind text");
  }
  return *this;
}

Query& Query::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) conn_.fail("bind integer");
  return *this;
}

Query& Query::bind(int index, bool value) {
  return bind(index, static_cast<std::int64_t>(value ? 1 : 0));
}

Query& Query::bind(int index, std::nullopt_t) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) conn_.fail("bind null");
  return *this;
}

bool Query::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_.fail("step");
}

int Query::run_allowing_constraint() {
  int rc = sqlite3_step(stmt_);
  while (rc == SQLITE_ROW) rc = sqlite3_step(stmt_);
  if (rc == SQLITE_DONE) return rc;
  // Extended result codes are enabled on the connection, so rc is e.g. SQLITE_CONSTRAINT_UNIQUE.
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return rc;
  conn_.fail("step");
}

void Query::run() {
  while (step()) {
  }
}

std::string Query::text(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Query::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<std::int64_t> Query::optional_int64(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return int64(column);
}

// ---------------------------------------------------------------- Connection

std::unique_ptr<Connection> Connection::open(const std::string& path) {
  if (path.empty()) throw StoreError("sqlite: empty database path");
  sqlite3* db = nullptr;
  // NOMUTEX: SqliteStore already serialises every use of the connection.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<Connection> conn(new Connection(db));  // owns db even when open failed
  if (rc != SQLITE_OK) {
    if (db == nullptr) throw StoreError("sqlite: open " + path + ": out of memory");
    conn->fail("open " + path);
  }
  sqlite3_extended_result_codes(db, 1);
  conn->apply_pragmas(is_memory_path(path));
  return conn;
}

Connection::~Connection() {
  statements_.clear();  // finalize before closing, or sqlite3_close would refuse
  sqlite3_close(db_);
}

void Connection::apply_pragmas(bool in_memory) {
  exec("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;");
  if (in_memory) return;  // an in-memory database has no WAL
  // journal_mode answers with the mode actually in effect; a filesystem that cannot host
  // WAL (no shared memory) leaves the old mode, which we refuse rather than run degraded.
  const std::string mode = scalar_text("PRAGMA journal_mode = WAL");
  if (mode != "wal") {
    throw StoreError("sqlite: could not enable WAL journal mode (got \"" + mode + "\")");
  }
}

void Connection::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return;
  const std::string text = message != nullptr ? message : sqlite3_errmsg(db_);
  sqlite3_free(message);
  throw StoreError("sqlite: " + text);
}

Query Connection::query(const std::string& sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      fail("prepare");
    }
    found = statements_.emplace(sql, std::unique_ptr<sqlite3_stmt, Finalize>(stmt)).first;
  }
  return Query(*this, found->second.get());
}

std::int64_t Connection::changes() const { return sqlite3_changes64(db_); }

std::string Connection::scalar_text(const std::string& sql) {
  Query q = query(sql);
  return q.step() ? q.text(0) : std::string();
}

void Connection::fail(std::string_view what) const {
  throw StoreError("sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

// ---------------------------------------------------------------- Transaction

Transaction::Transaction(Connection& conn) : conn_(conn) { conn_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!open_) return;
  // Best effort: if the rollback itself fails, sqlite has already rolled back or the
  // connection is unusable, and the original error is the one worth reporting.
  sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  conn_.exec("COMMIT");
  open_ = false;
}

}  // namespace cxg::store::sqlite
