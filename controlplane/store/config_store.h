// ConfigStore: the control plane's source of truth, the routes, services, consumers and
// certificates, and the rules every write obeys, whichever backend stores the rows
// (store_backend.h: one SQLite file, or a PostgreSQL database shared by replicas).
//
// Owned by the control plane and used from ONE thread (the StoreWorker). A write runs in one
// write transaction of the backend, which holds the store's write lock: the input is put in
// canonical form and validated before anything is read, the rule is applied to the stored config
// in memory (existence, conflicts, references, update masks), the whole resulting config is
// checked as a gateway checks a pushed one (ValidateConfig) and against the size gateways accept,
// and only then the backend writes the delta's rows with the next version and a history row, and
// commits. A refused write changes nothing, version included: what the store holds, every gateway
// accepts (but for a gateway's own --max-routes). A write that lost a race with another replica
// (kConflict) is run again on the newer config, a few times.
//
// Each write records who made it (`actor`: a token's name, a client certificate's subject, or
// "anonymous") in its history row, with the time and the version it made.
//
// An update that changes nothing is accepted as a no-op: it does not bump the version, and it
// answers with the current snapshot.
//
// The change feed: every config the store learns of, its own writes at once and other replicas'
// writes when Refresh() finds a newer version, goes to the OnChange callback (the
// SnapshotPublisher), in increasing version order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/wire_limits.h"
#include "controlplane/store/store_backend.h"
#include "controlplane/store/store_result.h"
#include "gateway.pb.h"

namespace gw {

// The history rows kept by default (controlplane --history-keep): each holds a version's change
// both ways, so ten thousand small changes take a few megabytes.
inline constexpr uint64_t kDefaultHistoryKeep = 10000;

struct ConfigStoreOptions {
  // A write that would make the serialized config larger than this (and larger than it was) is
  // refused (RESOURCE_EXHAUSTED). At most kMaxConfigBytes (common/wire_limits.h), what gateways
  // accept.
  uint64_t max_config_bytes = kMaxConfigBytes;
  // The newest versions whose history rows are kept (at least 1); older ones are forgotten by
  // each write, oldest first. Rollback reaches back to the version before the oldest kept.
  uint64_t history_keep = kDefaultHistoryKeep;
};

// Who asks for a write, and on what condition (gateway.proto WriteOptions).
struct WriteContext {
  std::string actor = std::string(kAnonymousActor);  // for the history row (and the log)
  std::optional<uint64_t> if_version;  // refused (kFailedPrecondition) unless at this version
  std::string command;                 // what made it, for the history row
  bool dry_run = false;                // everything checked, nothing written
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

struct CertificateWrite {
  gateway::v1::Certificate certificate;  // as stored, key included (the admin service redacts)
  ConfigPtr snapshot;
  // Accepted, but worth a look: it expires within kCertificateExpiryWarningDays.
  std::vector<std::string> warnings;
  std::string previous_default;  // the certificate this write took the default flag from
};

// A certificate written (created, updated, applied) that expires within this many days is
// stored with a warning; one expired or not yet valid is refused (a rollback only warns).
inline constexpr int64_t kCertificateExpiryWarningDays = 30;

// What Apply and Rollback did (or, for a dry run, would do).
struct ApplyWrite {
  // Objects whole, consumers with their secrets (the admin service redacts them).
  std::vector<gateway::v1::ObjectChange> changes;
  ConfigPtr snapshot;  // the config after: the current one when nothing changed; for a dry run
                       // the one it would make (not published)
  std::vector<std::string> warnings;
  std::string summary;  // the history row's: "service cart created; route /api (prefix) changed"
};

struct HistoryChange {
  gateway::v1::HistoryRecord record;
  std::vector<gateway::v1::ObjectChange> changes;  // none when !record.has_changes()
};

struct ConsumerRead {
  gateway::v1::Consumer consumer;
  uint64_t config_version = 0;
};

struct CertificateRead {
  gateway::v1::Certificate certificate;
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
  // Opens the store `db` names (OpenStoreBackend: a SQLite path, or a postgres:// URI) and
  // reads its config. Throws std::runtime_error with one sentence when that fails (start-up).
  static std::unique_ptr<ConfigStore> Open(const std::string& db,
                                           const ConfigStoreOptions& options = {});
  ConfigStore(std::unique_ptr<StoreBackend> backend, const ConfigStoreOptions& options);

