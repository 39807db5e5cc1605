// The SQLite implementation of Store (http-api.md §6). One connection, guarded by a mutex,
// with its prepared statements cached: SQLite means a single replica, and the API worker
// pool's calls are short, so serialising them costs little and keeps transactions simple.
#include "cxg/store/sqlite_store.hpp"

#include <memory>
#include <mutex>
#include <string>

#include "cxg/common/clock.hpp"
#include "store/migrations.hpp"
#include "store/process_lock.hpp"
#include "store/sqlite_connection.hpp"

namespace cxg::store {
namespace {

using sqlite::Connection;
using sqlite::Query;
using sqlite::Transaction;

// ---------------------------------------------------------------- SQL
// Empty strings mean "unset" in the Store interface and are stored as NULL (NULLIF), so
// the PostgreSQL store and this one read the same "absent" back.

const std::string kExecutorColumns = R"sql(
  e.exe_id, e.user_id, e.display_name, e.description, e.default_cwd, e.registered_at,
  e.last_seen_at, e.client_ip, e.client_ua, e.codex_version, e.os, e.protocol,
  e.connected_at, e.disconnected_at,
  EXISTS (SELECT 1 FROM executor_presence p JOIN replicas r ON r.replica_id = p.replica_id
          WHERE p.exe_id = e.exe_id AND r.heartbeat_at > ?1) AS is_online)sql";
constexpr int kExecutorColumnCount = 15;

const std::string kSelectExecutor =
    "SELECT" + kExecutorColumns + " FROM executors e WHERE e.exe_id = ?2";

const std::string kSelectBindings =
    "SELECT w.workspace_id, w.exe_id, w.name, w.description, w.is_default, w.created_at," +
    kExecutorColumns + R"sql(
  FROM workspace_executors w JOIN executors e ON e.exe_id = w.exe_id
  WHERE w.workspace_id = ?2
  ORDER BY w.created_at, w.exe_id)sql";

const std::string kInsertExecutorIfAbsent = R"sql(
INSERT INTO executors (exe_id, user_id, display_name, description, default_cwd, registered_at)
VALUES (?1, ?2, NULLIF(?3, ''), NULLIF(?4, ''), NULLIF(?5, ''), ?6)
ON CONFLICT (exe_id) DO NOTHING)sql";

const std::string kSelectOwner = "SELECT user_id FROM executors WHERE exe_id = ?1";
const std::string kExecutorExists = "SELECT 1 FROM executors WHERE exe_id = ?1";
const std::string kDeleteExecutor = "DELETE FROM executors WHERE exe_id = ?1";

const std::string kRecordRegistration = R"sql(
UPDATE executors SET
  last_seen_at  = ?1,
  client_ip     = COALESCE(NULLIF(?2, ''), client_ip),
  client_ua     = COALESCE(NULLIF(?3, ''), client_ua),
  codex_version = COALESCE(NULLIF(?4, ''), codex_version),
  os            = COALESCE(NULLIF(?5, ''), os),
  protocol      = COALESCE(NULLIF(?6, ''), protocol)
WHERE exe_id = ?7)sql";

const std::string kTouchLastSeen = "UPDATE executors SET last_seen_at = ?1 WHERE exe_id = ?2";

const std::string kUpsertBinding = R"sql(
INSERT INTO workspace_executors (workspace_id, exe_id, name, description, is_default, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (workspace_id, exe_id) DO UPDATE SET
  name = excluded.name, description = excluded.description, is_default = excluded.is_default)sql";

const std::string kDeleteBinding =
    "DELETE FROM workspace_executors WHERE workspace_id = ?1 AND exe_id = ?2";
const std::string kBindingExists =
    "SELECT 1 FROM workspace_executors WHERE workspace_id = ?1 AND exe_id = ?2";
const std::string kWorkspacesOf =
    "SELECT workspace_id FROM workspace_executors WHERE exe_id = ?1 ORDER BY workspace_id";

// INSERT ... SELECT ... WHERE EXISTS: a connection for an executor deleted meanwhile
// records nothing instead of failing the foreign key (its socket is being closed anyway).
const std::string kUpsertPresence = R"sql(
INSERT INTO executor_presence (exe_id, replica_id, conn_id, protocol, connected_at)
SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM executors WHERE exe_id = ?1)
ON CONFLICT (exe_id) DO UPDATE SET
  replica_id = excluded.replica_id, conn_id = excluded.conn_id,
  protocol = excluded.protocol, connected_at = excluded.connected_at)sql";

