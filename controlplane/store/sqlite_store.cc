#include "controlplane/store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "common/config_delta.h"
#include "common/duration.h"
#include "common/validation.h"
#include "controlplane/store/row_codec.h"
#include "controlplane/store/sqlite.h"

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::ConfigDelta;
using gateway::v1::Consumer;
using gateway::v1::Route;
using gateway::v1::Service;

// Migration N (index N-1) brings a database from user_version N-1 to N. Never edit one that
// has shipped; add the next instead.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('config_version', 0);
CREATE TABLE services (
  name    TEXT PRIMARY KEY,
  version INTEGER NOT NULL
);
CREATE TABLE endpoints (
  service  TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  host     TEXT NOT NULL,
  port     INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  PRIMARY KEY (service, position)
);
CREATE TABLE routes (
  path    TEXT NOT NULL,
  "match" INTEGER NOT NULL CHECK ("match" IN (1, 2)),  -- MatchKind: 1 prefix, 2 exact
  target  TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (path, "match")
);
CREATE INDEX routes_by_target ON routes (target);
CREATE TABLE history (
  version    INTEGER PRIMARY KEY,
  at_unix_ms INTEGER NOT NULL,
  action     TEXT NOT NULL,
  detail     TEXT NOT NULL
);
)sql";

// Version 2: a request body limit per route, in bytes; 0 (every route written before) means
// the gateway's own --max-body-size.
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE routes ADD COLUMN max_body_size INTEGER NOT NULL DEFAULT 0 CHECK (max_body_size >= 0);
)sql";

// Version 3 (issue 4): a route's identity is its whole match, (path, match, host, methods,
// headers), in canonical form (common/policy_validation.h); its policies live in one column, a
// serialized Route holding only the policy fields, so a new policy field needs no migration.
// Services get the same policy column; consumers and the digests of their API keys get tables.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE routes_v3 (
  path          TEXT NOT NULL,
  "match"       INTEGER NOT NULL CHECK ("match" IN (1, 2)),
  host          TEXT NOT NULL DEFAULT '',  -- '' any; lower-case
  methods       TEXT NOT NULL DEFAULT '',  -- upper-case, sorted, ',' between; '' any
  headers       TEXT NOT NULL DEFAULT '',  -- "name=value" by lower-case name, '\n' between
  target        TEXT NOT NULL,             -- '' when the policy holds a split
  version       INTEGER NOT NULL,
  max_body_size INTEGER NOT NULL DEFAULT 0 CHECK (max_body_size >= 0),
  policy        BLOB NOT NULL DEFAULT x'', -- gateway.v1.Route with only its policy fields
  PRIMARY KEY (path, "match", host, methods, headers)
);
INSERT INTO routes_v3 (path, "match", target, version, max_body_size)
  SELECT path, "match", target, version, max_body_size FROM routes;
DROP TABLE routes;
ALTER TABLE routes_v3 RENAME TO routes;
CREATE INDEX routes_by_target ON routes (target);
ALTER TABLE services ADD COLUMN policy BLOB NOT NULL DEFAULT x'';  -- Service, policy fields only
CREATE TABLE consumers (
  name           TEXT PRIMARY KEY,
  version        INTEGER NOT NULL,
  jwt_issuer     TEXT NOT NULL DEFAULT '',  -- '' no JWT credential
  jwt_secret     TEXT NOT NULL DEFAULT '',
  jwt_public_key TEXT NOT NULL DEFAULT ''
);
CREATE TABLE consumer_api_keys (
  sha256   TEXT PRIMARY KEY,  -- hex SHA-256 of the key; keys themselves are never stored
  consumer TEXT NOT NULL REFERENCES consumers (name) ON DELETE CASCADE,
  position INTEGER NOT NULL
);
CREATE INDEX consumer_api_keys_by_consumer ON consumer_api_keys (consumer, position);
)sql";

