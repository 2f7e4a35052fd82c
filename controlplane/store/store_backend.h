// StoreBackend: the thin transactional store under ConfigStore's rules (config_store.h), in the
// way go-control-plane keeps its snapshot cache apart from what fills it. A backend stores rows
// and knows nothing of routes' meaning: ConfigStore decides every change on the config in
// memory and hands the backend the delta to write. Two implementations: SqliteStore (one file,
// one process) and PostgresStore (any number of control-plane replicas on one database). The
// conformance suite (tests/unit/controlplane/config_store_*_test.cc) runs against both.
//
// One thread at a time uses a backend (the StoreWorker), except WaitForChange/StopWaiting,
// which the change feed's thread calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/store/store_result.h"
#include "gateway.pb.h"

namespace gw {

// A published config: services and consumers sorted by name, routes by identity
// (SortConfig in common/config_delta.h). Immutable.
using ConfigPtr = std::shared_ptr<const gateway::v1::Config>;

// The schema both backends migrate to: 1-4 the config (see sqlite_store.cc), 5 the cluster
// registry (replicas and their gateways), 6 the actor of each version, 7 each version's change
// kept whole (both ways) with the command that made it, 8 the TLS certificates.
inline constexpr int kConfigSchemaVersion = 8;

// What a write did, for the history table (and the log).
// The actor of a write when auth is off.
inline constexpr std::string_view kAnonymousActor = "anonymous";

struct HistoryEntry {
  std::string action;                                // "create_route", ...
  std::string detail;                                // "/api (prefix) -> a"
  std::string actor = std::string(kAnonymousActor);  // who asked (controlplane/auth.h Caller)
  std::string command;                               // what made it (WriteOptions.command)
  // What turns this version back into the one before (base_version: this version); the
  // forward change is the delta WriteChange writes. Rollback walks these back from the newest.
  gateway::v1::ConfigDelta reverse;
};

// A history row as read back: the record, and when it has them (record.has_changes) its change
// both ways.
struct HistoryRow {
  gateway::v1::HistoryRecord record;
  gateway::v1::ConfigDelta forward;  // version - 1 -> version
  gateway::v1::ConfigDelta reverse;  // version -> version - 1
};

// Which history rows to read: versions in (after, up_to], newest first, at most `limit` (0: no
// limit), with their changes or only the records.
struct HistoryQuery {
  uint64_t after = 0;
  uint64_t up_to = UINT64_MAX;
  uint32_t limit = 0;
  bool changes = false;
};

// What the backend keeps of the cluster: every replica's row and every gateway's row.
struct ClusterRows {
  struct Replica {
    gateway::v1::ReplicaStatus status;  // alive and self unset
    int64_t heartbeat_age_ms = 0;       // by the database's clock
  };
  std::vector<Replica> replicas;
  std::vector<gateway::v1::GatewayStatus> gateways;  // `replica` set; as its replica last wrote
};

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  // How messages name the store: "database /var/lib/gateway/cp.db",
  // "database postgresql://gateway@db:5432/gateway" (never a password).
  virtual const std::string& name() const = 0;

  // --- transactions. One at a time; a write transaction holds the store's write lock until it
  // ends (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE, the version row locked), so
  // versions come out unique and in order whichever replica writes. A failed Commit of a write
  // transaction that lost a race with another replica is kConflict: run the rules again.
  virtual std::optional<StoreError> Begin(bool write) = 0;
  virtual std::optional<StoreError> Commit() = 0;
  virtual void Rollback() = 0;  // no-op without a transaction

  // Inside a transaction.
  virtual StoreResult<uint64_t> ReadVersion() = 0;
  virtual StoreResult<ConfigPtr> ReadConfig() = 0;  // at ReadVersion(), in published order
  // In a write transaction: writes the delta's rows (objects carry their new versions), makes
  // `version` the config version and adds the history row. PostgreSQL also announces the
  // version to the other replicas, on commit.
  virtual std::optional<StoreError> WriteChange(const gateway::v1::ConfigDelta& delta,
                                                uint64_t version, const HistoryEntry& history) = 0;
  // In a write transaction: forgets the history rows of versions up to `version` (--history-keep).
  virtual std::optional<StoreError> ForgetHistory(uint64_t version) = 0;
  // Inside a transaction.
  virtual StoreResult<std::vector<HistoryRow>> ReadHistory(const HistoryQuery& query) = 0;
  virtual StoreResult<uint64_t> ReadOldestHistoryVersion() = 0;  // 0: no rows

  // --- the cluster registry; each call is its own transaction.
  // This replica's row (heartbeat now), the gateways of this replica that changed, and those it
  // forgot. A row shown connected by another replica is never overwritten by a disconnected one
  // (the gateway moved there).
  virtual std::optional<StoreError> WriteRegistry(
      const gateway::v1::ReplicaStatus& replica,
      const std::vector<gateway::v1::GatewayStatus>& changed,
      const std::vector<std::string>& forgotten) = 0;
  // At start: this replica's gateway rows from an earlier run are no longer connected.
  virtual std::optional<StoreError> DisconnectReplica(const std::string& replica_id,
                                                      int64_t since_unix_ms) = 0;
  virtual StoreResult<ClusterRows> ReadRegistry() = 0;
  // Forgets gateway rows (of any replica) by node id.
  virtual std::optional<StoreError> ForgetGateways(const std::vector<std::string>& node_ids) = 0;

  // --- the change feed. Blocks up to `timeout` or until the stored version may have changed:
  // another replica announced a write, or the feed's connection was re-established (which
  // loses announcements). A return does not promise a change; the caller re-reads the version.
  virtual void WaitForChange(std::chrono::milliseconds timeout) = 0;
  virtual void StopWaiting() = 0;  // wakes WaitForChange, now and for good (shutdown)
};

// The backend `db` names: a postgres:// or postgresql:// URI (any libpq connection URI) is
// PostgreSQL; anything else is a SQLite file path. Connects (PostgreSQL: waits for the database
// with backoff up to `connect_wait`), migrates, and throws std::runtime_error with one sentence
// when that fails.
std::unique_ptr<StoreBackend> OpenStoreBackend(const std::string& db,
                                               std::chrono::milliseconds connect_wait);

bool IsPostgresUrl(const std::string& db);

}  // namespace gw
