// ConfigStore: the control plane's source of truth, the routes, services and consumers in one
// SQLite file.
//
// Owned by the control plane and used from ONE thread (the StoreWorker). Every write is one
// `BEGIN IMMEDIATE` transaction: the input is validated before anything is touched, existence
// and conflicts are checked, rows are written, the config version is bumped by exactly 1 and a
// history row is added; then the whole config the write produced is checked as a gateway checks
// a pushed one (ValidateConfig) and against the size gateways accept, and only then it commits
// and answers with the new full snapshot, which the caller publishes. A refused write changes
// nothing, version included: what the store holds, every gateway accepts (but for a gateway's
// own --max-routes).
//
// Inputs are put in canonical form first (CanonicalizeRoute/CanonicalizeService: methods
// upper-case and sorted, header names lower-case, defaults of a policy filled in), so equal
// things compare equal. An update that changes nothing is accepted as a no-op: it does not bump
// the version, and it answers with the current snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/store/sqlite.h"
#include "common/wire_limits.h"
#include "controlplane/store/store_result.h"
#include "gateway.pb.h"

namespace gw {

// A published snapshot: services and consumers sorted by name, routes by (path, match, host,
// methods, headers). Immutable.
using ConfigPtr = std::shared_ptr<const gateway::v1::Config>;

inline constexpr int kConfigSchemaVersion = 4;  // PRAGMA user_version after migration

struct ConfigStoreOptions {
  // A write that would make the serialized config larger than this (and larger than it was) is
  // refused (RESOURCE_EXHAUSTED). At most kMaxConfigBytes (common/wire_limits.h), what gateways
  // accept.
  uint64_t max_config_bytes = kMaxConfigBytes;
};

struct ServiceWrite {
  gateway::v1::Service service;  // as stored, version set
  ConfigPtr snapshot;            // the whole config after the write
};

struct RouteWrite {
  gateway::v1::Route route;  // as stored, match and version set
  ConfigPtr snapshot;
  std::vector<std::string> warnings;  // accepted, but worth a look (RouteResponse.warnings)
};

struct ConsumerWrite {
  gateway::v1::Consumer consumer;  // as stored: api key digests, never keys
  ConfigPtr snapshot;
};

struct ConsumerRead {
  gateway::v1::Consumer consumer;
  uint64_t config_version = 0;
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
  // Opens the database file (Database::Open: mode 0600, locked for the store's life) and migrates
  // its schema to kConfigSchemaVersion, then proves it can write. Throws std::runtime_error
  // with one sentence when that fails (start-up only), and for a file that holds another
  // application's tables.
  static std::unique_ptr<ConfigStore> Open(const std::string& path,
                                           const ConfigStoreOptions& options = {});

  StoreResult<ServiceWrite> CreateService(const gateway::v1::Service& service);
  // Changes the fields `mask` names ("endpoints", "lb", "health_check", "health_check.path",
  // ...) of service `service.name` to their values in `service`; an empty mask names the
  // endpoints (clients from before update_mask). See UpdateServiceRequest.
  StoreResult<ServiceWrite> UpdateService(
      const gateway::v1::Service& service,
      const google::protobuf::FieldMask& mask = google::protobuf::FieldMask());
  StoreResult<ServiceRead> GetService(std::string_view name);
  StoreResult<ConfigPtr> ListServices();  // the snapshot; its services are the list
  // Refused with kFailedPrecondition while a route targets the service, alone or in a split.
  StoreResult<ConfigPtr> DeleteService(std::string_view name);

  // route.match must be MATCH_PREFIX or MATCH_EXACT. A route's identity is (path, match, host,
  // methods, headers); a split's bare names must be services. A target that is no service and
  // has no dot and no port is stored (the gateways resolve it by DNS) with a warning.
  StoreResult<RouteWrite> CreateRoute(const gateway::v1::Route& route);
  // Changes the policy fields `mask` names ("target", "split", "max_body_size", "rate_limit",
  // "rate_limit.burst", "cors", ...) of the route `route`'s match names (see RouteKey, and
  // FindRoute below) to their values in `route`; the others keep theirs. "target" and "split"
  // replace each other. An empty mask names the target and max_body_size when set (what clients
  // from before update_mask send). See UpdateRouteRequest in proto/gateway.proto.
  StoreResult<RouteWrite> UpdateRoute(
      const gateway::v1::Route& route,
      const google::protobuf::FieldMask& mask = google::protobuf::FieldMask());
  StoreResult<RouteRead> GetRoute(const gateway::v1::RouteKey& key);
  StoreResult<ConfigPtr> ListRoutes();  // the snapshot; its routes are the list
  // The route deleted (as it was stored) and the config after.
  StoreResult<RouteWrite> DeleteRoute(const gateway::v1::RouteKey& key);

  // `api_keys` in clear are checked and stored as SHA-256 digests only.
  StoreResult<ConsumerWrite> CreateConsumer(const gateway::v1::Consumer& consumer,
                                            const std::vector<std::string>& api_keys);
  StoreResult<ConsumerRead> GetConsumer(std::string_view name);
  StoreResult<ConfigPtr> ListConsumers();  // the snapshot; its consumers are the list
  // Allowed while routes require auth: they then refuse that consumer's credentials.
  StoreResult<ConfigPtr> DeleteConsumer(std::string_view name);

  // The whole current config, as published.
  StoreResult<ConfigPtr> LoadSnapshot();

 private:
  ConfigStore(std::unique_ptr<Database> db, const ConfigStoreOptions& options)
      : db_(std::move(db)), options_(options) {}

  void Migrate();  // throws at start-up
  StoreResult<uint64_t> ReadVersion();
  StoreResult<uint64_t> BumpVersion(std::string_view action, std::string_view detail);
  StoreResult<ConfigPtr> ReadSnapshot();
  // The snapshot a write produces, read inside its transaction and checked as gateways will
  // check it (ValidateConfig, max_config_bytes), then the commit.
  StoreResult<ConfigPtr> CommitWithSnapshot(Transaction& tx);
  // The route a key names: the one with exactly the key's conditions (and kind, unless
  // MATCH_UNSPECIFIED); else the only one that has them all; else kNotFound, or
  // kFailedPrecondition naming the candidates. `key` is canonical.
  StoreResult<gateway::v1::Route> FindRoute(const gateway::v1::RouteKey& key);
  StoreResult<bool> ServiceExists(std::string_view name);
  StoreResult<std::set<std::string, std::less<>>> ServiceNames();
  // A split's bare names must be registered services.
  std::optional<StoreError> CheckRouteAgainstServices(const gateway::v1::Route& route);
  // Warnings for a route's single target: no service by that name, and no dot or port.
  StoreResult<std::vector<std::string>> TargetWarnings(const gateway::v1::Route& route);
  std::optional<StoreError> WriteEndpoints(const gateway::v1::Service& service);
  // Every consumer sorted by name, or only `only` when not empty.
  StoreResult<std::vector<gateway::v1::Consumer>> ReadConsumers(std::string_view only);
  StoreError Internal(std::string_view what, const std::string& detail) const;

  std::unique_ptr<Database> db_;
  const ConfigStoreOptions options_;
  uint64_t committed_bytes_ = 0;  // serialized size of the config last committed
};

}  // namespace gw