// Version 5 (issue 10): the cluster registry. Each replica writes its row every second and the
// rows of its gateways when they change; with SQLite there is one replica.
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE replicas (
  id                TEXT PRIMARY KEY,
  address           TEXT NOT NULL,
  build_version     TEXT NOT NULL,
  loaded_version    INTEGER NOT NULL,
  gateways          INTEGER NOT NULL,
  started_unix_ms   INTEGER NOT NULL,
  heartbeat_unix_ms INTEGER NOT NULL
);
CREATE TABLE gateways (
  node_id              TEXT PRIMARY KEY,
  replica              TEXT NOT NULL,
  connected            INTEGER NOT NULL,
  disconnected_unix_ms INTEGER NOT NULL,
  status               BLOB NOT NULL  -- gateway.v1.GatewayStatus
);
)sql";

// Version 6 (issue 11): who made each version (a token's name, a certificate's subject, or
// "anonymous"; '' for versions made before).
constexpr std::string_view kSchemaV6HistoryActor = R"sql(
ALTER TABLE history ADD COLUMN actor TEXT NOT NULL DEFAULT '';
)sql";

// Version 7 (issue 12): each version's change kept whole, both ways (gateway.v1.ConfigDelta;
// NULL for versions made before), for `history show` and rollback, and the command that made it.
constexpr std::string_view kSchemaV7HistoryChanges = R"sql(
ALTER TABLE history ADD COLUMN command TEXT NOT NULL DEFAULT '';
ALTER TABLE history ADD COLUMN forward BLOB;
ALTER TABLE history ADD COLUMN reverse BLOB;
)sql";

// Version 8 (issue 13): the TLS certificates gateways serve; `body` is a serialized
// gateway.v1.Certificate without name and version (row_codec.h), private key included.
constexpr std::string_view kSchemaV8Certificates = R"sql(
CREATE TABLE certificates (
  name    TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  body    BLOB NOT NULL
);
)sql";

// Version 4 (issue 9): a split target's weight is 1..10000. A target of weight 0 took no
// traffic: it is left out, and a split left with one target becomes a plain route to it (the
// same traffic). The changed routes make a new config version (with a history row), so that a
// version always names one config. Policies are serialized Routes, so this step is code, not
// SQL. "" or why not.
std::string DropZeroWeightTargets(Database& db) {
  struct Change {
    int64_t rowid;
    std::string target;
    std::string policy;
  };
  std::vector<Change> changes;
  {
    Statement read(db, "SELECT rowid, policy FROM routes");
    int rc;
    while ((rc = read.Step()) == SQLITE_ROW) {
      Route policy;
      if (!policy.ParseFromString(read.ColumnBlob(1))) return "a route's policy does not parse";
      if (std::none_of(policy.split().begin(), policy.split().end(),
                       [](const auto& target) { return target.weight() == 0; }))
        continue;
      Route kept = policy;
      kept.clear_split();
      for (const auto& target : policy.split())
        if (target.weight() != 0) *kept.add_split() = target;
      Change change{read.ColumnInt(0), "", ""};
      if (kept.split_size() == 1) {
        change.target = kept.split(0).target();
        kept.clear_split();
      }
      change.policy = rows::RoutePolicyBytes(kept);
      changes.push_back(std::move(change));
    }
    if (rc != SQLITE_DONE) return read.error();
  }
  if (changes.empty()) return "";
  Statement bump(db,
                 "UPDATE meta SET value = value + 1 WHERE key = 'config_version' RETURNING value");
  if (bump.Step() != SQLITE_ROW) return "bumping the config version: " + bump.error();
  const int64_t version = bump.ColumnInt(0);
  if (!bump.Run()) return bump.error();
  for (const Change& change : changes) {
    Statement update(db, "UPDATE routes SET target = ?, policy = ?, version = ? WHERE rowid = ?");
    update.Bind(1, change.target).BindBlob(2, change.policy);
    update.Bind(3, version).Bind(4, change.rowid);
    if (!update.Run()) return update.error();
  }
  Statement history(
      db, "INSERT INTO history (version, at_unix_ms, action, detail) VALUES (?, ?, ?, ?)");
  history.Bind(1, version).Bind(2, NowUnixMs()).Bind(3, "migrate");
  history.Bind(4, "schema 4: weight-0 split targets dropped from " +
                      std::to_string(changes.size()) + " route(s)");
  if (!history.Run()) return history.error();
  return "";
}