const std::string kMarkConnected = R"sql(
UPDATE executors SET
  connected_at = ?1, last_seen_at = ?1, disconnected_at = NULL,
  protocol = COALESCE(NULLIF(?2, ''), protocol)
WHERE exe_id = ?3)sql";

const std::string kDeletePresenceOfConn =
    "DELETE FROM executor_presence WHERE exe_id = ?1 AND conn_id = ?2";
const std::string kMarkDisconnected =
    "UPDATE executors SET disconnected_at = ?1 WHERE exe_id = ?2";
const std::string kMarkReplicaExecutorsDisconnected = R"sql(
UPDATE executors SET disconnected_at = ?1
WHERE exe_id IN (SELECT exe_id FROM executor_presence WHERE replica_id = ?2))sql";
const std::string kDeleteReplicaPresence = "DELETE FROM executor_presence WHERE replica_id = ?1";
const std::string kMarkAllPresentDisconnected = R"sql(
UPDATE executors SET disconnected_at = ?1
WHERE exe_id IN (SELECT exe_id FROM executor_presence))sql";
const std::string kDeleteAllPresence = "DELETE FROM executor_presence";

const std::string kHeartbeatReplica = R"sql(
INSERT INTO replicas (replica_id, peer_url, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?3)
ON CONFLICT (replica_id) DO UPDATE SET
  peer_url = excluded.peer_url, heartbeat_at = excluded.heartbeat_at)sql";

// Rule 4: an expiry is never shortened. revoked_at keeps the first revocation's time.
const std::string kUpsertRevocation = R"sql(
INSERT INTO turn_revocations (turn_id, expires_at, revoked_at) VALUES (?1, ?2, ?3)
ON CONFLICT (turn_id) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at))sql";
const std::string kSelectRevocationExpiry =
    "SELECT expires_at FROM turn_revocations WHERE turn_id = ?1";
const std::string kSelectLiveRevocations =
    "SELECT turn_id, expires_at, revoked_at FROM turn_revocations WHERE expires_at >= ?1";
const std::string kPruneRevocations = "DELETE FROM turn_revocations WHERE expires_at < ?1";

// ---------------------------------------------------------------- row readers

Executor read_executor(const Query& q, int first) {
  Executor e;
  e.exe_id = q.text(first + 0);
  e.user_id = q.text(first + 1);
  e.display_name = q.text(first + 2);
  e.description = q.text(first + 3);
  e.default_cwd = q.text(first + 4);
  e.registered_at = q.int64(first + 5);
  e.last_seen_at = q.optional_int64(first + 6);
  e.client_ip = q.text(first + 7);
  e.client_ua = q.text(first + 8);
  e.codex_version = q.text(first + 9);
  e.os = q.text(first + 10);
  e.protocol = q.text(first + 11);
  e.connected_at = q.optional_int64(first + 12);
  e.disconnected_at = q.optional_int64(first + 13);
  e.is_online = q.boolean(first + 14);
  static_assert(kExecutorColumnCount == 15);
  return e;
}

BoundExecutor read_bound_executor(const Query& q) {
  BoundExecutor b;
  b.binding.workspace_id = q.text(0);
  b.binding.exe_id = q.text(1);
  b.binding.name = q.text(2);
  b.binding.description = q.text(3);
  b.binding.is_default = q.boolean(4);
  b.binding_created_at = q.int64(5);
  b.executor = read_executor(q, 6);
  return b;
}

// A presence row counts only while its replica heartbeat is under 30 s old (rule 3).
std::int64_t live_heartbeat_after(std::int64_t now) { return now - kReplicaLiveWindowMs; }