  StoreBackend& backend() { return *backend_; }

  // The change feed's consumer, called with each newer config and whether this store wrote
  // it; set before the first write.
  void OnChange(std::function<void(const ConfigPtr&, bool local)> callback) {
    on_change_ = std::move(callback);
  }
  // Reads the stored version and, when it is newer than the last one known, the config, which
  // goes to OnChange. The feed calls it when the backend says the store may have changed, and
  // every second as a safety net. An error (the database is unreachable) changes nothing.
  std::optional<StoreError> Refresh();

  StoreResult<ServiceWrite> CreateService(const gateway::v1::Service& service,
                                          const WriteContext& context = {});
  // Changes the fields `mask` names ("endpoints", "lb", "health_check", "health_check.path",
  // ...) of service `service.name` to their values in `service`; an empty mask names the
  // endpoints (clients from before update_mask). See UpdateServiceRequest.
  StoreResult<ServiceWrite> UpdateService(
      const gateway::v1::Service& service,
      const google::protobuf::FieldMask& mask = google::protobuf::FieldMask(),
      const WriteContext& context = {});
  StoreResult<ServiceRead> GetService(std::string_view name);
  StoreResult<ConfigPtr> ListServices();  // the snapshot; its services are the list
  // Refused with kFailedPrecondition while a route targets the service, alone or in a split.
  StoreResult<ConfigPtr> DeleteService(std::string_view name, const WriteContext& context = {});

  // route.match must be MATCH_PREFIX or MATCH_EXACT. A route's identity is (path, match, host,
  // methods, headers); a split's bare names must be services; an aggregate part's service must
  // not speak h2c. A target (or a part's) that is no service and has no dot and no port is
  // stored (the gateways resolve it by DNS) with a warning.
  StoreResult<RouteWrite> CreateRoute(const gateway::v1::Route& route,
                                      const WriteContext& context = {});
  // Changes the policy fields `mask` names ("target", "split", "max_body_size", "rate_limit",
  // "rate_limit.burst", "cors", ...) of the route `route`'s match names (see RouteKey, and
  // FindRoute below) to their values in `route`; the others keep theirs. "target", "split" and
  // "aggregate" replace each other (one of them per update); a route that stops being an
  // aggregate loses aggregate_timeout_ms and aggregate_partial too, unless the mask names them. An
  // empty mask names the target and max_body_size when set (what clients from before update_mask
  // send). See UpdateRouteRequest in proto/gateway.proto.
  StoreResult<RouteWrite> UpdateRoute(
      const gateway::v1::Route& route,
      const google::protobuf::FieldMask& mask = google::protobuf::FieldMask(),
      const WriteContext& context = {});
  StoreResult<RouteRead> GetRoute(const gateway::v1::RouteKey& key);
  StoreResult<ConfigPtr> ListRoutes();  // the snapshot; its routes are the list
  // The route deleted (as it was stored) and the config after.
  StoreResult<RouteWrite> DeleteRoute(const gateway::v1::RouteKey& key,
                                      const WriteContext& context = {});

  // `api_keys` in clear are checked and stored as SHA-256 digests only.
  StoreResult<ConsumerWrite> CreateConsumer(const gateway::v1::Consumer& consumer,
                                            const std::vector<std::string>& api_keys,
                                            const WriteContext& context = {});
  StoreResult<ConsumerRead> GetConsumer(std::string_view name);
  StoreResult<ConfigPtr> ListConsumers();  // the snapshot; its consumers are the list
  // Allowed while routes require auth: they then refuse that consumer's credentials.
  StoreResult<ConfigPtr> DeleteConsumer(std::string_view name, const WriteContext& context = {});