// Migration N (index N-1) brings a database from user_version N-1 to N: its SQL, then its code.
struct Migration {
  std::string_view sql;
  std::string (*code)(Database& db) = nullptr;  // "" or why it failed
};
constexpr Migration kMigrations[] = {{kSchemaV1},
                                     {kSchemaV2},
                                     {kSchemaV3},
                                     {"", DropZeroWeightTargets},
                                     {kSchemaV5},
                                     {kSchemaV6HistoryActor},
                                     {kSchemaV7HistoryChanges},
                                     {kSchemaV8Certificates}};
static_assert(std::size(kMigrations) == kConfigSchemaVersion);

// The tables of a schema this control plane made (any version); another application's are not.
constexpr std::string_view kOwnTables[] = {
    "meta",      "services",          "endpoints", "routes",   "history",
    "consumers", "consumer_api_keys", "replicas",  "gateways", "certificates"};

// The identity columns bound from `first` on, and the WHERE clause that names them.
void BindRouteIdentity(Statement& statement, int first, const rows::RouteColumns& columns) {
  statement.Bind(first, columns.path)
      .Bind(first + 1, columns.match)
      .Bind(first + 2, columns.host)
      .Bind(first + 3, columns.methods)
      .Bind(first + 4, columns.headers);
}
constexpr std::string_view kWhereRouteIdentity =
    " WHERE path = ? AND \"match\" = ? AND host = ? AND methods = ? AND headers = ?";

class SqliteStore final : public StoreBackend {
 public:
  explicit SqliteStore(const std::string& path)
      : db_(Database::Open(path)), name_("database " + path) {
    Migrate();
  }

  const std::string& name() const override { return name_; }

  std::optional<StoreError> Begin(bool write) override {
    tx_.emplace(*db_, write ? Transaction::Mode::kImmediate : Transaction::Mode::kDeferred);
    if (!tx_->ok()) {
      StoreError error = Internal("starting a transaction", tx_->error());
      tx_.reset();
      return error;
    }
    return std::nullopt;
  }

  std::optional<StoreError> Commit() override {
    if (!tx_ || !tx_->Commit()) {
      StoreError error = Internal("committing", tx_ ? tx_->error() : "no transaction");
      tx_.reset();
      return error;
    }
    tx_.reset();
    return std::nullopt;
  }

  void Rollback() override { tx_.reset(); }

  StoreResult<uint64_t> ReadVersion() override {
    Statement read(*db_, "SELECT value FROM meta WHERE key = 'config_version'");
    if (read.Step() != SQLITE_ROW) return Internal("reading the config version", read.error());
    return static_cast<uint64_t>(read.ColumnInt(0));
  }

  StoreResult<ConfigPtr> ReadConfig() override;
  std::optional<StoreError> WriteChange(const ConfigDelta& delta, uint64_t version,
                                        const HistoryEntry& history) override;
  std::optional<StoreError> ForgetHistory(uint64_t version) override {
    Statement forget(*db_, "DELETE FROM history WHERE version <= ?");
    forget.Bind(1, static_cast<int64_t>(version));
    if (!forget.Run()) return Internal("forgetting history", forget.error());
    return std::nullopt;
  }
  StoreResult<std::vector<HistoryRow>> ReadHistory(const HistoryQuery& query) override;
  StoreResult<uint64_t> ReadOldestHistoryVersion() override {
    Statement read(*db_, "SELECT coalesce(min(version), 0) FROM history");
    if (read.Step() != SQLITE_ROW) return Internal("reading history", read.error());
    return static_cast<uint64_t>(read.ColumnInt(0));
  }

  std::optional<StoreError> WriteRegistry(const gateway::v1::ReplicaStatus& replica,
                                          const std::vector<gateway::v1::GatewayStatus>& changed,
                                          const std::vector<std::string>& forgotten) override;
  std::optional<StoreError> DisconnectReplica(const std::string& replica_id,
                                              int64_t since_unix_ms) override;
  StoreResult<ClusterRows> ReadRegistry() override;
  std::optional<StoreError> ForgetGateways(const std::vector<std::string>& node_ids) override;

