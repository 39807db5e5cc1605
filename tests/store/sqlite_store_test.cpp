// Tests of the SQLite store against real database files, one fresh directory per test.
// Behaviour items (behaviour.md) are named where a test pins one of them down.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cxg/store/sqlite_store.hpp"
#include "store/migrations.hpp"
#include "store/sqlite_connection.hpp"

namespace cxg::store {
namespace {

namespace fs = std::filesystem;
using sqlite::Connection;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // a fixed "now" in Unix ms
constexpr const char* kReplica = "replica-a";

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cxg-store-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "cxg.db").string();
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::unique_ptr<Store> open(bool take_lock = true) {
    return open_sqlite_store(SqliteOptions{.path = path_, .take_process_lock = take_lock});
  }

  // A second, independent connection to the same file, to look under the interface.
  std::unique_ptr<Connection> raw() { return Connection::open(path_); }

  std::int64_t count(const std::string& sql) {
    auto db = raw();
    auto q = db->query(sql);
    EXPECT_TRUE(q.step());
    return q.int64(0);
  }

  // An executor that is online: registered, with presence on a replica that heartbeats now.
  static void add_online_executor(Store& s, const std::string& exe_id, std::int64_t now,
                                  const std::string& conn_id = "conn-1") {
    ASSERT_EQ(s.create_executor({.exe_id = exe_id, .user_id = "user-1"}, now),
              CreateExecutorResult::created);
    s.heartbeat_replica(kReplica, "", now);
    s.upsert_presence(exe_id, kReplica, conn_id, "relay", now);
  }

  fs::path dir_;
  std::string path_;
};

// ---------------------------------------------------------------- migrations, pragmas

TEST_F(SqliteStoreTest, MigrationsFromEmptyFileRecordEveryVersion) {
  auto store = open();
  const auto migrations = sqlite::sqlite_migrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(migrations.size()));
  EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations WHERE applied_at > 0"),
            static_cast<std::int64_t>(migrations.size()));
  for (const char* table : {"executors", "workspace_executors", "turn_revocations", "replicas",
                            "executor_presence"}) {
    EXPECT_EQ(count(std::string("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                "name = '") + table + "'"),
              1)
        << table;
  }
}

TEST_F(SqliteStoreTest, MigrationsAreNotReappliedOnReopen) {
  open().reset();
  const std::int64_t applied_at_sum = count("SELECT SUM(applied_at) FROM schema_migrations");
  auto store = open();  // would fail on CREATE TABLE if it re-ran the migrations
  store->ping();
  EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(sqlite::sqlite_migrations().size()));
  EXPECT_EQ(count("SELECT SUM(applied_at) FROM schema_migrations"), applied_at_sum);
}

