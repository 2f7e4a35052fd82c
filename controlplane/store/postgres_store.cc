#include "controlplane/store/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "common/config_delta.h"
#include "common/log.h"
#include "common/validation.h"
#include "controlplane/store/row_codec.h"

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::ConfigDelta;
using gateway::v1::Consumer;
using gateway::v1::Route;
using gateway::v1::Service;

constexpr const char* kChannel = "gateway_config";
// pg_advisory_lock key of schema creation and migration ("gwschema" in ASCII).
constexpr const char* kMigrationLock = "7454588435785245037";
constexpr auto kBackoffFirst = std::chrono::milliseconds(500);
constexpr auto kBackoffMax = std::chrono::seconds(5);

// Schema version 5, the first a PostgreSQL store has: the tables of SQLite's versions 1-5 in
// PostgreSQL's types. Migration N (index N-5) brings version N-1 to N; never edit a shipped one.
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('config_version', 0), ('schema_version', 0);
CREATE TABLE services (
  name    TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  policy  BYTEA NOT NULL DEFAULT ''
);
CREATE TABLE endpoints (
  service  TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  host     TEXT NOT NULL,
  port     INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  PRIMARY KEY (service, position)
);
CREATE TABLE routes (
  path          TEXT NOT NULL,
  "match"       INTEGER NOT NULL CHECK ("match" IN (1, 2)),
  host          TEXT NOT NULL DEFAULT '',
  methods       TEXT NOT NULL DEFAULT '',
  headers       TEXT NOT NULL DEFAULT '',
  target        TEXT NOT NULL,
  version       BIGINT NOT NULL,
  max_body_size BIGINT NOT NULL DEFAULT 0 CHECK (max_body_size >= 0),
  policy        BYTEA NOT NULL DEFAULT '',
  PRIMARY KEY (path, "match", host, methods, headers)
);
CREATE INDEX routes_by_target ON routes (target);
CREATE TABLE history (
  version    BIGINT PRIMARY KEY,
  at_unix_ms BIGINT NOT NULL,
  action     TEXT NOT NULL,
  detail     TEXT NOT NULL
);
CREATE TABLE consumers (
  name           TEXT PRIMARY KEY,
  version        BIGINT NOT NULL,
  jwt_issuer     TEXT NOT NULL DEFAULT '',
  jwt_secret     TEXT NOT NULL DEFAULT '',
  jwt_public_key TEXT NOT NULL DEFAULT ''
);
CREATE TABLE consumer_api_keys (
  sha256   TEXT PRIMARY KEY,
  consumer TEXT NOT NULL REFERENCES consumers (name) ON DELETE CASCADE,
  position INTEGER NOT NULL
);
CREATE INDEX consumer_api_keys_by_consumer ON consumer_api_keys (consumer, position);
CREATE TABLE replicas (
  id                TEXT PRIMARY KEY,
  address           TEXT NOT NULL,
  build_version     TEXT NOT NULL,
  loaded_version    BIGINT NOT NULL,
  gateways          INTEGER NOT NULL,
  started_unix_ms   BIGINT NOT NULL,
  heartbeat_unix_ms BIGINT NOT NULL
);
CREATE TABLE gateways (
  node_id              TEXT PRIMARY KEY,
  replica              TEXT NOT NULL,
  connected            BOOLEAN NOT NULL,
  disconnected_unix_ms BIGINT NOT NULL,
  status               BYTEA NOT NULL
);
)sql";

// Version 6 (issue 11): who made each version (a token's name, a certificate's subject, or
// "anonymous"; '' for versions made before).
constexpr std::string_view kSchemaV6HistoryActor = R"sql(
ALTER TABLE history ADD COLUMN actor TEXT NOT NULL DEFAULT '';
)sql";
// Version 7: each version's change kept whole, both ways, and the command that made it
// (sqlite_store.cc has the same).
constexpr std::string_view kSchemaV7HistoryChanges = R"sql(
ALTER TABLE history ADD COLUMN command TEXT NOT NULL DEFAULT '';
ALTER TABLE history ADD COLUMN forward BYTEA;
ALTER TABLE history ADD COLUMN reverse BYTEA;
)sql";
// Version 8: the TLS certificates gateways serve (sqlite_store.cc has the same).
constexpr std::string_view kSchemaV8Certificates = R"sql(
CREATE TABLE certificates (
  name    TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  body    BYTEA NOT NULL
);
)sql";
constexpr std::string_view kMigrations[] = {kSchemaV5, kSchemaV6HistoryActor,
                                            kSchemaV7HistoryChanges, kSchemaV8Certificates};
constexpr int kFirstPostgresSchema = 5;
static_assert(kFirstPostgresSchema + std::size(kMigrations) - 1 == kConfigSchemaVersion);

