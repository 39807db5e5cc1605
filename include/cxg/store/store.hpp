#pragma once
// The persistence interface the handlers use (http-api.md §6). Implementations: SQLite
// (store/sqlite_store.hpp) and, later, PostgreSQL. Calls are synchronous and thread-safe;
// they run on the API worker pool. Any failure to reach or use the database throws
// StoreError; expected outcomes (not found, conflicts) are return values.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cxg::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// All times are Unix milliseconds (UTC).
struct Executor {
  std::string exe_id;
  std::string user_id;
  std::string display_name, description, default_cwd;
  std::int64_t registered_at = 0;
  std::optional<std::int64_t> last_seen_at;
  std::string client_ip, client_ua, codex_version, os, protocol;  // "" = unset
  std::optional<std::int64_t> connected_at, disconnected_at;
  bool is_online = false;  // presence row on a live replica
};

struct NewExecutor {
  std::string exe_id, user_id, display_name, description, default_cwd;
};

enum class CreateExecutorResult { created, already_owned, taken_by_other };

// Registration metadata; empty strings never overwrite stored values.
struct RegistrationMetadata {
  std::string client_ip, client_ua, codex_version, os, protocol;
};

struct Binding {
  std::string workspace_id, exe_id, name, description;
  bool is_default = false;
};

enum class UpsertBindingResult { ok, executor_not_found, name_taken };

// A binding joined with its executor (ConnectedExecutor JSON model, http-api.md §4).
struct BoundExecutor {
  Binding binding;
  std::int64_t binding_created_at = 0;
  Executor executor;
};

struct Revocation {
  std::string turn_id;
  std::int64_t expires_at = 0;
  std::int64_t revoked_at = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- executors
  virtual CreateExecutorResult create_executor(const NewExecutor& e, std::int64_t now) = 0;
  virtual std::optional<Executor> get_executor(const std::string& exe_id, std::int64_t now) = 0;
  // Returns whether a row existed. Cascades to bindings and presence.
  virtual bool delete_executor(const std::string& exe_id) = 0;
  // Owner of the executor, or nullopt if it does not exist.
  virtual std::optional<std::string> executor_owner(const std::string& exe_id) = 0;
  // Creates the row for `user_id` if absent (CXG_REGISTER_AUTO_CREATE); returns the owner.
  virtual std::string ensure_executor(const std::string& exe_id, const std::string& user_id,
                                      std::int64_t now) = 0;
  // Sets last_seen_at = now and the non-empty metadata fields.
  virtual void record_registration(const std::string& exe_id, const RegistrationMetadata& m,
                                   std::int64_t now) = 0;

  // --- workspace bindings
  virtual UpsertBindingResult upsert_binding(const Binding& b, std::int64_t now) = 0;
  virtual bool delete_binding(const std::string& workspace_id, const std::string& exe_id) = 0;
  virtual bool binding_exists(const std::string& workspace_id, const std::string& exe_id) = 0;
  // Ordered by binding created_at, then exe_id.
  virtual std::vector<BoundExecutor> list_bindings(const std::string& workspace_id,
                                                   std::int64_t now) = 0;
  // Workspaces an executor is bound to (to close bridges on unbind/delete).
  virtual std::vector<std::string> workspaces_of(const std::string& exe_id) = 0;

  // --- presence (rule 2: a stale connection never marks a live executor offline)
  // Upserts presence for conn_id and sets connected_at = last_seen_at = now, disconnected_at = NULL.
  virtual void upsert_presence(const std::string& exe_id, const std::string& replica_id,
                               const std::string& conn_id, const std::string& protocol,
                               std::int64_t now) = 0;
  // Deletes presence WHERE exe_id AND conn_id; sets disconnected_at only if a row was deleted.
  virtual bool remove_presence(const std::string& exe_id, const std::string& conn_id,
                               std::int64_t now) = 0;
  virtual void touch_last_seen(const std::string& exe_id, std::int64_t now) = 0;
  // Deletes all presence rows of a replica (startup cleanup, shutdown), setting disconnected_at.
  virtual void clear_replica_presence(const std::string& replica_id, std::int64_t now) = 0;

  // --- replicas (liveness: heartbeat under 30 s old)
  virtual void heartbeat_replica(const std::string& replica_id, const std::string& peer_url,
                                 std::int64_t now) = 0;

  // --- turn revocations (rule 4: expires_at = max(old, new))
  // Returns the effective expires_at after the upsert.
  virtual std::int64_t revoke_turn(const std::string& turn_id, std::int64_t expires_at,
                                   std::int64_t now) = 0;
  // Rows with expires_at >= now.
  virtual std::vector<Revocation> load_revocations(std::int64_t now) = 0;
  // Deletes rows with expires_at < now; returns the count.
  virtual std::size_t prune_revocations(std::int64_t now) = 0;

  // Readiness probe; throws StoreError if the database does not answer.
  virtual void ping() = 0;
};

constexpr std::int64_t kReplicaLiveWindowMs = 30'000;

}  // namespace cxg::store