TEST_F(SqliteStoreTest, MigrationsRunInOrderOneTransactionEachAndStopAtFailure) {
  auto db = raw();
  const sqlite::Migration broken[] = {
      {"0001_a", "CREATE TABLE a (x INTEGER)"},
      // The first statement succeeds, the second fails: the whole migration must vanish.
      {"0002_b", "CREATE TABLE b (x INTEGER); INSERT INTO no_such_table VALUES (1)"},
      {"0003_c", "CREATE TABLE c (x INTEGER)"},
  };
  try {
    sqlite::apply_migrations(*db, broken, kT0);
    FAIL() << "a failing migration must throw";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("0002_b"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db->scalar_text("SELECT group_concat(version) FROM schema_migrations"), "0001_a");
  EXPECT_EQ(db->scalar_text("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('b', 'c')"), "0");

  const sqlite::Migration fixed[] = {
      {"0001_a", "CREATE TABLE a (x INTEGER)"},
      {"0002_b", "CREATE TABLE b (x INTEGER)"},
      {"0003_c", "CREATE TABLE c (x INTEGER)"},
  };
  const auto applied = sqlite::apply_migrations(*db, fixed, kT0 + 1);
  EXPECT_EQ(applied, (std::vector<std::string_view>{"0002_b", "0003_c"}));
  EXPECT_TRUE(sqlite::apply_migrations(*db, fixed, kT0 + 2).empty());
}

TEST_F(SqliteStoreTest, ConnectionPragmasAreInEffect) {
  auto db = raw();
  EXPECT_EQ(db->scalar_text("PRAGMA foreign_keys"), "1");
  EXPECT_EQ(db->scalar_text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(db->scalar_text("PRAGMA busy_timeout"), "5000");
  EXPECT_EQ(db->scalar_text("PRAGMA synchronous"), "1");  // NORMAL
}

TEST_F(SqliteStoreTest, StoreFileIsInWalMode) {
  auto store = open();
  // journal_mode=WAL is persistent in the file, so a plain sqlite3 handle sees it too.
  sqlite3* plain = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &plain, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(plain, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(plain);
}

TEST_F(SqliteStoreTest, ForeignKeysCascadeOnDelete) {
  auto store = open();
  auto db = raw();
  for (const char* table : {"workspace_executors", "executor_presence"}) {
    auto q = db->query(std::string("SELECT \"table\", on_delete FROM pragma_foreign_key_list('") +
                       table + "')");
    ASSERT_TRUE(q.step()) << table;
    EXPECT_EQ(q.text(0), "executors");
    EXPECT_EQ(q.text(1), "CASCADE");
  }
}

TEST_F(SqliteStoreTest, MemoryDatabaseNeedsNoLockOrWal) {
  auto a = open_sqlite_store({.path = ":memory:"});
  auto b = open_sqlite_store({.path = ":memory:"});  // independent, no lock file
  EXPECT_EQ(a->create_executor({.exe_id = "e1", .user_id = "u"}, kT0),
            CreateExecutorResult::created);
  EXPECT_FALSE(b->get_executor("e1", kT0).has_value());
  EXPECT_FALSE(fs::exists(":memory:.lock"));
}

TEST_F(SqliteStoreTest, EmptyPathIsAnError) {
  EXPECT_THROW(open_sqlite_store({.path = "", .take_process_lock = false}), StoreError);
}

// ---------------------------------------------------------------- process lock (H5)

TEST_F(SqliteStoreTest, H5_SecondOpenOfSameFileIsRefused) {
  auto first = open();
  try {
    open();
    FAIL() << "second open must throw";
  } catch (const StoreError& e) {
    EXPECT_EQ(std::string(e.what()), "database " + path_ + " is in use by another cxg process (lock " +
                                         path_ + ".lock)");
  }
  first.reset();
  EXPECT_NO_THROW(open());  // the lock goes with the store
}

TEST_F(SqliteStoreTest, LockCanBeSkipped) {
  auto first = open(/*take_lock=*/false);
  EXPECT_NO_THROW(open(/*take_lock=*/false));
}

// ---------------------------------------------------------------- executors

TEST_F(SqliteStoreTest, A3_CreateExecutorCreatedAlreadyOwnedTakenByOther) {
  auto store = open();
  const NewExecutor e{.exe_id = "exe_1", .user_id = "alice", .display_name = "laptop"};
  EXPECT_EQ(store->create_executor(e, kT0), CreateExecutorResult::created);
  EXPECT_EQ(store->create_executor(e, kT0 + 1), CreateExecutorResult::already_owned);
  NewExecutor other = e;
  other.user_id = "bob";
  EXPECT_EQ(store->create_executor(other, kT0 + 2), CreateExecutorResult::taken_by_other);

  const auto got = store->get_executor("exe_1", kT0);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->user_id, "alice");
  EXPECT_EQ(got->registered_at, kT0);  // the repeats changed nothing
}

TEST_F(SqliteStoreTest, GetExecutorRoundTripsAndUnsetFieldsReadEmpty) {
  auto store = open();
  EXPECT_FALSE(store->get_executor("missing", kT0).has_value());
  store->create_executor({.exe_id = "exe_1", .user_id = "alice", .display_name = "laptop",
                          .description = "desk", .default_cwd = "/home/a"},
                         kT0);
  const auto e = store->get_executor("exe_1", kT0);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->exe_id, "exe_1");
  EXPECT_EQ(e->display_name, "laptop");
  EXPECT_EQ(e->description, "desk");
  EXPECT_EQ(e->default_cwd, "/home/a");
  EXPECT_EQ(e->registered_at, kT0);
  EXPECT_FALSE(e->last_seen_at.has_value());
  EXPECT_FALSE(e->connected_at.has_value());
  EXPECT_FALSE(e->disconnected_at.has_value());
  EXPECT_EQ(e->client_ip, "");
  EXPECT_EQ(e->protocol, "");
  EXPECT_FALSE(e->is_online);
}

TEST_F(SqliteStoreTest, EmptyStringsAreStoredAsNull) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM executors WHERE display_name IS NULL AND "
                  "description IS NULL AND default_cwd IS NULL"),
            1);
}