constexpr std::string_view kOwnTables[] = {
    "meta",      "services",          "endpoints", "routes",   "history",
    "consumers", "consumer_api_keys", "replicas",  "gateways", "certificates"};

// The database's clock in Unix milliseconds, as SQL.
constexpr std::string_view kNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

// One PGresult, freed with it.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}
  ~Result() { PQclear(result_); }
  Result(Result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  ExecStatusType status() const { return PQresultStatus(result_); }
  bool ok() const { return status() == PGRES_COMMAND_OK || status() == PGRES_TUPLES_OK; }
  std::string sqlstate() const {
    const char* state = PQresultErrorField(result_, PG_DIAG_SQLSTATE);
    return state ? state : "";
  }
  int rows() const { return PQntuples(result_); }
  std::string Text(int row, int column) const {
    return std::string(PQgetvalue(result_, row, column),
                       static_cast<size_t>(PQgetlength(result_, row, column)));
  }
  int64_t Int(int row, int column) const {
    return std::strtoll(PQgetvalue(result_, row, column), nullptr, 10);
  }
  bool Bool(int row, int column) const { return PQgetvalue(result_, row, column)[0] == 't'; }
  std::string Bytes(int row, int column) const {  // a bytea column in text form
    size_t length = 0;
    unsigned char* bytes = PQunescapeBytea(
        reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column)), &length);
    if (!bytes) return {};
    std::string out(reinterpret_cast<const char*>(bytes), length);
    PQfreemem(bytes);
    return out;
  }

 private:
  PGresult* result_;
};

// A statement's parameters: text, or bytes sent in binary (for bytea).
class Params {
 public:
  Params& Text(std::string value) {
    values_.push_back(std::move(value));
    formats_.push_back(0);
    return *this;
  }
  Params& Int(int64_t value) { return Text(std::to_string(value)); }
  Params& Bytes(std::string value) {
    values_.push_back(std::move(value));
    formats_.push_back(1);
    return *this;
  }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Pointers() const {
    std::vector<const char*> out;
    for (const auto& value : values_) out.push_back(value.data());
    return out;
  }
  std::vector<int> Lengths() const {
    std::vector<int> out;
    for (const auto& value : values_) out.push_back(static_cast<int>(value.size()));
    return out;
  }
  const std::vector<int>& Formats() const { return formats_; }

 private:
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

// libpq's message, first line, without the "FATAL:  " or "ERROR:  " prefix.
std::string FirstLine(const char* message) {
  std::string text = message ? message : "";
  text = text.substr(0, text.find('\n'));
  for (std::string_view prefix : {"FATAL:  ", "ERROR:  "})
    if (text.rfind(prefix, 0) == 0) text = text.substr(prefix.size());
  return text.empty() ? "no answer" : text;
}

// Connects with bounded waits: the URI's own settings win over these defaults.
// libpq prints server notices (and "terminating connection" on a crash) to stderr by default;
// the store reports what matters itself.
void IgnoreNotice(void*, const char*) {}

Conn Connect(const std::string& url) {
  const char* keywords[] = {
      "connect_timeout",  "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
      "keepalives_count", "application_name", "dbname",          nullptr};
  const char* values[] = {"3", "5000", "5", "2", "2", "gateway-controlplane", url.c_str(), nullptr};
  Conn conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn) PQsetNoticeProcessor(conn.get(), IgnoreNotice, nullptr);
  return conn;
}