  // A chain and its key (both PEM), checked as ValidateCertificate does, and refused when
  // expired or not yet valid. With is_default the default flag moves to it from the
  // certificate that had it, in the same version (CertificateWrite.previous_default).
  StoreResult<CertificateWrite> CreateCertificate(const gateway::v1::Certificate& certificate,
                                                  const WriteContext& context = {});
  // Changes the fields `mask` names ("cert_pem", "key_pem", "is_default") of certificate
  // `certificate.name`; a new chain without a new key must match the stored key. is_default
  // true moves the flag as CreateCertificate does; false clears it.
  StoreResult<CertificateWrite> UpdateCertificate(const gateway::v1::Certificate& certificate,
                                                  const google::protobuf::FieldMask& mask,
                                                  const WriteContext& context = {});
  StoreResult<CertificateRead> GetCertificate(std::string_view name);
  StoreResult<ConfigPtr> ListCertificates();  // the snapshot; its certificates are the list
  StoreResult<ConfigPtr> DeleteCertificate(std::string_view name, const WriteContext& context = {});

  // The whole current config, as stored now.
  StoreResult<ConfigPtr> LoadSnapshot();

  // Declarative: each object of `request` replaces the stored one of its name (routes: of its
  // match) or is created, and with request.prune the objects not given are deleted; all as ONE
  // version, or refused as a whole with the object named. Objects equal to the stored ones make
  // no change (and no version). Consumers' api_keys are stored as digests; a jwt.secret_sha256
  // keeps the stored secret it matches, and a certificate's key_sha256 (without key_pem) the
  // stored key. Certificates it changes are refused when expired or not yet valid. request.dry_run
  // and request.options are ignored: `context` says them.
  StoreResult<ApplyWrite> Apply(const gateway::v1::ApplyRequest& request,
                                const WriteContext& context = {});
  // The config exactly as it was at `version` (rebuilt from the newest back with each
  // version's reverse change), as a new version. Refused when the history no longer reaches it.
  // A certificate it restores that is expired or close to it is a warning, not a refusal.
  StoreResult<ApplyWrite> Rollback(uint64_t version, const WriteContext& context = {});

  // The newest `limit` history records, newest first.
  StoreResult<std::vector<gateway::v1::HistoryRecord>> ListHistory(uint32_t limit);
  // The oldest version the history still holds (0: none).
  StoreResult<uint64_t> OldestHistoryVersion();
  // One version's record and its changes.
  StoreResult<HistoryChange> GetHistory(uint64_t version);

 private:
  // A rule: given the stored config (and the version a change would make), puts the config it
  // wants in *next (a copy of current to change) and the history entry in *history; an error
  // refuses the write. Leaving *next equal to current is a no-op.
  using Rule =
      std::function<std::optional<StoreError>(const gateway::v1::Config& current, uint64_t version,
                                              gateway::v1::Config* next, HistoryEntry* history)>;
  // Runs `rule` in a write transaction, checks and commits what it made; the config after (the
  // current one for a no-op; for a dry run the one it would make, not committed). Retries a
  // kConflict. `context` says who asked (for the history row) and on what condition.
  StoreResult<ConfigPtr> Write(const WriteContext& context, const Rule& rule);
  StoreResult<ConfigPtr> WriteOnce(const WriteContext& context, const Rule& rule);
  // Apply and Rollback: `desired` merged into the stored config (see Apply) as one write.
  // `action` and `summary_prefix` + the changes make its history row. `restore`: `desired` is
  // an earlier version's config (a rollback), whose references held then.
  StoreResult<ApplyWrite> WriteDesired(
      const WriteContext& context, const std::string& action, const std::string& summary_prefix,
      const std::function<StoreResult<gateway::v1::Config>(const gateway::v1::Config& current)>&
          desired,
      bool prune, bool restore);
  // The config in the open transaction: the cached one when the stored version is still its.
  StoreResult<ConfigPtr> ReadCurrent();
  // Runs `read` on the current config in a read transaction.
  template <typename T>
  StoreResult<T> Read(const std::function<StoreResult<T>(const gateway::v1::Config&)>& read);
  void Learn(const ConfigPtr& config, bool local);  // newer than known: cache it and feed it

  std::unique_ptr<StoreBackend> backend_;
  const ConfigStoreOptions options_;
  ConfigPtr known_;  // the newest config read or written
  std::function<void(const ConfigPtr&, bool)> on_change_;
};

}  // namespace gw