TEST_F(SqliteStoreTest, ExecutorOwnerAndEnsureExecutor) {
  auto store = open();
  EXPECT_FALSE(store->executor_owner("exe_1").has_value());
  EXPECT_EQ(store->ensure_executor("exe_1", "alice", kT0), "alice");
  EXPECT_EQ(store->ensure_executor("exe_1", "bob", kT0 + 1), "alice");  // never re-owned
  EXPECT_EQ(store->executor_owner("exe_1"), "alice");
  EXPECT_EQ(store->get_executor("exe_1", kT0)->registered_at, kT0);
}

TEST_F(SqliteStoreTest, RecordRegistrationSetsLastSeenAndNonEmptyMetadataOnly) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->record_registration("exe_1",
                             {.client_ip = "10.0.0.1", .client_ua = "codex/1",
                              .codex_version = "0.40", .os = "linux", .protocol = "relay"},
                             kT0 + 10);
  // Empty strings never overwrite stored values.
  store->record_registration("exe_1", {.client_ip = "10.0.0.2"}, kT0 + 20);

  const auto e = store->get_executor("exe_1", kT0 + 20);
  EXPECT_EQ(e->last_seen_at, kT0 + 20);
  EXPECT_EQ(e->client_ip, "10.0.0.2");
  EXPECT_EQ(e->client_ua, "codex/1");
  EXPECT_EQ(e->codex_version, "0.40");
  EXPECT_EQ(e->os, "linux");
  EXPECT_EQ(e->protocol, "relay");
  EXPECT_NO_THROW(store->record_registration("missing", {}, kT0));
}

TEST_F(SqliteStoreTest, TouchLastSeen) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->touch_last_seen("exe_1", kT0 + 5);
  EXPECT_EQ(store->get_executor("exe_1", kT0)->last_seen_at, kT0 + 5);
}

TEST_F(SqliteStoreTest, A8_DeleteExecutorCascadesToBindingsAndPresence) {
  auto store = open();
  add_online_executor(*store, "exe_1", kT0);
  add_online_executor(*store, "exe_2", kT0);
  ASSERT_EQ(store->upsert_binding({"ws1", "exe_1", "one", "", false}, kT0), UpsertBindingResult::ok);
  ASSERT_EQ(store->upsert_binding({"ws2", "exe_1", "one", "", false}, kT0), UpsertBindingResult::ok);
  ASSERT_EQ(store->upsert_binding({"ws1", "exe_2", "two", "", false}, kT0), UpsertBindingResult::ok);

  EXPECT_TRUE(store->delete_executor("exe_1"));
  EXPECT_FALSE(store->delete_executor("exe_1"));  // repeated delete: no row, no error
  EXPECT_FALSE(store->get_executor("exe_1", kT0).has_value());
  EXPECT_FALSE(store->binding_exists("ws1", "exe_1"));
  EXPECT_TRUE(store->workspaces_of("exe_1").empty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM workspace_executors WHERE exe_id = 'exe_1'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM executor_presence WHERE exe_id = 'exe_1'"), 0);
  // The other executor is untouched.
  EXPECT_TRUE(store->binding_exists("ws1", "exe_2"));
  EXPECT_TRUE(store->get_executor("exe_2", kT0)->is_online);
}

// ---------------------------------------------------------------- bindings

TEST_F(SqliteStoreTest, A4_UpsertBindingKeepsCreatedAtAndUpdatesInPlace) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  ASSERT_EQ(store->upsert_binding({"ws1", "exe_1", "box", "first", false}, kT0),
            UpsertBindingResult::ok);
  ASSERT_EQ(store->upsert_binding({"ws1", "exe_1", "box", "first", false}, kT0 + 100),
            UpsertBindingResult::ok);
  ASSERT_EQ(store->upsert_binding({"ws1", "exe_1", "renamed", "second", true}, kT0 + 200),
            UpsertBindingResult::ok);

  const auto list = store->list_bindings("ws1", kT0);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].binding_created_at, kT0);
  EXPECT_EQ(list[0].binding.name, "renamed");
  EXPECT_EQ(list[0].binding.description, "second");
  EXPECT_TRUE(list[0].binding.is_default);
}