class PostgresStore final : public StoreBackend {
 public:
  PostgresStore(std::string url, std::chrono::milliseconds connect_wait)
      : url_(std::move(url)), name_("database " + RedactPostgresUrl(url_)) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const auto deadline = std::chrono::steady_clock::now() + connect_wait;
    auto backoff = kBackoffFirst;
    for (;;) {
      if (!EnsureConnected()) break;
      if (std::chrono::steady_clock::now() + backoff > deadline)
        throw std::runtime_error(name_ + " is unreachable: " + last_error_);
      LogWarn(name_ + " is unreachable (" + last_error_ + "); retrying");
      std::this_thread::sleep_for(backoff);
      retry_at_ = {};
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kBackoffMax);
    }
    Migrate();
  }

  ~PostgresStore() override {
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  const std::string& name() const override { return name_; }

  std::optional<StoreError> Begin(bool write) override {
    // An operator's write tries the database at once, even inside the backoff: once it is back,
    // a write on any replica works, not only on the one whose timer ran out first.
    if (auto e = EnsureConnected(/*now=*/write)) return e;
    write_ = write;
    auto result = Exec(write ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                             : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       {}, "starting a transaction");
    if (!result) return result.error();
    in_tx_ = true;
    return std::nullopt;
  }

  std::optional<StoreError> Commit() override {
    auto result = Exec("COMMIT", {}, "committing");
    in_tx_ = false;
    if (!result) return result.error();
    return std::nullopt;
  }

  void Rollback() override {
    if (!in_tx_) return;
    in_tx_ = false;
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) Result(PQexec(conn_.get(), "ROLLBACK"));
  }

  StoreResult<uint64_t> ReadVersion() override {
    // A write locks the version row first: the next writer of any replica waits here.
    auto result = Exec(write_ ? "SELECT value FROM meta WHERE key = 'config_version' FOR UPDATE"
                              : "SELECT value FROM meta WHERE key = 'config_version'",
                       {}, "reading the config version");
    if (!result) return result.error();
    if (result->rows() != 1)
      return StoreError{StoreCode::kInternal, name_ + " has no config version row"};
    return static_cast<uint64_t>(result->Int(0, 0));
  }

  StoreResult<ConfigPtr> ReadConfig() override;
  std::optional<StoreError> WriteChange(const ConfigDelta& delta, uint64_t version,
                                        const HistoryEntry& history) override;
  std::optional<StoreError> ForgetHistory(uint64_t version) override {
    auto result = Exec("DELETE FROM history WHERE version <= $1",
                       Params().Int(static_cast<int64_t>(version)), "forgetting history");
    if (!result) return result.error();
    return std::nullopt;
  }
  StoreResult<std::vector<HistoryRow>> ReadHistory(const HistoryQuery& query) override;
  StoreResult<uint64_t> ReadOldestHistoryVersion() override {
    auto result = Exec("SELECT coalesce(min(version), 0) FROM history", {}, "reading history");
    if (!result) return result.error();
    return static_cast<uint64_t>(result->Int(0, 0));
  }
  std::optional<StoreError> WriteRegistry(const gateway::v1::ReplicaStatus& replica,
                                          const std::vector<gateway::v1::GatewayStatus>& changed,
                                          const std::vector<std::string>& forgotten) override;
  std::optional<StoreError> DisconnectReplica(const std::string& replica_id,
                                              int64_t since_unix_ms) override;
  StoreResult<ClusterRows> ReadRegistry() override;
  std::optional<StoreError> ForgetGateways(const std::vector<std::string>& node_ids) override;
  void WaitForChange(std::chrono::milliseconds timeout) override;
  void StopWaiting() override {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  // Connected, or why not (kUnavailable). Between failed attempts it waits the backoff, unless
  // `now`.
  std::optional<StoreError> EnsureConnected(bool now = false);
  StoreError Unavailable() const {
    return {StoreCode::kUnavailable,
            name_ + " is unreachable (" + last_error_ + "); retry when it is back"};
  }
  StoreResult<Result> Exec(std::string_view sql, const Params& params, std::string_view what);
  void Migrate();

  const std::string url_;
  const std::string name_;
  Conn conn_;
  bool in_tx_ = false;
  bool write_ = false;
  std::string last_error_;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{kBackoffFirst};
  // The change feed's own connection, on its thread.
  Conn listen_;
  std::chrono::milliseconds listen_backoff_{kBackoffFirst};
  int wake_fd_ = -1;
};

std::optional<StoreError> PostgresStore::EnsureConnected(bool now) {
  if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return std::nullopt;
  const bool was_connected = conn_ != nullptr;
  conn_.reset();
  in_tx_ = false;
  if (!now && std::chrono::steady_clock::now() < retry_at_) return Unavailable();
  Conn conn = Connect(url_);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    last_error_ = FirstLine(PQerrorMessage(conn.get()));
    retry_at_ = std::chrono::steady_clock::now() + backoff_;
    backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kBackoffMax);
    return Unavailable();
  }
  // No call waits on the database for long: a lock held by a stuck replica, a slow statement
  // and an abandoned transaction all end in seconds.
  Result settings(PQexec(conn.get(),
                         "SET lock_timeout = '5s'; SET statement_timeout = '15s'; "
                         "SET idle_in_transaction_session_timeout = '30s'"));
  if (!settings.ok()) {
    last_error_ = FirstLine(PQerrorMessage(conn.get()));
    return Unavailable();
  }
  if (was_connected || !last_error_.empty()) LogInfo(name_ + " reachable again");
  conn_ = std::move(conn);
  last_error_.clear();
  backoff_ = kBackoffFirst;
  return std::nullopt;
}