// ---------------------------------------------------------------- the store

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const SqliteOptions& opts)
      : lock_(take_lock(opts)), db_(Connection::open(opts.path)) {
    sqlite::apply_migrations(*db_, sqlite::sqlite_migrations(),
                             SystemClock::instance().now_unix_ms());
    if (lock_) clear_presence_of_dead_processes(SystemClock::instance().now_unix_ms());
  }

  // --- executors

  CreateExecutorResult create_executor(const NewExecutor& e, std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Transaction tx(*db_);
    const bool inserted = insert_executor_if_absent(e, now);
    const std::string owner = inserted ? e.user_id : owner_of(e.exe_id).value_or("");
    tx.commit();
    if (inserted) return CreateExecutorResult::created;
    return owner == e.user_id ? CreateExecutorResult::already_owned
                              : CreateExecutorResult::taken_by_other;
  }

  std::optional<Executor> get_executor(const std::string& exe_id, std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Query q = db_->query(kSelectExecutor);
    q.bind_all(live_heartbeat_after(now), exe_id);
    if (!q.step()) return std::nullopt;
    return read_executor(q, 0);
  }

  bool delete_executor(const std::string& exe_id) override {
    std::lock_guard guard(mutex_);
    // Bindings and presence go with it through ON DELETE CASCADE (foreign_keys=ON).
    db_->query(kDeleteExecutor).bind_all(exe_id).run();
    return db_->changes() > 0;
  }

  std::optional<std::string> executor_owner(const std::string& exe_id) override {
    std::lock_guard guard(mutex_);
    return owner_of(exe_id);
  }

  std::string ensure_executor(const std::string& exe_id, const std::string& user_id,
                              std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Transaction tx(*db_);
    insert_executor_if_absent(NewExecutor{.exe_id = exe_id, .user_id = user_id}, now);
    std::string owner = owner_of(exe_id).value_or("");
    tx.commit();
    return owner;
  }

  void record_registration(const std::string& exe_id, const RegistrationMetadata& m,
                           std::int64_t now) override {
    std::lock_guard guard(mutex_);
    db_->query(kRecordRegistration)
        .bind_all(now, m.client_ip, m.client_ua, m.codex_version, m.os, m.protocol, exe_id)
        .run();
  }

  // --- workspace bindings

  UpsertBindingResult upsert_binding(const Binding& b, std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Transaction tx(*db_);
    // Checked first so an unknown executor is reported as such even when the name also
    // clashes (404 before 409, A5).
    if (!executor_exists(b.exe_id)) return UpsertBindingResult::executor_not_found;
    Query q = db_->query(kUpsertBinding);
    q.bind_all(b.workspace_id, b.exe_id, b.name, b.description, b.is_default, now);
    const int rc = q.run_allowing_constraint();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) return UpsertBindingResult::name_taken;
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return UpsertBindingResult::executor_not_found;
    if (rc != SQLITE_DONE) db_->fail("upsert binding");
    tx.commit();
    return UpsertBindingResult::ok;
  }

  bool delete_binding(const std::string& workspace_id, const std::string& exe_id) override {
    std::lock_guard guard(mutex_);
    db_->query(kDeleteBinding).bind_all(workspace_id, exe_id).run();
    return db_->changes() > 0;
  }

  bool binding_exists(const std::string& workspace_id, const std::string& exe_id) override {
    std::lock_guard guard(mutex_);
    return db_->query(kBindingExists).bind_all(workspace_id, exe_id).step();
  }

  std::vector<BoundExecutor> list_bindings(const std::string& workspace_id,
                                           std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Query q = db_->query(kSelectBindings);
    q.bind_all(live_heartbeat_after(now), workspace_id);
    std::vector<BoundExecutor> rows;
    while (q.step()) rows.push_back(read_bound_executor(q));
    return rows;
  }

  std::vector<std::string> workspaces_of(const std::string& exe_id) override {
    std::lock_guard guard(mutex_);
    Query q = db_->query(kWorkspacesOf);
    q.bind_all(exe_id);
    std::vector<std::string> ids;
    while (q.step()) ids.push_back(q.text(0));
    return ids;
  }

  // --- presence

  void upsert_presence(const std::string& exe_id, const std::string& replica_id,
                       const std::string& conn_id, const std::string& protocol,
                       std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Transaction tx(*db_);
    db_->query(kUpsertPresence).bind_all(exe_id, replica_id, conn_id, protocol, now).run();
    db_->query(kMarkConnected).bind_all(now, protocol, exe_id).run();
    tx.commit();
  }

  bool remove_presence(const std::string& exe_id, const std::string& conn_id,
                       std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Transaction tx(*db_);
    db_->query(kDeletePresenceOfConn).bind_all(exe_id, conn_id).run();
    // Rule 2: a connection that was already replaced deletes nothing, so it must not mark
    // the executor disconnected while its newer connection is live (E3).
    const bool removed = db_->changes() > 0;
    if (removed) db_->query(kMarkDisconnected).bind_all(now, exe_id).run();
    tx.commit();
    return removed;
  }

  void touch_last_seen(const std::string& exe_id, std::int64_t now) override {
    std::lock_guard guard(mutex_);
    db_->query(kTouchLastSeen).bind_all(now, exe_id).run();
  }

  void clear_replica_presence(const std::string& replica_id, std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Transaction tx(*db_);
    db_->query(kMarkReplicaExecutorsDisconnected).bind_all(now, replica_id).run();
    db_->query(kDeleteReplicaPresence).bind_all(replica_id).run();
    tx.commit();
  }

  // --- replicas

  void heartbeat_replica(const std::string& replica_id, const std::string& peer_url,
                         std::int64_t now) override {
    std::lock_guard guard(mutex_);
    db_->query(kHeartbeatReplica).bind_all(replica_id, peer_url, now).run();
  }

  // --- turn revocations

  std::int64_t revoke_turn(const std::string& turn_id, std::int64_t expires_at,
                           std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Transaction tx(*db_);
    db_->query(kUpsertRevocation).bind_all(turn_id, expires_at, now).run();
    const std::int64_t effective = revocation_expiry(turn_id);
    tx.commit();
    return effective;
  }

  std::vector<Revocation> load_revocations(std::int64_t now) override {
    std::lock_guard guard(mutex_);
    Query q = db_->query(kSelectLiveRevocations);
    q.bind_all(now);
    std::vector<Revocation> rows;
    while (q.step()) {
      rows.push_back(Revocation{.turn_id = q.text(0), .expires_at = q.int64(1),
                                .revoked_at = q.int64(2)});
    }
    return rows;
  }

  std::size_t prune_revocations(std::int64_t now) override {
    std::lock_guard guard(mutex_);
    db_->query(kPruneRevocations).bind_all(now).run();
    return static_cast<std::size_t>(db_->changes());
  }

  void ping() override {
    std::lock_guard guard(mutex_);
    if (db_->scalar_text("SELECT 1") != "1") throw StoreError("sqlite: ping got no answer");
  }

 private:
  // Holding <db>.lock proves no other cxg process uses this file, so any presence row in it
  // was left by a process that died without cleaning up (SIGKILL, OOM kill, power loss).
  // Its replica id differs from ours and its heartbeat stays "live" for 30 s, so without
  // this its executors would be reported online after a restart although nothing is
  // connected (found by tests/integration/test_faults_restart.py).
  void clear_presence_of_dead_processes(std::int64_t now) {
    Transaction tx(*db_);
    db_->query(kMarkAllPresentDisconnected).bind_all(now).run();
    db_->query(kDeleteAllPresence).run();
    tx.commit();
  }

  static std::unique_ptr<sqlite::ProcessLock> take_lock(const SqliteOptions& opts) {
    if (!opts.take_process_lock || Connection::is_memory_path(opts.path)) return nullptr;
    return std::make_unique<sqlite::ProcessLock>(opts.path);
  }

  // Callers hold mutex_.
  bool insert_executor_if_absent(const NewExecutor& e, std::int64_t now) {
    db_->query(kInsertExecutorIfAbsent)
        .bind_all(e.exe_id, e.user_id, e.display_name, e.description, e.default_cwd, now)
        .run();
    return db_->changes() > 0;
  }

  std::optional<std::string> owner_of(const std::string& exe_id) {
    Query q = db_->query(kSelectOwner);
    q.bind_all(exe_id);
    if (!q.step()) return std::nullopt;
    return q.text(0);
  }

  // Read back after the upsert rather than RETURNING, which needs SQLite 3.35 (the spec's
  // floor is 3.24).
  std::int64_t revocation_expiry(const std::string& turn_id) {
    Query q = db_->query(kSelectRevocationExpiry);
    q.bind_all(turn_id);
    if (!q.step()) throw StoreError("sqlite: revocation of " + turn_id + " missing after upsert");
    return q.int64(0);
  }

  bool executor_exists(const std::string& exe_id) {
    return db_->query(kExecutorExists).bind_all(exe_id).step();
  }

  // Declaration order matters: the lock is taken before the database is opened and
  // released only after it is closed.
  std::unique_ptr<sqlite::ProcessLock> lock_;
  std::unique_ptr<Connection> db_;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const SqliteOptions& opts) {
  return std::make_unique<SqliteStore>(opts);
}

}  // namespace cxg::store