TEST_F(SqliteStoreTest, A5_NameClashInWorkspaceIsNameTaken) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->create_executor({.exe_id = "exe_2", .user_id = "alice"}, kT0);
  ASSERT_EQ(store->upsert_binding({"ws1", "exe_1", "box", "", false}, kT0), UpsertBindingResult::ok);
  // A new binding with a taken name, and an existing binding renamed onto it.
  EXPECT_EQ(store->upsert_binding({"ws1", "exe_2", "box", "", false}, kT0),
            UpsertBindingResult::name_taken);
  ASSERT_EQ(store->upsert_binding({"ws1", "exe_2", "other", "", false}, kT0),
            UpsertBindingResult::ok);
  EXPECT_EQ(store->upsert_binding({"ws1", "exe_2", "box", "", false}, kT0),
            UpsertBindingResult::name_taken);
  EXPECT_EQ(store->list_bindings("ws1", kT0)[1].binding.name, "other");  // unchanged
  // Names are unique per workspace only; re-sending one's own name is fine.
  EXPECT_EQ(store->upsert_binding({"ws2", "exe_2", "box", "", false}, kT0), UpsertBindingResult::ok);
  EXPECT_EQ(store->upsert_binding({"ws1", "exe_1", "box", "x", false}, kT0), UpsertBindingResult::ok);
  // Several defaults in one workspace are allowed.
  EXPECT_EQ(store->upsert_binding({"ws1", "exe_1", "box", "", true}, kT0), UpsertBindingResult::ok);
  EXPECT_EQ(store->upsert_binding({"ws1", "exe_2", "other", "", true}, kT0), UpsertBindingResult::ok);
}

TEST_F(SqliteStoreTest, A5_UnknownExecutorIsExecutorNotFound) {
  auto store = open();
  EXPECT_EQ(store->upsert_binding({"ws1", "ghost", "box", "", false}, kT0),
            UpsertBindingResult::executor_not_found);
  // Unknown executor wins over a name clash (404 before 409).
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->upsert_binding({"ws1", "exe_1", "box", "", false}, kT0);
  EXPECT_EQ(store->upsert_binding({"ws1", "ghost", "box", "", false}, kT0),
            UpsertBindingResult::executor_not_found);
  EXPECT_EQ(count("SELECT COUNT(*) FROM workspace_executors"), 1);
}

TEST_F(SqliteStoreTest, A6_ListIsEmptyVectorWhenNothingBound) {
  auto store = open();
  EXPECT_TRUE(store->list_bindings("ws-none", kT0).empty());
}