StoreResult<Result> PostgresStore::Exec(std::string_view sql, const Params& params,
                                        std::string_view what) {
  if (auto e = EnsureConnected()) return *e;
  const auto values = params.Pointers();
  const auto lengths = params.Lengths();
  // Without parameters PQexec, which also runs several statements (the migrations).
  Result result(params.size() == 0
                    ? PQexec(conn_.get(), std::string(sql).c_str())
                    : PQexecParams(conn_.get(), std::string(sql).c_str(), params.size(), nullptr,
                                   values.data(), lengths.data(), params.Formats().data(), 0));
  if (result.ok()) return result;
  const std::string state = result.sqlstate();
  const std::string message = FirstLine(PQerrorMessage(conn_.get()));
  if (state == "40001" || state == "40P01")  // serialization failure, deadlock
    return StoreError{StoreCode::kConflict, name_ + ": " + message};
  // Connection lost, server shutting down, or a timeout: the database is not there for us.
  if (PQstatus(conn_.get()) != CONNECTION_OK || state.rfind("08", 0) == 0 ||
      state.rfind("57P", 0) == 0 || state == "57014" || state == "55P03" || state == "25P03") {
    last_error_ = message;
    const bool gone = PQstatus(conn_.get()) != CONNECTION_OK;
    if (gone) {
      LogWarn(name_ + " connection lost: " + message);
      conn_.reset();
      in_tx_ = false;
    }
    return StoreError{StoreCode::kUnavailable, name_ + (gone ? " is unreachable (" : " failed (") +
                                                   message + "); retry when it is back"};
  }
  return StoreError{StoreCode::kInternal, name_ + ": " + std::string(what) + " failed: " + message};
}

void PostgresStore::Migrate() {
  const auto fail = [this](const std::string& why) {
    throw std::runtime_error("cannot migrate " + name_ + ": " + why);
  };
  auto exec = [&](std::string_view sql, const Params& params = {}) {
    auto result = Exec(sql, params, "migrating the schema");
    if (!result) throw std::runtime_error(result.error().message);
    return std::move(*result);
  };
  // Replicas that start together: one migrates, the others wait here and find it done.
  exec(std::string("SELECT pg_advisory_lock(") + kMigrationLock + ")");
  struct Unlock {  // (a lost connection has released it already)
    Conn& conn;
    ~Unlock() {
      if (conn && PQstatus(conn.get()) == CONNECTION_OK)
        Result(PQexec(conn.get(),
                      (std::string("SELECT pg_advisory_unlock(") + kMigrationLock + ")").c_str()));
    }
  } unlock{conn_};

  Result tables = exec(
      "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
      "ORDER BY tablename");
  std::vector<std::string> foreign;
  bool has_meta = false;
  for (int i = 0; i < tables.rows(); ++i) {
    const std::string table = tables.Text(i, 0);
    has_meta = has_meta || table == "meta";
    if (std::find(std::begin(kOwnTables), std::end(kOwnTables), table) == std::end(kOwnTables))
      foreign.push_back(Quote(table));
  }
  if (!foreign.empty())
    throw std::runtime_error(name_ + " holds tables of another application (" +
                             JoinForMessage(foreign, ", ") +
                             ") in its schema; give the control plane a database or schema of "
                             "its own");
  int64_t current = 0;
  if (has_meta) {
    Result version = exec("SELECT value FROM meta WHERE key = 'schema_version'");
    if (version.rows() != 1) fail("its meta table has no schema_version");
    current = version.Int(0, 0);
  }
  if (current > kConfigSchemaVersion)
    throw std::runtime_error(name_ + " has schema version " + std::to_string(current) +
                             ", newer than this control plane (" +
                             std::to_string(kConfigSchemaVersion) + ")");
  if (current != 0 && current < kFirstPostgresSchema) fail("unknown schema version");
  for (int64_t version = std::max<int64_t>(current, kFirstPostgresSchema - 1);
       version < kConfigSchemaVersion; ++version) {
    exec("BEGIN");
    exec(kMigrations[version + 1 - kFirstPostgresSchema]);
    exec("UPDATE meta SET value = $1 WHERE key = 'schema_version'", Params().Int(version + 1));
    exec("COMMIT");
    LogInfo(name_ + " migrated to schema version " + std::to_string(version + 1));
  }
}

