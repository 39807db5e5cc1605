#include "store/migrations.hpp"

#include <array>
#include <string>

#include "store/sqlite_connection.hpp"

namespace cxg::store::sqlite {
namespace {

// http-api.md §6. ts columns are INTEGER Unix ms (UTC), bool columns INTEGER 0/1. Text
// primary keys carry an explicit NOT NULL because SQLite, unlike PostgreSQL, would
// otherwise accept NULL keys.
constexpr const char* kInitialSchema = R"sql(
CREATE TABLE executors (
  exe_id          TEXT NOT NULL PRIMARY KEY,
  user_id         TEXT NOT NULL,
  display_name    TEXT,
  description     TEXT,
  default_cwd     TEXT,
  registered_at   INTEGER NOT NULL,
  last_seen_at    INTEGER,
  client_ip       TEXT,
  client_ua       TEXT,
  codex_version   TEXT,
  os              TEXT,
  protocol        TEXT,
  connected_at    INTEGER,
  disconnected_at INTEGER
);
CREATE INDEX executors_user_id_idx ON executors (user_id);

CREATE TABLE workspace_executors (
  workspace_id TEXT NOT NULL,
  exe_id       TEXT NOT NULL REFERENCES executors (exe_id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  is_default   INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, exe_id),
  UNIQUE (workspace_id, name)
);
CREATE INDEX workspace_executors_exe_id_idx ON workspace_executors (exe_id);

CREATE TABLE turn_revocations (
  turn_id    TEXT NOT NULL PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
);
CREATE INDEX turn_revocations_expires_at_idx ON turn_revocations (expires_at);

CREATE TABLE replicas (
  replica_id   TEXT NOT NULL PRIMARY KEY,
  peer_url     TEXT NOT NULL DEFAULT '',
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);

CREATE TABLE executor_presence (
  exe_id       TEXT NOT NULL PRIMARY KEY REFERENCES executors (exe_id) ON DELETE CASCADE,
  replica_id   TEXT NOT NULL,
  conn_id      TEXT NOT NULL,
  protocol     TEXT NOT NULL,
  connected_at INTEGER NOT NULL
);
CREATE INDEX executor_presence_replica_id_idx ON executor_presence (replica_id);
)sql";

constexpr std::array kSqliteMigrations{
    Migration{"0001_initial_schema", kInitialSchema},
};

// Bootstrap, outside the versioned list: the list's own bookkeeping table.
constexpr const char* kCreateMigrationsTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    TEXT NOT NULL PRIMARY KEY,
  applied_at INTEGER NOT NULL
)
)sql";

bool is_applied(Connection& conn, std::string_view version) {
  auto q = conn.query("SELECT 1 FROM schema_migrations WHERE version = ?");
  q.bind_all(version);
  return q.step();
}

void record_applied(Connection& conn, std::string_view version, std::int64_t now_ms) {
  conn.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
      .bind_all(version, now_ms)
      .run();
}

// Applies one migration in its own transaction. The applied check sits inside the
// transaction so two openers of one file (possible with the process lock off) cannot both
// apply it. Returns whether it ran.
bool apply_one(Connection& conn, const Migration& m, std::int64_t now_ms) {
  Transaction tx(conn);
  if (is_applied(conn, m.version)) return false;
  try {
    conn.exec(m.sql);
  } catch (const StoreError& e) {
    throw StoreError("migration " + std::string(m.version) + " failed: " + e.what());
  }
  record_applied(conn, m.version, now_ms);
  tx.commit();
  return true;
}

}  // namespace

std::span<const Migration> sqlite_migrations() { return kSqliteMigrations; }

std::vector<std::string_view> apply_migrations(Connection& conn,
                                               std::span<const Migration> migrations,
                                               std::int64_t now_ms) {
  conn.exec(kCreateMigrationsTable);
  std::vector<std::string_view> applied;
  for (const Migration& m : migrations) {
    if (apply_one(conn, m, now_ms)) applied.push_back(m.version);
  }
  return applied;
}

}  // namespace cxg::store::sqlite