TEST_F(SqliteStoreTest, A6_ListOrderedByCreatedAtThenExeIdWithExecutorAndOnline) {
  auto store = open();
  add_online_executor(*store, "exe_c", kT0);
  store->create_executor({.exe_id = "exe_b", .user_id = "u", .display_name = "B"}, kT0);
  store->create_executor({.exe_id = "exe_a", .user_id = "u"}, kT0);
  store->upsert_binding({"ws1", "exe_c", "c", "the c", false}, kT0 + 1);
  store->upsert_binding({"ws1", "exe_b", "b", "", true}, kT0 + 2);
  store->upsert_binding({"ws1", "exe_a", "a", "", false}, kT0 + 2);  // same time: by exe_id
  store->upsert_binding({"ws2", "exe_a", "a", "", false}, kT0);      // another workspace

  const auto list = store->list_bindings("ws1", kT0 + 3);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].binding.exe_id, "exe_c");
  EXPECT_EQ(list[1].binding.exe_id, "exe_a");
  EXPECT_EQ(list[2].binding.exe_id, "exe_b");
  EXPECT_EQ(list[0].binding.workspace_id, "ws1");
  EXPECT_EQ(list[0].binding.description, "the c");
  EXPECT_TRUE(list[0].executor.is_online);
  EXPECT_EQ(list[0].executor.protocol, "relay");
  EXPECT_FALSE(list[1].executor.is_online);
  EXPECT_EQ(list[2].executor.display_name, "B");
  EXPECT_TRUE(list[2].binding.is_default);
}

TEST_F(SqliteStoreTest, A7_DeleteBindingAndWorkspacesOf) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->upsert_binding({"ws2", "exe_1", "n", "", false}, kT0);
  store->upsert_binding({"ws1", "exe_1", "n", "", false}, kT0);
  EXPECT_EQ(store->workspaces_of("exe_1"), (std::vector<std::string>{"ws1", "ws2"}));
  EXPECT_TRUE(store->binding_exists("ws1", "exe_1"));
  EXPECT_TRUE(store->delete_binding("ws1", "exe_1"));
  EXPECT_FALSE(store->delete_binding("ws1", "exe_1"));  // repeated unbind
  EXPECT_FALSE(store->binding_exists("ws1", "exe_1"));
  EXPECT_EQ(store->workspaces_of("exe_1"), (std::vector<std::string>{"ws2"}));
  EXPECT_TRUE(store->get_executor("exe_1", kT0).has_value());
}

// ---------------------------------------------------------------- presence and liveness

TEST_F(SqliteStoreTest, E3_E4_StaleConnectionNeverMarksLiveExecutorOffline) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->heartbeat_replica(kReplica, "", kT0);

  store->upsert_presence("exe_1", kReplica, "conn-A", "relay", kT0 + 1);
  store->upsert_presence("exe_1", kReplica, "conn-B", "json", kT0 + 2);  // replaces A (E1)
  EXPECT_EQ(count("SELECT COUNT(*) FROM executor_presence"), 1);

  // E3: A's cleanup runs after B took over: nothing deleted, nothing marked.
  EXPECT_FALSE(store->remove_presence("exe_1", "conn-A", kT0 + 3));
  auto e = store->get_executor("exe_1", kT0 + 3);
  EXPECT_TRUE(e->is_online);
  EXPECT_FALSE(e->disconnected_at.has_value());
  EXPECT_EQ(e->connected_at, kT0 + 2);
  EXPECT_EQ(e->last_seen_at, kT0 + 2);
  EXPECT_EQ(e->protocol, "json");

  // E4: the live connection ends.
  EXPECT_TRUE(store->remove_presence("exe_1", "conn-B", kT0 + 4));
  e = store->get_executor("exe_1", kT0 + 4);
  EXPECT_FALSE(e->is_online);
  EXPECT_EQ(e->disconnected_at, kT0 + 4);

  // Reconnecting clears disconnected_at.
  store->upsert_presence("exe_1", kReplica, "conn-C", "relay", kT0 + 5);
  e = store->get_executor("exe_1", kT0 + 5);
  EXPECT_TRUE(e->is_online);
  EXPECT_FALSE(e->disconnected_at.has_value());
}

TEST_F(SqliteStoreTest, E6_OnlineOnlyWhileReplicaHeartbeatIsUnder30s) {
  auto store = open();
  add_online_executor(*store, "exe_1", kT0);
  EXPECT_TRUE(store->get_executor("exe_1", kT0 + kReplicaLiveWindowMs - 1)->is_online);
  EXPECT_FALSE(store->get_executor("exe_1", kT0 + kReplicaLiveWindowMs)->is_online);

  store->heartbeat_replica(kReplica, "", kT0 + kReplicaLiveWindowMs);
  EXPECT_TRUE(store->get_executor("exe_1", kT0 + kReplicaLiveWindowMs)->is_online);
}