StoreResult<ConfigPtr> PostgresStore::ReadConfig() {
  auto config = std::make_shared<Config>();
  auto version = ReadVersion();
  if (!version) return version.error();
  config->set_version(*version);

  auto services = Exec("SELECT name, version, policy FROM services", {}, "reading services");
  if (!services) return services.error();
  std::unordered_map<std::string, Service*> by_name;
  for (int i = 0; i < services->rows(); ++i) {
    Service* service = config->add_services();
    service->ParseFromString(services->Bytes(i, 2));
    service->set_name(services->Text(i, 0));
    service->set_version(static_cast<uint64_t>(services->Int(i, 1)));
    by_name.emplace(service->name(), service);
  }
  auto endpoints = Exec("SELECT service, host, port FROM endpoints ORDER BY service, position", {},
                        "reading endpoints");
  if (!endpoints) return endpoints.error();
  for (int i = 0; i < endpoints->rows(); ++i) {
    auto it = by_name.find(endpoints->Text(i, 0));
    if (it == by_name.end()) continue;
    auto* endpoint = it->second->add_endpoints();
    endpoint->set_host(endpoints->Text(i, 1));
    endpoint->set_port(static_cast<uint32_t>(endpoints->Int(i, 2)));
  }
  auto routes = Exec(
      "SELECT path, \"match\", host, methods, headers, target, version, max_body_size, policy "
      "FROM routes",
      {}, "reading routes");
  if (!routes) return routes.error();
  for (int i = 0; i < routes->rows(); ++i) {
    if (!rows::ReadRoute(routes->Text(i, 0), routes->Int(i, 1), routes->Text(i, 2),
                         routes->Text(i, 3), routes->Text(i, 4), routes->Text(i, 5),
                         routes->Int(i, 6), routes->Int(i, 7), routes->Bytes(i, 8),
                         config->add_routes()))
      return StoreError{StoreCode::kInternal, name_ + ": a route's policy does not parse"};
  }
  auto consumers =
      Exec("SELECT name, version, jwt_issuer, jwt_secret, jwt_public_key FROM consumers", {},
           "reading consumers");
  if (!consumers) return consumers.error();
  std::unordered_map<std::string, Consumer*> by_consumer;
  for (int i = 0; i < consumers->rows(); ++i) {
    Consumer* consumer = config->add_consumers();
    consumer->set_name(consumers->Text(i, 0));
    consumer->set_version(static_cast<uint64_t>(consumers->Int(i, 1)));
    if (std::string issuer = consumers->Text(i, 2); !issuer.empty()) {
      auto* jwt = consumer->mutable_jwt();
      jwt->set_issuer(std::move(issuer));
      jwt->set_secret(consumers->Text(i, 3));
      jwt->set_public_key_pem(consumers->Text(i, 4));
    }
    by_consumer.emplace(consumer->name(), consumer);
  }
  auto keys = Exec("SELECT consumer, sha256 FROM consumer_api_keys ORDER BY consumer, position", {},
                   "reading api keys");
  if (!keys) return keys.error();
  for (int i = 0; i < keys->rows(); ++i) {
    auto it = by_consumer.find(keys->Text(i, 0));
    if (it != by_consumer.end()) it->second->add_api_key_sha256(keys->Text(i, 1));
  }
  auto certificates =
      Exec("SELECT name, version, body FROM certificates", {}, "reading certificates");
  if (!certificates) return certificates.error();
  for (int i = 0; i < certificates->rows(); ++i)
    if (!rows::ReadCertificate(certificates->Text(i, 0), certificates->Int(i, 1),
                               certificates->Bytes(i, 2), config->add_certificates()))
      return StoreError{StoreCode::kInternal, name_ + ": a certificate's row does not parse"};
  SortConfig(config.get());
  return ConfigPtr(std::move(config));
}