  // One process owns the file (its lock): no other writer to wait for; the feed's periodic
  // check is all there is.
  void WaitForChange(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(wait_mu_);
    wait_cv_.wait_for(lock, timeout, [this] { return stopped_; });
  }
  void StopWaiting() override {
    std::lock_guard lock(wait_mu_);
    stopped_ = true;
    wait_cv_.notify_all();
  }

 private:
  void Migrate();  // throws at start-up
  StoreError Internal(std::string_view what, const std::string& detail) const {
    return {StoreCode::kInternal, name_ + ": " + std::string(what) + " failed: " + detail};
  }
  // Runs `write` in its own IMMEDIATE transaction (the registry's writes).
  std::optional<StoreError> InTransaction(const std::function<std::optional<StoreError>()>& write);

  std::unique_ptr<Database> db_;
  const std::string name_;
  std::optional<Transaction> tx_;
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  bool stopped_ = false;
};

void SqliteStore::Migrate() {
  const std::string& path = db_->path();
  const std::string prefix = "cannot migrate database " + path + ": ";
  Transaction tx(*db_);
  if (!tx.ok()) throw std::runtime_error(prefix + tx.error());
  int64_t current = 0;
  {
    Statement read(*db_, "PRAGMA user_version");
    if (read.Step() != SQLITE_ROW) throw std::runtime_error(prefix + read.error());
    current = read.ColumnInt(0);
  }
  if (current > kConfigSchemaVersion)
    throw std::runtime_error("database " + path + " has schema version " + std::to_string(current) +
                             ", newer than this control plane (" +
                             std::to_string(kConfigSchemaVersion) + ")");
  {
    // Our tables, or none at all: a file another application uses is not taken over.
    Statement tables(*db_,
                     "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                     "'sqlite_%' ORDER BY name");
    std::vector<std::string> foreign;
    bool has_meta = false;
    while (tables.Step() == SQLITE_ROW) {
      std::string name = tables.ColumnText(0);
      has_meta = has_meta || name == "meta";
      if (std::find(std::begin(kOwnTables), std::end(kOwnTables), name) == std::end(kOwnTables))
        foreign.push_back(Quote(name));
    }
    if (!foreign.empty() || (current > 0 && !has_meta))
      throw std::runtime_error(
          "database " + path + " holds tables of another application" +
          (foreign.empty() ? std::string() : " (" + JoinForMessage(foreign, ", ") + ")") +
          "; give the control plane a file of its own");
  }
  for (int64_t version = current; version < kConfigSchemaVersion; ++version) {
    const Migration& migration = kMigrations[version];
    std::string error;
    if (!db_->Exec(migration.sql, &error) ||
        (migration.code && !(error = migration.code(*db_)).empty()) ||
        !db_->Exec("PRAGMA user_version = " + std::to_string(version + 1), &error))
      throw std::runtime_error(prefix + "schema version " + std::to_string(version + 1) + ": " +
                               error);
  }
  // A write at every start, so that a database the control plane cannot write (read-only
  // file system, a directory where the -wal file cannot be made) stops it now, not at the first
  // admin write.
  std::string error;
  if (!db_->Exec("UPDATE meta SET value = value WHERE key = 'config_version'", &error) ||
      !tx.Commit())
    throw std::runtime_error("database " + path +
                             " cannot be written: " + (error.empty() ? tx.error() : error));
}

StoreResult<ConfigPtr> SqliteStore::ReadConfig() {
  auto config = std::make_shared<Config>();
  auto version = ReadVersion();
  if (!version) return version.error();
  config->set_version(*version);

  std::unordered_map<std::string, Service*> by_name;
  Statement services(*db_, "SELECT name, version, policy FROM services");
  int rc;
  while ((rc = services.Step()) == SQLITE_ROW) {
    Service* service = config->add_services();
    service->ParseFromString(services.ColumnBlob(2));
    service->set_name(services.ColumnText(0));
    service->set_version(static_cast<uint64_t>(services.ColumnInt(1)));
    by_name.emplace(service->name(), service);
  }
  if (rc != SQLITE_DONE) return Internal("reading services", services.error());

  Statement endpoints(*db_, "SELECT service, host, port FROM endpoints ORDER BY service, position");
  while ((rc = endpoints.Step()) == SQLITE_ROW) {
    auto it = by_name.find(endpoints.ColumnText(0));
    if (it == by_name.end()) continue;  // impossible with foreign keys on
    auto* endpoint = it->second->add_endpoints();
    endpoint->set_host(endpoints.ColumnText(1));
    endpoint->set_port(static_cast<uint32_t>(endpoints.ColumnInt(2)));
  }
  if (rc != SQLITE_DONE) return Internal("reading endpoints", endpoints.error());

  Statement routes(*db_,
                   "SELECT path, \"match\", host, methods, headers, target, version, "
                   "max_body_size, policy FROM routes");
  while ((rc = routes.Step()) == SQLITE_ROW) {
    // written by RoutePolicyBytes; empty before v3
    if (!rows::ReadRoute(routes.ColumnText(0), routes.ColumnInt(1), routes.ColumnText(2),
                         routes.ColumnText(3), routes.ColumnText(4), routes.ColumnText(5),
                         routes.ColumnInt(6), routes.ColumnInt(7), routes.ColumnBlob(8),
                         config->add_routes()))
      return Internal("reading routes", "a route's policy does not parse");
  }
  if (rc != SQLITE_DONE) return Internal("reading routes", routes.error());

  std::unordered_map<std::string, Consumer*> consumers;
  Statement read(*db_,
                 "SELECT name, version, jwt_issuer, jwt_secret, jwt_public_key FROM consumers");
  while ((rc = read.Step()) == SQLITE_ROW) {
    Consumer* consumer = config->add_consumers();
    consumer->set_name(read.ColumnText(0));
    consumer->set_version(static_cast<uint64_t>(read.ColumnInt(1)));
    if (std::string issuer = read.ColumnText(2); !issuer.empty()) {
      auto* jwt = consumer->mutable_jwt();
      jwt->set_issuer(std::move(issuer));
      jwt->set_secret(read.ColumnText(3));
      jwt->set_public_key_pem(read.ColumnText(4));
    }
    consumers.emplace(consumer->name(), consumer);
  }
  if (rc != SQLITE_DONE) return Internal("reading consumers", read.error());
  Statement keys(*db_,
                 "SELECT consumer, sha256 FROM consumer_api_keys ORDER BY consumer, position");
  while ((rc = keys.Step()) == SQLITE_ROW) {
    auto it = consumers.find(keys.ColumnText(0));
    if (it != consumers.end()) it->second->add_api_key_sha256(keys.ColumnText(1));
  }
  if (rc != SQLITE_DONE) return Internal("reading api keys", keys.error());
  Statement certificates(*db_, "SELECT name, version, body FROM certificates");
  while ((rc = certificates.Step()) == SQLITE_ROW) {
    if (!rows::ReadCertificate(certificates.ColumnText(0), certificates.ColumnInt(1),
                               certificates.ColumnBlob(2), config->add_certificates()))
      return Internal("reading certificates", "a certificate's row does not parse");
  }
  if (rc != SQLITE_DONE) return Internal("reading certificates", certificates.error());
  SortConfig(config.get());
  return ConfigPtr(std::move(config));
}

std::optional<StoreError> SqliteStore::WriteChange(const ConfigDelta& delta, uint64_t version,
                                                   const HistoryEntry& history) {
  const auto run = [this](Statement& statement,
                          std::string_view what) -> std::optional<StoreError> {
    if (!statement.Run()) return Internal(what, statement.error());
    return std::nullopt;
  };
  for (const auto& key : delta.removed_routes()) {
    Statement remove(*db_, "DELETE FROM routes" + std::string(kWhereRouteIdentity));
    BindRouteIdentity(remove, 1, rows::ColumnsOf(key));
    if (auto e = run(remove, "deleting a route")) return e;
  }
  for (const auto& name : delta.removed_services()) {
    Statement remove(*db_, "DELETE FROM services WHERE name = ?");  // endpoints cascade
    remove.Bind(1, name);
    if (auto e = run(remove, "deleting a service")) return e;
  }
  for (const auto& name : delta.removed_consumers()) {
    Statement remove(*db_, "DELETE FROM consumers WHERE name = ?");  // api keys cascade
    remove.Bind(1, name);
    if (auto e = run(remove, "deleting a consumer")) return e;
  }
  for (const auto& name : delta.removed_certificates()) {
    Statement remove(*db_, "DELETE FROM certificates WHERE name = ?");
    remove.Bind(1, name);
    if (auto e = run(remove, "deleting a certificate")) return e;
  }
  for (const auto& certificate : delta.upserted_certificates()) {
    Statement upsert(*db_,
                     "INSERT INTO certificates (name, version, body) VALUES (?, ?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
                     "body = excluded.body");
    upsert.Bind(1, certificate.name()).Bind(2, static_cast<int64_t>(certificate.version()));
    upsert.BindBlob(3, rows::CertificateBytes(certificate));
    if (auto e = run(upsert, "writing a certificate")) return e;
  }
  for (const Service& service : delta.upserted_services()) {
    Statement upsert(*db_,
                     "INSERT INTO services (name, version, policy) VALUES (?, ?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
                     "policy = excluded.policy");
    upsert.Bind(1, service.name()).Bind(2, static_cast<int64_t>(service.version()));
    upsert.BindBlob(3, rows::ServicePolicyBytes(service));
    if (auto e = run(upsert, "writing a service")) return e;
    Statement clear(*db_, "DELETE FROM endpoints WHERE service = ?");
    clear.Bind(1, service.name());
    if (auto e = run(clear, "replacing endpoints")) return e;
    for (int i = 0; i < service.endpoints_size(); ++i) {
      Statement endpoint(
          *db_, "INSERT INTO endpoints (service, position, host, port) VALUES (?, ?, ?, ?)");
      endpoint.Bind(1, service.name())
          .Bind(2, int64_t{i})
          .Bind(3, service.endpoints(i).host())
          .Bind(4, int64_t{service.endpoints(i).port()});
      if (auto e = run(endpoint, "writing an endpoint")) return e;
    }
  }
  for (const Consumer& consumer : delta.upserted_consumers()) {
    Statement remove(*db_, "DELETE FROM consumers WHERE name = ?");  // api keys cascade
    remove.Bind(1, consumer.name());
    if (auto e = run(remove, "replacing a consumer")) return e;
    Statement insert(*db_,
                     "INSERT INTO consumers (name, version, jwt_issuer, jwt_secret, "
                     "jwt_public_key) VALUES (?, ?, ?, ?, ?)");
    insert.Bind(1, consumer.name())
        .Bind(2, static_cast<int64_t>(consumer.version()))
        .Bind(3, consumer.jwt().issuer())
        .Bind(4, consumer.jwt().secret())
        .Bind(5, consumer.jwt().public_key_pem());
    if (auto e = run(insert, "writing a consumer")) return e;
    for (int i = 0; i < consumer.api_key_sha256_size(); ++i) {
      Statement key(*db_,
                    "INSERT INTO consumer_api_keys (sha256, consumer, position) VALUES (?, ?, ?)");
      key.Bind(1, consumer.api_key_sha256(i)).Bind(2, consumer.name()).Bind(3, int64_t{i});
      if (auto e = run(key, "writing an api key")) return e;
    }
  }
  for (const Route& route : delta.upserted_routes()) {
    Statement upsert(*db_,
                     "INSERT INTO routes (path, \"match\", host, methods, headers, target, "
                     "version, max_body_size, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (path, \"match\", host, methods, headers) DO UPDATE SET "
                     "target = excluded.target, version = excluded.version, "
                     "max_body_size = excluded.max_body_size, policy = excluded.policy");
    BindRouteIdentity(upsert, 1, rows::ColumnsOf(route));
    upsert.Bind(6, route.target())
        .Bind(7, static_cast<int64_t>(route.version()))
        .Bind(8, static_cast<int64_t>(route.max_body_size()));  // validated: at most 2^40
    upsert.BindBlob(9, rows::RoutePolicyBytes(route));
    if (auto e = run(upsert, "writing a route")) return e;
  }
  Statement bump(*db_, "UPDATE meta SET value = ? WHERE key = 'config_version'");
  bump.Bind(1, static_cast<int64_t>(version));
  if (auto e = run(bump, "setting the config version")) return e;
  Statement row(*db_,
                "INSERT INTO history (version, at_unix_ms, action, detail, actor, command, "
                "forward, reverse) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  row.Bind(1, static_cast<int64_t>(version)).Bind(2, NowUnixMs());
  row.Bind(3, history.action).Bind(4, history.detail).Bind(5, history.actor);
  row.Bind(6, history.command).BindBlob(7, delta.SerializeAsString());
  row.BindBlob(8, history.reverse.SerializeAsString());
  return run(row, "writing history");
}

StoreResult<std::vector<HistoryRow>> SqliteStore::ReadHistory(const HistoryQuery& query) {
  Statement read(*db_, std::string("SELECT version, at_unix_ms, actor, action, detail, command, "
                                   "forward IS NOT NULL AND reverse IS NOT NULL, ") +
                           (query.changes ? "forward, reverse" : "NULL, NULL") +
                           " FROM history WHERE version > ? AND version <= ? "
                           "ORDER BY version DESC LIMIT ?");
  read.Bind(1, static_cast<int64_t>(query.after))
      .Bind(2, static_cast<int64_t>(std::min<uint64_t>(query.up_to, INT64_MAX)))
      .Bind(3, query.limit == 0 ? int64_t{-1} : int64_t{query.limit});
  std::vector<HistoryRow> rows;
  int rc;
  while ((rc = read.Step()) == SQLITE_ROW) {
    HistoryRow& row = rows.emplace_back();
    row.record.set_version(static_cast<uint64_t>(read.ColumnInt(0)));
    row.record.set_at_unix_ms(read.ColumnInt(1));
    row.record.set_actor(read.ColumnText(2));
    row.record.set_action(read.ColumnText(3));
    row.record.set_summary(read.ColumnText(4));
    row.record.set_command(read.ColumnText(5));
    row.record.set_has_changes(read.ColumnInt(6) != 0);
    if (query.changes && row.record.has_changes() &&
        (!row.forward.ParseFromString(read.ColumnBlob(7)) ||
         !row.reverse.ParseFromString(read.ColumnBlob(8))))
      return Internal(
          "reading history",
          "the change of version " + std::to_string(row.record.version()) + " does not parse");
  }
  if (rc != SQLITE_DONE) return Internal("reading history", read.error());
  return rows;
}

std::optional<StoreError> SqliteStore::InTransaction(
    const std::function<std::optional<StoreError>()>& write) {
  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  if (auto e = write()) return e;
  if (!tx.Commit()) return Internal("committing", tx.error());
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::WriteRegistry(
    const gateway::v1::ReplicaStatus& replica,
    const std::vector<gateway::v1::GatewayStatus>& changed,
    const std::vector<std::string>& forgotten) {
  return InTransaction([&]() -> std::optional<StoreError> {
    Statement beat(*db_,
                   "INSERT INTO replicas (id, address, build_version, loaded_version, gateways, "
                   "started_unix_ms, heartbeat_unix_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
                   "build_version = excluded.build_version, "
                   "loaded_version = excluded.loaded_version, gateways = excluded.gateways, "
                   "started_unix_ms = excluded.started_unix_ms, "
                   "heartbeat_unix_ms = excluded.heartbeat_unix_ms");
    beat.Bind(1, replica.id()).Bind(2, replica.address()).Bind(3, replica.build_version());
    beat.Bind(4, static_cast<int64_t>(replica.loaded_version()))
        .Bind(5, int64_t{replica.gateways_connected()})
        .Bind(6, replica.started_unix_ms())
        .Bind(7, NowUnixMs());
    if (!beat.Run()) return Internal("writing the replica's heartbeat", beat.error());
    for (const auto& gateway : changed) {
      Statement upsert(*db_,
                       "INSERT INTO gateways (node_id, replica, connected, disconnected_unix_ms, "
                       "status) VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET "
                       "replica = excluded.replica, connected = excluded.connected, "
                       "disconnected_unix_ms = excluded.disconnected_unix_ms, "
                       "status = excluded.status "
                       "WHERE excluded.connected <> 0 OR gateways.replica = excluded.replica");
      upsert.Bind(1, gateway.node_id()).Bind(2, replica.id());
      upsert.Bind(3, int64_t{gateway.connected()}).Bind(4, gateway.disconnected_unix_ms());
      upsert.BindBlob(5, gateway.SerializeAsString());
      if (!upsert.Run()) return Internal("writing a gateway", upsert.error());
    }
    for (const auto& node_id : forgotten) {
      Statement remove(*db_, "DELETE FROM gateways WHERE node_id = ? AND replica = ?");
      remove.Bind(1, node_id).Bind(2, replica.id());
      if (!remove.Run()) return Internal("forgetting a gateway", remove.error());
    }
    return std::nullopt;
  });
}

std::optional<StoreError> SqliteStore::DisconnectReplica(const std::string& replica_id,
                                                         int64_t since_unix_ms) {
  return InTransaction([&]() -> std::optional<StoreError> {
    Statement update(*db_,
                     "UPDATE gateways SET connected = 0, disconnected_unix_ms = ? "
                     "WHERE replica = ? AND connected <> 0");
    update.Bind(1, since_unix_ms).Bind(2, replica_id);
    if (!update.Run()) return Internal("marking gateways disconnected", update.error());
    return std::nullopt;
  });
}

StoreResult<ClusterRows> SqliteStore::ReadRegistry() {
  Transaction tx(*db_, Transaction::Mode::kDeferred);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  ClusterRows rows;
  const int64_t now = NowUnixMs();
  Statement replicas(*db_,
                     "SELECT id, address, build_version, loaded_version, gateways, "
                     "started_unix_ms, heartbeat_unix_ms FROM replicas ORDER BY id");
  int rc;
  while ((rc = replicas.Step()) == SQLITE_ROW) {
    auto& replica = rows.replicas.emplace_back();
    replica.status.set_id(replicas.ColumnText(0));
    replica.status.set_address(replicas.ColumnText(1));
    replica.status.set_build_version(replicas.ColumnText(2));
    replica.status.set_loaded_version(static_cast<uint64_t>(replicas.ColumnInt(3)));
    replica.status.set_gateways_connected(static_cast<uint32_t>(replicas.ColumnInt(4)));
    replica.status.set_started_unix_ms(replicas.ColumnInt(5));
    replica.status.set_heartbeat_unix_ms(replicas.ColumnInt(6));
    replica.heartbeat_age_ms = now - replicas.ColumnInt(6);
  }
  if (rc != SQLITE_DONE) return Internal("reading replicas", replicas.error());
  Statement gateways(*db_,
                     "SELECT replica, connected, disconnected_unix_ms, status FROM gateways "
                     "ORDER BY node_id");
  while ((rc = gateways.Step()) == SQLITE_ROW) {
    auto& gateway = rows.gateways.emplace_back();
    if (!gateway.ParseFromString(gateways.ColumnBlob(3))) {
      rows.gateways.pop_back();
      continue;
    }
    gateway.set_replica(gateways.ColumnText(0));
    gateway.set_connected(gateways.ColumnInt(1) != 0);
    gateway.set_disconnected_unix_ms(gateways.ColumnInt(2));
  }
  if (rc != SQLITE_DONE) return Internal("reading gateways", gateways.error());
  return rows;
}

std::optional<StoreError> SqliteStore::ForgetGateways(const std::vector<std::string>& node_ids) {
  return InTransaction([&]() -> std::optional<StoreError> {
    for (const auto& node_id : node_ids) {
      Statement remove(*db_, "DELETE FROM gateways WHERE node_id = ?");
      remove.Bind(1, node_id);
      if (!remove.Run()) return Internal("forgetting a gateway", remove.error());
    }
    return std::nullopt;
  });
}

}  // namespace

std::unique_ptr<StoreBackend> OpenSqliteStore(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace gw