TEST_F(SqliteStoreTest, PresenceOnReplicaWithoutHeartbeatIsOffline) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->upsert_presence("exe_1", "never-heartbeat", "conn-A", "relay", kT0);
  EXPECT_FALSE(store->get_executor("exe_1", kT0)->is_online);
}

TEST_F(SqliteStoreTest, PresenceForUnknownExecutorIsIgnored) {
  auto store = open();
  EXPECT_NO_THROW(store->upsert_presence("ghost", kReplica, "conn-A", "relay", kT0));
  EXPECT_EQ(count("SELECT COUNT(*) FROM executor_presence"), 0);
  EXPECT_FALSE(store->remove_presence("ghost", "conn-A", kT0));
}

TEST_F(SqliteStoreTest, ClearReplicaPresenceMarksOnlyThatReplicasExecutors) {
  auto store = open();
  add_online_executor(*store, "exe_1", kT0);
  store->create_executor({.exe_id = "exe_2", .user_id = "u"}, kT0);
  store->heartbeat_replica("replica-b", "", kT0);
  store->upsert_presence("exe_2", "replica-b", "conn-2", "relay", kT0);

  store->clear_replica_presence(kReplica, kT0 + 7);
  const auto e1 = store->get_executor("exe_1", kT0 + 7);
  const auto e2 = store->get_executor("exe_2", kT0 + 7);
  EXPECT_FALSE(e1->is_online);
  EXPECT_EQ(e1->disconnected_at, kT0 + 7);
  EXPECT_TRUE(e2->is_online);
  EXPECT_FALSE(e2->disconnected_at.has_value());
  store->clear_replica_presence("replica-none", kT0 + 8);  // no rows: a no-op
}

// After SIGKILL the dead process's presence rows stay behind, under a replica id whose
// heartbeat still looks live for 30 s. The next process to take <db>.lock knows nothing else
// uses the file, so every row is stale: they go, and their executors read as disconnected.
TEST_F(SqliteStoreTest, OpeningWithTheLockClearsPresenceLeftByADeadProcess) {
  {
    auto crashed = open();
    add_online_executor(*crashed, "exe_1", kT0);
  }  // the store goes away without clear_replica_presence, as on SIGKILL
  EXPECT_EQ(count("SELECT COUNT(*) FROM executor_presence"), 1);
  auto store = open();
  EXPECT_EQ(count("SELECT COUNT(*) FROM executor_presence"), 0);
  const auto e = store->get_executor("exe_1", kT0);
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->is_online);
  EXPECT_TRUE(e->disconnected_at.has_value());
}

TEST_F(SqliteStoreTest, OpeningWithoutTheLockKeepsOtherProcessesPresence) {
  {
    auto other = open();
    add_online_executor(*other, "exe_1", kT0);
  }
  auto store = open(/*take_lock=*/false);
  EXPECT_EQ(count("SELECT COUNT(*) FROM executor_presence"), 1);
  EXPECT_TRUE(store->get_executor("exe_1", kT0)->is_online);
}

TEST_F(SqliteStoreTest, HeartbeatKeepsStartedAtAndUpdatesPeerUrl) {
  auto store = open();
  store->heartbeat_replica(kReplica, "http://a:1", kT0);
  store->heartbeat_replica(kReplica, "http://a:2", kT0 + 10'000);
  auto db = raw();
  auto q = db->query("SELECT peer_url, started_at, heartbeat_at FROM replicas");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), "http://a:2");
  EXPECT_EQ(q.int64(1), kT0);
  EXPECT_EQ(q.int64(2), kT0 + 10'000);
  EXPECT_FALSE(q.step());
}

// ---------------------------------------------------------------- revocations