std::optional<StoreError> PostgresStore::WriteChange(const ConfigDelta& delta, uint64_t version,
                                                     const HistoryEntry& history) {
  const auto run = [this](std::string_view sql, const Params& params,
                          std::string_view what) -> std::optional<StoreError> {
    auto result = Exec(sql, params, what);
    if (!result) return result.error();
    return std::nullopt;
  };
  constexpr std::string_view kWhereIdentity =
      " WHERE path = $1 AND \"match\" = $2 AND host = $3 AND methods = $4 AND headers = $5";
  const auto identity = [](const rows::RouteColumns& columns) {
    Params params;
    params.Text(columns.path).Int(columns.match).Text(columns.host).Text(columns.methods);
    params.Text(columns.headers);
    return params;
  };
  for (const auto& key : delta.removed_routes())
    if (auto e = run("DELETE FROM routes" + std::string(kWhereIdentity),
                     identity(rows::ColumnsOf(key)), "deleting a route"))
      return e;
  for (const auto& name : delta.removed_services())
    if (auto e =
            run("DELETE FROM services WHERE name = $1", Params().Text(name), "deleting a service"))
      return e;
  for (const auto& name : delta.removed_consumers())
    if (auto e = run("DELETE FROM consumers WHERE name = $1", Params().Text(name),
                     "deleting a consumer"))
      return e;
  for (const auto& name : delta.removed_certificates())
    if (auto e = run("DELETE FROM certificates WHERE name = $1", Params().Text(name),
                     "deleting a certificate"))
      return e;
  for (const auto& certificate : delta.upserted_certificates())
    if (auto e = run("INSERT INTO certificates (name, version, body) VALUES ($1, $2, $3) "
                     "ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
                     "body = excluded.body",
                     Params()
                         .Text(certificate.name())
                         .Int(static_cast<int64_t>(certificate.version()))
                         .Bytes(rows::CertificateBytes(certificate)),
                     "writing a certificate"))
      return e;
  for (const Service& service : delta.upserted_services()) {
    if (auto e = run("INSERT INTO services (name, version, policy) VALUES ($1, $2, $3) "
                     "ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
                     "policy = excluded.policy",
                     Params()
                         .Text(service.name())
                         .Int(static_cast<int64_t>(service.version()))
                         .Bytes(rows::ServicePolicyBytes(service)),
                     "writing a service"))
      return e;
    if (auto e = run("DELETE FROM endpoints WHERE service = $1", Params().Text(service.name()),
                     "replacing endpoints"))
      return e;
    for (int i = 0; i < service.endpoints_size(); ++i)
      if (auto e = run("INSERT INTO endpoints (service, position, host, port) "
                       "VALUES ($1, $2, $3, $4)",
                       Params()
                           .Text(service.name())
                           .Int(i)
                           .Text(service.endpoints(i).host())
                           .Int(service.endpoints(i).port()),
                       "writing an endpoint"))
        return e;
  }
  for (const Consumer& consumer : delta.upserted_consumers()) {
    if (auto e = run("DELETE FROM consumers WHERE name = $1", Params().Text(consumer.name()),
                     "replacing a consumer"))
      return e;
    if (auto e = run("INSERT INTO consumers (name, version, jwt_issuer, jwt_secret, "
                     "jwt_public_key) VALUES ($1, $2, $3, $4, $5)",
                     Params()
                         .Text(consumer.name())
                         .Int(static_cast<int64_t>(consumer.version()))
                         .Text(consumer.jwt().issuer())
                         .Text(consumer.jwt().secret())
                         .Text(consumer.jwt().public_key_pem()),
                     "writing a consumer"))
      return e;
    for (int i = 0; i < consumer.api_key_sha256_size(); ++i)
      if (auto e = run("INSERT INTO consumer_api_keys (sha256, consumer, position) "
                       "VALUES ($1, $2, $3)",
                       Params().Text(consumer.api_key_sha256(i)).Text(consumer.name()).Int(i),
                       "writing an api key"))
        return e;
  }
  for (const Route& route : delta.upserted_routes()) {
    Params params = identity(rows::ColumnsOf(route));
    params.Text(route.target())
        .Int(static_cast<int64_t>(route.version()))
        .Int(static_cast<int64_t>(route.max_body_size()))
        .Bytes(rows::RoutePolicyBytes(route));
    if (auto e = run("INSERT INTO routes (path, \"match\", host, methods, headers, target, "
                     "version, max_body_size, policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                     "$9) ON CONFLICT (path, \"match\", host, methods, headers) DO UPDATE SET "
                     "target = excluded.target, version = excluded.version, "
                     "max_body_size = excluded.max_body_size, policy = excluded.policy",
                     params, "writing a route"))
      return e;
  }
  const int64_t v = static_cast<int64_t>(version);
  if (auto e = run("UPDATE meta SET value = $1 WHERE key = 'config_version'", Params().Int(v),
                   "setting the config version"))
    return e;
  if (auto e = run("INSERT INTO history (version, at_unix_ms, action, detail, actor, command, "
                   "forward, reverse) VALUES ($1, " +
                       std::string(kNowMs) + ", $2, $3, $4, $5, $6, $7)",
                   Params()
                       .Int(v)
                       .Text(history.action)
                       .Text(history.detail)
                       .Text(history.actor)
                       .Text(history.command)
                       .Bytes(delta.SerializeAsString())
                       .Bytes(history.reverse.SerializeAsString()),
                   "writing history"))
    return e;
  // Delivered to every listening replica when (and only if) the transaction commits.
  return run("SELECT pg_notify($1, $2)", Params().Text(kChannel).Int(v), "announcing the write");
}

