// ConfigStore: the control plane's source of truth, the routes and services in one SQLite file.
//
// Owned by the control plane and used from ONE thread (the StoreWorker). Every write is one
// `BEGIN IMMEDIATE` transaction: the input is validated before anything is touched, existence
// and conflicts are checked, rows are written, the config version is bumped by exactly 1 and a
// history row is added; then it commits and answers with the new full snapshot, which the caller
// publishes. A refused write changes nothing, version included.
//
// An update that changes nothing (same endpoints; same target and body limit) is accepted as a
// no-op: it does not bump the version, and it answers with the current snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/store/sqlite.h"
#include "controlplane/store/store_result.h"
#include "gateway.pb.h"

namespace gw {

// A published snapshot: services sorted by name, routes by (path, match). Immutable.
using ConfigPtr = std::shared_ptr<const gateway::v1::Config>;

inline constexpr int kConfigSchemaVersion = 2;  // PRAGMA user_version after migration

struct ServiceWrite {
  gateway::v1::Service service;  // as stored, version set
  ConfigPtr snapshot;            // the whole config after the write
};

struct RouteWrite {
  gateway::v1::Route route;  // as stored, match and version set
  ConfigPtr snapshot;
};

struct ServiceRead {
  gateway::v1::Service service;
  uint64_t config_version = 0;
};

struct RouteRead {
  gateway::v1::Route route;
  uint64_t config_version = 0;
};

class ConfigStore {
 public:
  // Opens the database file and migrates its schema to kConfigSchemaVersion. Throws
  // std::runtime_error with one sentence when that fails (start-up only).
  static std::unique_ptr<ConfigStore> Open(const std::string& path);

  StoreResult<ServiceWrite> CreateService(const gateway::v1::Service& service);
  // Replaces the endpoint list of an existing service.
  StoreResult<ServiceWrite> UpdateService(const gateway::v1::Service& service);
  StoreResult<ServiceRead> GetService(std::string_view name);
  StoreResult<ConfigPtr> ListServices();  // the snapshot; its services are the list
  // Refused with kFailedPrecondition while a route targets the service.
  StoreResult<ConfigPtr> DeleteService(std::string_view name);

  // route.match must be MATCH_PREFIX or MATCH_EXACT.
  StoreResult<RouteWrite> CreateRoute(const gateway::v1::Route& route);
  // Changes the fields `mask` names ("target", "max_body_size") of the route (route.path,
  // route.match; MATCH_UNSPECIFIED means the only route with that path) to their values in
  // `route`; the others keep theirs. An empty mask names the fields set in `route` (what clients
  // from before update_mask send: the target). See UpdateRouteRequest in proto/gateway.proto.
  StoreResult<RouteWrite> UpdateRoute(
      const gateway::v1::Route& route,
      const google::protobuf::FieldMask& mask = google::protobuf::FieldMask());
  StoreResult<RouteRead> GetRoute(const gateway::v1::RouteKey& key);
  StoreResult<ConfigPtr> ListRoutes();  // the snapshot; its routes are the list
  StoreResult<ConfigPtr> DeleteRoute(const gateway::v1::RouteKey& key);

  // The whole current config, as published.
  StoreResult<ConfigPtr> LoadSnapshot();

 private:
  explicit ConfigStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  void Migrate();  // throws at start-up
  StoreResult<uint64_t> ReadVersion();
  StoreResult<uint64_t> BumpVersion(std::string_view action, std::string_view detail);
  StoreResult<ConfigPtr> ReadSnapshot();
  // The snapshot a write produces, read inside its transaction, then the commit.
  StoreResult<ConfigPtr> CommitWithSnapshot(Transaction& tx);
  StoreResult<gateway::v1::Route> FindRoute(std::string_view path, gateway::v1::MatchKind match);
  StoreResult<bool> ServiceExists(std::string_view name);
  StoreError Internal(std::string_view what, const std::string& detail) const;

  std::unique_ptr<Database> db_;
};

}  // namespace gw