TEST_F(SqliteStoreTest, V7_RevokingAgainKeepsTheLaterExpiry) {
  auto store = open();
  EXPECT_EQ(store->revoke_turn("turn-1", kT0 + 1000, kT0), kT0 + 1000);
  EXPECT_EQ(store->revoke_turn("turn-1", kT0 + 500, kT0 + 1), kT0 + 1000);  // never shortened
  EXPECT_EQ(store->revoke_turn("turn-1", kT0 + 2000, kT0 + 2), kT0 + 2000);
  const auto rows = store->load_revocations(kT0);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].turn_id, "turn-1");
  EXPECT_EQ(rows[0].expires_at, kT0 + 2000);
  EXPECT_EQ(rows[0].revoked_at, kT0);  // the first revocation's time
}

TEST_F(SqliteStoreTest, V3_RevocationSurvivesReopen) {
  open()->revoke_turn("turn-1", kT0 + 1000, kT0);
  auto store = open();
  const auto rows = store->load_revocations(kT0);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].turn_id, "turn-1");
  EXPECT_EQ(rows[0].expires_at, kT0 + 1000);
}

TEST_F(SqliteStoreTest, V4_LoadAndPruneBoundaryAtExpiresAt) {
  auto store = open();
  store->revoke_turn("past", kT0 - 1, kT0 - 10);
  store->revoke_turn("now", kT0, kT0 - 10);
  store->revoke_turn("future", kT0 + 1, kT0 - 10);

  std::set<std::string> loaded;
  for (const auto& r : store->load_revocations(kT0)) loaded.insert(r.turn_id);
  EXPECT_EQ(loaded, (std::set<std::string>{"now", "future"}));  // revoked while now <= expires_at

  EXPECT_EQ(store->prune_revocations(kT0), 1u);  // expires_at == now is kept
  EXPECT_EQ(count("SELECT COUNT(*) FROM turn_revocations"), 2);
  EXPECT_EQ(store->prune_revocations(kT0), 0u);
  EXPECT_EQ(store->prune_revocations(kT0 + 2), 2u);
}

TEST_F(SqliteStoreTest, V5_101kRevocationsAreAllLoaded) {
  constexpr int kBulk = 100'000;
  auto store = open();
  {
    // 100 000 rows through a second connection in one transaction: one store transaction
    // per revocation would spend seconds on commits and test nothing more.
    auto db = raw();
    sqlite::Transaction tx(*db);
    for (int i = 0; i < kBulk; ++i) {
      db->query("INSERT INTO turn_revocations (turn_id, expires_at, revoked_at) VALUES (?, ?, ?)")
          .bind_all("turn-" + std::to_string(i), kT0 + 86'400'000, kT0)
          .run();
    }
    tx.commit();
  }
  store->revoke_turn("turn-100000", kT0 + 86'400'000, kT0);  // the 100 001st, through the store

  const auto rows = store->load_revocations(kT0);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kBulk + 1));
  std::set<std::string> ids;
  for (const auto& r : rows) ids.insert(r.turn_id);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kBulk + 1));  // distinct, none evicted
  EXPECT_TRUE(ids.count("turn-0") && ids.count("turn-99999") && ids.count("turn-100000"));
  EXPECT_EQ(store->prune_revocations(kT0), 0u);  // nothing is dropped before its expiry
}

// ---------------------------------------------------------------- misc

TEST_F(SqliteStoreTest, PingAnswers) { EXPECT_NO_THROW(open()->ping()); }

TEST_F(SqliteStoreTest, ConcurrentCallsFromSeveralThreads) {
  auto store = open();
  store->create_executor({.exe_id = "exe_1", .user_id = "alice"}, kT0);
  store->heartbeat_replica(kReplica, "", kT0);
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      try {
        for (int i = 0; i < 200; ++i) {
          store->revoke_turn("t" + std::to_string(t) + "-" + std::to_string(i), kT0 + i, kT0);
          store->upsert_presence("exe_1", kReplica, "c" + std::to_string(t), "relay", kT0 + i);
          store->remove_presence("exe_1", "c" + std::to_string(t), kT0 + i);
          store->list_bindings("ws1", kT0);
          store->get_executor("exe_1", kT0);
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->load_revocations(kT0).size(), 800u);
}

}  // namespace
}  // namespace cxg::store