StoreResult<std::vector<HistoryRow>> PostgresStore::ReadHistory(const HistoryQuery& query) {
  Params params;
  params.Int(static_cast<int64_t>(query.after))
      .Int(static_cast<int64_t>(std::min<uint64_t>(query.up_to, INT64_MAX)));
  std::string sql = std::string(
                        "SELECT version, at_unix_ms, actor, action, detail, command, "
                        "forward IS NOT NULL AND reverse IS NOT NULL, ") +
                    (query.changes ? "forward, reverse" : "NULL, NULL") +
                    " FROM history WHERE version > $1 AND version <= $2 ORDER BY version DESC";
  if (query.limit != 0) {
    sql += " LIMIT $3";
    params.Int(query.limit);
  }
  auto result = Exec(sql, params, "reading history");
  if (!result) return result.error();
  std::vector<HistoryRow> rows;
  for (int i = 0; i < result->rows(); ++i) {
    HistoryRow& row = rows.emplace_back();
    row.record.set_version(static_cast<uint64_t>(result->Int(i, 0)));
    row.record.set_at_unix_ms(result->Int(i, 1));
    row.record.set_actor(result->Text(i, 2));
    row.record.set_action(result->Text(i, 3));
    row.record.set_summary(result->Text(i, 4));
    row.record.set_command(result->Text(i, 5));
    row.record.set_has_changes(result->Bool(i, 6));
    if (query.changes && row.record.has_changes() &&
        (!row.forward.ParseFromString(result->Bytes(i, 7)) ||
         !row.reverse.ParseFromString(result->Bytes(i, 8))))
      return StoreError{StoreCode::kInternal, name_ + ": the change of version " +
                                                  std::to_string(row.record.version()) +
                                                  " does not parse"};
  }
  return rows;
}

std::optional<StoreError> PostgresStore::WriteRegistry(
    const gateway::v1::ReplicaStatus& replica,
    const std::vector<gateway::v1::GatewayStatus>& changed,
    const std::vector<std::string>& forgotten) {
  auto result = Exec("BEGIN", {}, "starting a transaction");  // READ COMMITTED: no conflicts
  if (!result) return result.error();
  in_tx_ = true;
  const auto write = [&]() -> std::optional<StoreError> {
    auto beat = Exec(
        "INSERT INTO replicas (id, address, build_version, loaded_version, gateways, "
        "started_unix_ms, heartbeat_unix_ms) VALUES ($1, $2, $3, $4, $5, $6, " +
            std::string(kNowMs) +
            ") ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
            "build_version = excluded.build_version, loaded_version = excluded.loaded_version, "
            "gateways = excluded.gateways, started_unix_ms = excluded.started_unix_ms, "
            "heartbeat_unix_ms = excluded.heartbeat_unix_ms",
        Params()
            .Text(replica.id())
            .Text(replica.address())
            .Text(replica.build_version())
            .Int(static_cast<int64_t>(replica.loaded_version()))
            .Int(replica.gateways_connected())
            .Int(replica.started_unix_ms()),
        "writing the replica's heartbeat");
    if (!beat) return beat.error();
    // Many rows per statement: after a change every gateway's row changed (its ACK), and one
    // round trip per row would keep the StoreWorker busy for seconds at 10,000 gateways.
    constexpr size_t kRowsPerStatement = 500;
    for (size_t first = 0; first < changed.size(); first += kRowsPerStatement) {
      const size_t end = std::min(changed.size(), first + kRowsPerStatement);
      std::string sql =
          "INSERT INTO gateways (node_id, replica, connected, disconnected_unix_ms, status) "
          "VALUES ";
      Params params;
      for (size_t i = first; i < end; ++i) {
        const auto& gateway = changed[i];
        const size_t n = (i - first) * 5;
        sql += (i == first ? "(" : ", (") + ("$" + std::to_string(n + 1)) + ", $" +
               std::to_string(n + 2) + ", $" + std::to_string(n + 3) + "::boolean, $" +
               std::to_string(n + 4) + "::bigint, $" + std::to_string(n + 5) + "::bytea)";
        params.Text(gateway.node_id())
            .Text(replica.id())
            .Text(gateway.connected() ? "true" : "false")
            .Int(gateway.disconnected_unix_ms())
            .Bytes(gateway.SerializeAsString());
      }
      sql +=
          " ON CONFLICT (node_id) DO UPDATE SET replica = excluded.replica, "
          "connected = excluded.connected, "
          "disconnected_unix_ms = excluded.disconnected_unix_ms, status = excluded.status "
          "WHERE excluded.connected OR gateways.replica = excluded.replica";
      auto upsert = Exec(sql, params, "writing gateways");
      if (!upsert) return upsert.error();
    }
    for (const auto& node_id : forgotten) {
      auto remove = Exec("DELETE FROM gateways WHERE node_id = $1 AND replica = $2",
                         Params().Text(node_id).Text(replica.id()), "forgetting a gateway");
      if (!remove) return remove.error();
    }
    return std::nullopt;
  };
  if (auto e = write()) {
    Rollback();
    return e;
  }
  return Commit();
}

std::optional<StoreError> PostgresStore::DisconnectReplica(const std::string& replica_id,
                                                           int64_t since_unix_ms) {
  auto result = Exec(
      "UPDATE gateways SET connected = false, disconnected_unix_ms = $1 "
      "WHERE replica = $2 AND connected",
      Params().Int(since_unix_ms).Text(replica_id), "marking gateways disconnected");
  if (!result) return result.error();
  return std::nullopt;
}

StoreResult<ClusterRows> PostgresStore::ReadRegistry() {
  ClusterRows out;
  auto replicas = Exec(
      "SELECT id, address, build_version, loaded_version, gateways, "
      "started_unix_ms, heartbeat_unix_ms, " +
          std::string(kNowMs) + " - heartbeat_unix_ms FROM replicas ORDER BY id",
      {}, "reading replicas");
  if (!replicas) return replicas.error();
  for (int i = 0; i < replicas->rows(); ++i) {
    auto& replica = out.replicas.emplace_back();
    replica.status.set_id(replicas->Text(i, 0));
    replica.status.set_address(replicas->Text(i, 1));
    replica.status.set_build_version(replicas->Text(i, 2));
    replica.status.set_loaded_version(static_cast<uint64_t>(replicas->Int(i, 3)));
    replica.status.set_gateways_connected(static_cast<uint32_t>(replicas->Int(i, 4)));
    replica.status.set_started_unix_ms(replicas->Int(i, 5));
    replica.status.set_heartbeat_unix_ms(replicas->Int(i, 6));
    replica.heartbeat_age_ms = replicas->Int(i, 7);
  }
  auto gateways = Exec(
      "SELECT replica, connected, disconnected_unix_ms, status FROM gateways "
      "ORDER BY node_id",
      {}, "reading gateways");
  if (!gateways) return gateways.error();
  for (int i = 0; i < gateways->rows(); ++i) {
    gateway::v1::GatewayStatus status;
    if (!status.ParseFromString(gateways->Bytes(i, 3))) continue;
    status.set_replica(gateways->Text(i, 0));
    status.set_connected(gateways->Bool(i, 1));
    status.set_disconnected_unix_ms(gateways->Int(i, 2));
    out.gateways.push_back(std::move(status));
  }
  return out;
}

std::optional<StoreError> PostgresStore::ForgetGateways(const std::vector<std::string>& node_ids) {
  for (const auto& node_id : node_ids) {
    auto result = Exec("DELETE FROM gateways WHERE node_id = $1", Params().Text(node_id),
                       "forgetting a gateway");
    if (!result) return result.error();
  }
  return std::nullopt;
}

void PostgresStore::WaitForChange(std::chrono::milliseconds timeout) {
  if (!listen_ || PQstatus(listen_.get()) != CONNECTION_OK) {
    // A new LISTEN connection: whatever was announced meanwhile is lost, so the caller
    // re-reads at once (this return); failures wait the backoff.
    listen_ = Connect(url_);
    if (PQstatus(listen_.get()) == CONNECTION_OK &&
        Result(PQexec(listen_.get(), (std::string("LISTEN ") + kChannel).c_str())).ok()) {
      listen_backoff_ = kBackoffFirst;
      return;
    }
    listen_.reset();
    timeout = std::min(timeout, listen_backoff_);
    listen_backoff_ = std::min<std::chrono::milliseconds>(listen_backoff_ * 2, kBackoffMax);
  }
  std::array<pollfd, 2> fds{};
  fds[0] = {wake_fd_, POLLIN, 0};
  fds[1] = {listen_ ? PQsocket(listen_.get()) : -1, POLLIN, 0};
  ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  if (!listen_) return;
  if (fds[1].revents != 0) {
    if (!PQconsumeInput(listen_.get())) {
      listen_.reset();  // reconnect (and re-read) on the next call
      return;
    }
    while (PGnotify* notify = PQnotifies(listen_.get())) PQfreemem(notify);
  }
}

}  // namespace

std::string RedactPostgresUrl(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (!options) {
    if (error) PQfreemem(error);
    return "postgresql://(unparsable URI)";
  }
  std::unordered_map<std::string, std::string> values;
  for (PQconninfoOption* option = options; option->keyword; ++option)
    if (option->val) values[option->keyword] = option->val;
  PQconninfoFree(options);
  const auto split = [](const std::string& text) { return SplitList(text); };
  std::string out = "postgresql://";
  if (!values["user"].empty()) out += values["user"] + "@";
  const auto hosts = split(values["host"].empty() ? values["hostaddr"] : values["host"]);
  const auto ports = split(values["port"]);
  for (size_t i = 0; i < std::max<size_t>(hosts.size(), 1); ++i) {
    if (i > 0) out += ",";
    out += hosts.empty() ? std::string("localhost") : hosts[i];
    if (!ports.empty() && !ports[std::min(i, ports.size() - 1)].empty())
      out += ":" + ports[std::min(i, ports.size() - 1)];
  }
  out += "/" + values["dbname"];
  return out;
}

std::unique_ptr<StoreBackend> OpenPostgresStore(const std::string& url,
                                                std::chrono::milliseconds connect_wait) {
  return std::make_unique<PostgresStore>(url, connect_wait);
}

}  // namespace gw
