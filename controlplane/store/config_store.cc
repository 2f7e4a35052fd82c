#include "controlplane/store/config_store.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "common/api_key.h"
#include "common/byte_size.h"
#include "common/duration.h"
#include "common/policy_text.h"
#include "common/policy_validation.h"
#include "common/route_identity.h"
#include "common/validation.h"

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::Consumer;
using gateway::v1::HeaderMatch;
using gateway::v1::MatchKind;
using gateway::v1::Route;
using gateway::v1::RouteKey;
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

StoreError Invalid(std::string message) {
  return {StoreCode::kInvalidArgument, std::move(message)};
}

std::string RoutePolicyBytes(const Route& route);

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
      change.policy = RoutePolicyBytes(kept);
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
    Statement update(db,
                     "UPDATE routes SET target = ?, policy = ?, version = ? WHERE rowid = ?");
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
constexpr Migration kMigrations[] = {
    {kSchemaV1}, {kSchemaV2}, {kSchemaV3}, {"", DropZeroWeightTargets}};
static_assert(std::size(kMigrations) == kConfigSchemaVersion);

// The tables of a schema this control plane made (any version); another application's are not.
constexpr std::string_view kOwnTables[] = {"meta",      "services",          "endpoints",
                                           "routes",    "history",           "consumers",
                                           "consumer_api_keys"};

// ---------------------------------------------------------------- routes as rows

std::string JoinMethods(const google::protobuf::RepeatedPtrField<std::string>& methods) {
  std::string out;
  for (const auto& method : methods) out += (out.empty() ? "" : ",") + method;
  return out;
}

// The identity columns' encoding. Unambiguous, so that SQLite's primary key is the structural
// identity: methods are tokens (no ','), header names tokens (no '='), header values visible
// ASCII (no '\n'); the parts come in canonical order (CanonicalizeRoute).
std::string JoinHeaders(const google::protobuf::RepeatedPtrField<HeaderMatch>& headers) {
  std::string out;
  for (const auto& header : headers)
    out += (out.empty() ? "" : "\n") + header.name() + "=" + header.value();
  return out;
}

void SplitMethods(std::string_view text, Route* route) {
  while (!text.empty()) {
    const size_t comma = std::min(text.find(','), text.size());
    route->add_methods(std::string(text.substr(0, comma)));
    text.remove_prefix(std::min(comma + 1, text.size()));
  }
}

void SplitHeaders(std::string_view text, Route* route) {
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    const size_t eq = std::min(line.find('='), line.size());
    auto* header = route->add_headers();
    header->set_name(std::string(line.substr(0, eq)));
    header->set_value(std::string(line.substr(std::min(eq + 1, line.size()))));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
}

// The policy column: the route without its identity and without the fields that have columns.
std::string RoutePolicyBytes(const Route& route) {
  Route policy = route;
  policy.clear_path();
  policy.clear_match();
  policy.clear_host();
  policy.clear_methods();
  policy.clear_headers();
  policy.clear_target();
  policy.clear_version();
  policy.clear_max_body_size();
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  policy.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

std::string ServicePolicyBytes(const Service& service) {
  Service policy = service;
  policy.clear_name();
  policy.clear_endpoints();
  policy.clear_version();
  return policy.SerializeAsString();
}

// "SELECT <every column of a route, in ReadRoute's order> FROM routes <rest>".
std::string SelectRoutes(std::string_view rest) {
  return "SELECT path, \"match\", host, methods, headers, target, version, max_body_size, policy "
         "FROM routes " +
         std::string(rest);
}

Route ReadRoute(const Statement& row) {
  Route route;
  route.ParseFromString(row.ColumnBlob(8));  // written by RoutePolicyBytes; empty before v3
  route.set_path(row.ColumnText(0));
  route.set_match(static_cast<MatchKind>(row.ColumnInt(1)));
  route.set_host(row.ColumnText(2));
  SplitMethods(row.ColumnText(3), &route);
  SplitHeaders(row.ColumnText(4), &route);
  route.set_target(row.ColumnText(5));
  route.set_version(static_cast<uint64_t>(row.ColumnInt(6)));
  route.set_max_body_size(static_cast<uint64_t>(row.ColumnInt(7)));
  return route;
}

// Binds a route's identity columns (path, match, host, methods, headers) from `first` on.
void BindRouteIdentity(Statement& statement, int first, const Route& route) {
  statement.Bind(first, route.path())
      .Bind(first + 1, static_cast<int64_t>(route.match()))
      .Bind(first + 2, route.host())
      .Bind(first + 3, JoinMethods(route.methods()))
      .Bind(first + 4, JoinHeaders(route.headers()));
}
constexpr std::string_view kWhereRouteIdentity =
    "WHERE path = ? AND \"match\" = ? AND host = ? AND methods = ? AND headers = ?";

RouteKey KeyOf(const Route& route) {
  RouteKey key;
  key.set_path(route.path());
  key.set_match(route.match());
  key.set_host(route.host());
  *key.mutable_methods() = route.methods();
  *key.mutable_headers() = route.headers();
  return key;
}

Route RouteOfKey(const RouteKey& key) {
  Route route;
  route.set_path(key.path());
  route.set_match(key.match());
  route.set_host(key.host());
  *route.mutable_methods() = key.methods();
  *route.mutable_headers() = key.headers();
  return route;
}

bool HasConditions(const RouteKey& key) {
  return !key.host().empty() || !key.methods().empty() || !key.headers().empty();
}

// Whether `route` has every condition the key names (all of them when `exactly`, no others).
bool HasKeyConditions(const Route& route, const RouteKey& key, bool exactly) {
  if (exactly) {
    const RouteIdentity stored = IdentityOf(route);
    const RouteIdentity named = IdentityOf(key);
    return stored.host == named.host && stored.methods == named.methods &&
           stored.headers == named.headers;
  }
  if (!key.host().empty() && route.host() != key.host()) return false;
  for (const auto& method : key.methods())
    if (std::find(route.methods().begin(), route.methods().end(), method) == route.methods().end())
      return false;
  for (const auto& header : key.headers()) {
    const bool found = std::any_of(route.headers().begin(), route.headers().end(), [&](auto& h) {
      return h.name() == header.name() && h.value() == header.value();
    });
    if (!found) return false;
  }
  return true;
}

// ---------------------------------------------------------------- update masks

// The policy fields `route update` may change, as UpdateRouteRequest.update_mask names them;
// rate_limit and cors also take one sub-field ("rate_limit.burst"). The match is the route's
// identity and is never updated.
constexpr std::string_view kUpdatableRouteFields[] = {"target",
                                                      "split",
                                                      "max_body_size",
                                                      "strip_prefix",
                                                      "rewrite_prefix",
                                                      "set_request_headers",
                                                      "remove_request_headers",
                                                      "set_response_headers",
                                                      "remove_response_headers",
                                                      "timeout_ms",
                                                      "retries",
                                                      "per_try_timeout_ms",
                                                      "rate_limit",
                                                      "auth",
                                                      "cors"};
constexpr std::string_view kUpdatableServiceFields[] = {
    "endpoints",       "lb",          "hash_header",
    "health_check",    "eject_after", "eject_for_ms",
    "max_connections", "max_pending", "connect_timeout_ms"};

template <size_t N>
std::string JoinNames(const std::string_view (&names)[N]) {
  std::string out;
  for (std::string_view name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// Checks each path of `mask` against the updatable fields of `descriptor`: a top-level name of
// `allowed`, or "<message field>.<its field>".
template <size_t N>
std::optional<StoreError> CheckMask(const google::protobuf::FieldMask& mask,
                                    const google::protobuf::Descriptor* descriptor,
                                    const std::string_view (&allowed)[N], std::string_view what) {
  for (const std::string& path : mask.paths()) {
    const size_t dot = path.find('.');
    const std::string top = path.substr(0, dot);
    const bool known = std::find(std::begin(allowed), std::end(allowed), top) != std::end(allowed);
    const auto* field = descriptor->FindFieldByName(top);
    bool ok = known && field != nullptr;
    if (ok && dot != std::string::npos) {
      const std::string sub = path.substr(dot + 1);
      ok = field->message_type() != nullptr && !field->is_repeated() &&
           sub.find('.') == std::string::npos &&
           field->message_type()->FindFieldByName(sub) != nullptr;
    }
    if (!ok)
      return Invalid(std::string(what) + " field '" + path +
                     "' cannot be updated (updatable: " + JoinNames(allowed) + ")");
  }
  return std::nullopt;
}

// `to` with the fields `mask` names taken from `from` (a named field absent from `from` is
// cleared; lists are replaced, not appended to).
template <typename Message>
void ApplyMask(const Message& from, const google::protobuf::FieldMask& mask, Message* to) {
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(from, mask, options, to);
}

std::string EndpointList(const Service& service) {
  std::string out;
  for (const auto& endpoint : service.endpoints()) {
    if (!out.empty()) out += ",";
    out += FormatHostPort(endpoint.host(), endpoint.port());
  }
  return out;
}

// A route key as the admin API sends it: a valid path, a match kind that is prefix, exact or
// unspecified, and valid conditions.
std::optional<StoreError> CheckRouteKey(const RouteKey& key) {
  if (std::string e = ValidateRoutePath(key.path()); !e.empty()) return Invalid(e);
  if (key.match() != gateway::v1::MATCH_UNSPECIFIED && key.match() != gateway::v1::MATCH_PREFIX &&
      key.match() != gateway::v1::MATCH_EXACT)
    return Invalid("match kind " + std::to_string(key.match()) + " is neither prefix nor exact");
  if (std::string e = ValidateRouteConditions(RouteOfKey(key)); !e.empty()) return Invalid(e);
  return std::nullopt;
}

// ---------------------------------------------------------------- history text

std::string DescribeRoute(const Route& route) {
  std::string out = DescribeRouteMatch(route) + " -> " + FormatRouteTargets(route);
  if (route.max_body_size() != 0) out += ", max_body_size " + FormatByteSize(route.max_body_size());
  if (std::string policies = DescribeRoutePolicies(route); !policies.empty())
    out += ", " + policies;
  return out;
}

// "/api (prefix) -> b (was -> a), retries=2 (was none)" for the history.
std::string DescribeRouteChange(const Route& before, const Route& after) {
  std::string out = DescribeRouteMatch(after) + " -> " + FormatRouteTargets(after);
  if (FormatRouteTargets(after) != FormatRouteTargets(before))
    out += " (was " + FormatRouteTargets(before) + ")";
  if (after.max_body_size() != before.max_body_size()) {
    auto limit = [](uint64_t bytes) {
      return bytes == 0 ? std::string("the gateway's") : FormatByteSize(bytes);
    };
    out += ", max_body_size " + limit(after.max_body_size()) + " (was " +
           limit(before.max_body_size()) + ")";
  }
  const std::string was = DescribeRoutePolicies(before);
  const std::string now = DescribeRoutePolicies(after);
  if (was != now)
    out += ", policies " + (now.empty() ? std::string("none") : now) + " (was " +
           (was.empty() ? std::string("none") : was) + ")";
  return out;
}

std::string DescribeService(const Service& service) {
  std::string out = service.name() + " " + EndpointList(service);
  if (std::string policies = DescribeServicePolicies(service); !policies.empty())
    out += " " + policies;
  return out;
}

std::string DescribeConsumer(const Consumer& consumer) {
  std::string out = consumer.name() + ": " + std::to_string(consumer.api_key_sha256_size()) +
                    " api key" + (consumer.api_key_sha256_size() == 1 ? "" : "s");
  if (consumer.has_jwt())
    out += ", jwt issuer " + consumer.jwt().issuer() +
           (consumer.jwt().secret().empty() ? " (public key)" : " (HS256 secret)");
  return out;
}

}  // namespace

std::unique_ptr<ConfigStore> ConfigStore::Open(const std::string& path,
                                               const ConfigStoreOptions& options) {
  std::unique_ptr<ConfigStore> store(new ConfigStore(Database::Open(path), options));
  store->Migrate();
  auto snapshot = store->LoadSnapshot();
  if (!snapshot) throw std::runtime_error(snapshot.error().message);
  store->committed_bytes_ = (*snapshot)->ByteSizeLong();
  return store;
}

void ConfigStore::Migrate() {
  const std::string prefix = "cannot migrate database " + db_->path() + ": ";
  Transaction tx(*db_);
  if (!tx.ok()) throw std::runtime_error(prefix + tx.error());
  int64_t current = 0;
  {
    Statement read(*db_, "PRAGMA user_version");
    if (read.Step() != SQLITE_ROW) throw std::runtime_error(prefix + read.error());
    current = read.ColumnInt(0);
  }
  if (current > kConfigSchemaVersion)
    throw std::runtime_error("database " + db_->path() + " has schema version " +
                             std::to_string(current) + ", newer than this control plane (" +
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
          "database " + db_->path() + " holds tables of another application" +
          (foreign.empty() ? std::string() : " (" + JoinForMessage(foreign, ", ") + ")") +
          "; give the control plane a file of its own");
  }
  for (int64_t version = current; version < kConfigSchemaVersion; ++version) {
    const Migration& migration = kMigrations[version];
    std::string error;
    if (!db_->Exec(migration.sql, &error) || (migration.code && !(error = migration.code(*db_)).empty()) ||
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
    throw std::runtime_error("database " + db_->path() + " cannot be written: " +
                             (error.empty() ? tx.error() : error));
}

StoreError ConfigStore::Internal(std::string_view what, const std::string& detail) const {
  return {StoreCode::kInternal,
          "database " + db_->path() + ": " + std::string(what) + " failed: " + detail};
}

StoreResult<uint64_t> ConfigStore::ReadVersion() {
  Statement read(*db_, "SELECT value FROM meta WHERE key = 'config_version'");
  if (read.Step() != SQLITE_ROW) return Internal("reading the config version", read.error());
  return static_cast<uint64_t>(read.ColumnInt(0));
}

StoreResult<uint64_t> ConfigStore::BumpVersion(std::string_view action, std::string_view detail) {
  Statement bump(*db_,
                 "UPDATE meta SET value = value + 1 WHERE key = 'config_version' RETURNING value");
  if (bump.Step() != SQLITE_ROW) return Internal("bumping the config version", bump.error());
  const int64_t version = bump.ColumnInt(0);
  if (!bump.Run()) return Internal("bumping the config version", bump.error());
  Statement history(
      *db_, "INSERT INTO history (version, at_unix_ms, action, detail) VALUES (?, ?, ?, ?)");
  history.Bind(1, version).Bind(2, NowUnixMs()).Bind(3, action).Bind(4, detail);
  if (!history.Run()) return Internal("writing history", history.error());
  return static_cast<uint64_t>(version);
}

StoreResult<ConfigPtr> ConfigStore::CommitWithSnapshot(Transaction& tx) {
  auto snapshot = ReadSnapshot();  // inside the transaction: exactly what is committed
  if (!snapshot) return snapshot.error();
  // What every gateway will check of it, checked before anything is stored: a config they
  // would refuse must never become the newest version (each later one would be refused too).
  if (std::string e = ValidateConfig(**snapshot); !e.empty())
    return Invalid("refused: the gateways would refuse the config this makes: " + e);
  // A write that does not grow the config passes even over the limit (it may have been
  // lowered since): the way back under it must stay open.
  const uint64_t bytes = (*snapshot)->ByteSizeLong();
  if (bytes > options_.max_config_bytes && bytes > committed_bytes_) {
    std::string size = DescribeByteSize(bytes), limit = DescribeByteSize(options_.max_config_bytes);
    if (size == limit) {  // rounded alike: say it exactly
      size = FormatCount(bytes) + " bytes";
      limit = FormatCount(options_.max_config_bytes) + " bytes";
    }
    return StoreError{StoreCode::kResourceExhausted,
                      "refused: the config would be " + size + ", more than the " + limit +
                          " gateways are sent (--max-config-size); remove routes or header "
                          "rules first"};
  }
  if (!tx.Commit()) return Internal("committing", tx.error());
  committed_bytes_ = bytes;
  return snapshot;
}

StoreResult<ConfigPtr> ConfigStore::ReadSnapshot() {
  auto config = std::make_shared<Config>();
  auto version = ReadVersion();
  if (!version) return version.error();
  config->set_version(*version);

  std::unordered_map<std::string, Service*> by_name;
  Statement services(*db_, "SELECT name, version, policy FROM services ORDER BY name");
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

  Statement routes(*db_, SelectRoutes("ORDER BY path, \"match\", host, methods, headers"));
  while ((rc = routes.Step()) == SQLITE_ROW) *config->add_routes() = ReadRoute(routes);
  if (rc != SQLITE_DONE) return Internal("reading routes", routes.error());

  auto consumers = ReadConsumers("");
  if (!consumers) return consumers.error();
  for (auto& consumer : *consumers) *config->add_consumers() = std::move(consumer);
  return ConfigPtr(std::move(config));
}

StoreResult<std::vector<Consumer>> ConfigStore::ReadConsumers(std::string_view only) {
  std::vector<Consumer> consumers;
  std::unordered_map<std::string, size_t> by_name;
  Statement read(*db_, only.empty()
                           ? "SELECT name, version, jwt_issuer, jwt_secret, jwt_public_key "
                             "FROM consumers ORDER BY name"
                           : "SELECT name, version, jwt_issuer, jwt_secret, jwt_public_key "
                             "FROM consumers WHERE name = ?");
  if (!only.empty()) read.Bind(1, only);
  int rc;
  while ((rc = read.Step()) == SQLITE_ROW) {
    Consumer& consumer = consumers.emplace_back();
    consumer.set_name(read.ColumnText(0));
    consumer.set_version(static_cast<uint64_t>(read.ColumnInt(1)));
    if (std::string issuer = read.ColumnText(2); !issuer.empty()) {
      auto* jwt = consumer.mutable_jwt();
      jwt->set_issuer(std::move(issuer));
      jwt->set_secret(read.ColumnText(3));
      jwt->set_public_key_pem(read.ColumnText(4));
    }
    by_name.emplace(consumer.name(), consumers.size() - 1);
  }
  if (rc != SQLITE_DONE) return Internal("reading consumers", read.error());
  Statement keys(*db_,
                 "SELECT consumer, sha256 FROM consumer_api_keys ORDER BY consumer, position");
  while ((rc = keys.Step()) == SQLITE_ROW) {
    auto it = by_name.find(keys.ColumnText(0));
    if (it != by_name.end()) consumers[it->second].add_api_key_sha256(keys.ColumnText(1));
  }
  if (rc != SQLITE_DONE) return Internal("reading api keys", keys.error());
  return consumers;
}

StoreResult<std::set<std::string, std::less<>>> ConfigStore::ServiceNames() {
  std::set<std::string, std::less<>> names;
  Statement read(*db_, "SELECT name FROM services");
  int rc;
  while ((rc = read.Step()) == SQLITE_ROW) names.insert(read.ColumnText(0));
  if (rc != SQLITE_DONE) return Internal("reading services", read.error());
  return names;
}

StoreResult<bool> ConfigStore::ServiceExists(std::string_view name) {
  Statement find(*db_, "SELECT 1 FROM services WHERE name = ?");
  find.Bind(1, name);
  const int rc = find.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Internal("reading services", find.error());
  return rc == SQLITE_ROW;
}

StoreResult<Route> ConfigStore::FindRoute(const RouteKey& key) {
  const bool any_kind = key.match() == gateway::v1::MATCH_UNSPECIFIED;
  Statement find(*db_,
                 SelectRoutes(any_kind ? "WHERE path = ? ORDER BY \"match\", host, methods, headers"
                                       : "WHERE path = ? AND \"match\" = ? "
                                         "ORDER BY host, methods, headers"));
  find.Bind(1, key.path());
  if (!any_kind) find.Bind(2, static_cast<int64_t>(key.match()));
  std::vector<Route> candidates;  // every route with the key's conditions, and maybe more
  std::vector<Route> exact;       // those with exactly the key's conditions
  int rc;
  while ((rc = find.Step()) == SQLITE_ROW) {
    Route route = ReadRoute(find);
    if (!HasKeyConditions(route, key, false)) continue;
    if (HasKeyConditions(route, key, true)) exact.push_back(route);
    candidates.push_back(std::move(route));
  }
  if (rc != SQLITE_DONE) return Internal("reading routes", find.error());
  if (exact.size() == 1) return std::move(exact.front());
  if (candidates.empty()) {
    if (HasConditions(key))
      return StoreError{StoreCode::kNotFound,
                        "no route " + DescribeRouteMatch(RouteOfKey(key)) + " exists"};
    if (any_kind) return StoreError{StoreCode::kNotFound, "no route has path " + key.path()};
    return StoreError{
        StoreCode::kNotFound,
        "route " + key.path() + " (" + std::string(MatchName(key.match())) + ") does not exist"};
  }
  if (candidates.size() == 1) return std::move(candidates.front());
  if (exact.size() == 2 && candidates.size() == 2 && !HasConditions(key))
    return StoreError{StoreCode::kFailedPrecondition,
                      "path " + key.path() +
                          " has both a prefix and an exact route; choose one with --prefix or "
                          "--exact"};
  std::vector<std::string> names;
  for (const auto& route : (exact.empty() ? candidates : exact))
    names.push_back(DescribeRouteMatch(route));
  return StoreError{StoreCode::kFailedPrecondition,
                    "path " + key.path() + " names " + FormatCount(names.size()) +
                        " routes: " + JoinForMessage(names, "; ") +
                        "; name one with --exact/--prefix, --host, --method or --header"};
}

// ---------------------------------------------------------------- services

StoreResult<ServiceWrite> ConfigStore::CreateService(const Service& request) {
  Service service = request;
  service.clear_version();
  CanonicalizeService(&service);
  if (std::string e = ValidateService(service); !e.empty()) return Invalid(e);

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto exists = ServiceExists(service.name());
  if (!exists) return exists.error();
  if (*exists)
    return StoreError{
        StoreCode::kAlreadyExists,
        "service " + service.name() + " already exists; use `service update` to change it"};
  auto version = BumpVersion("create_service", DescribeService(service));
  if (!version) return version.error();

  Statement insert(*db_, "INSERT INTO services (name, version, policy) VALUES (?, ?, ?)");
  insert.Bind(1, service.name()).Bind(2, static_cast<int64_t>(*version));
  insert.BindBlob(3, ServicePolicyBytes(service));
  if (!insert.Run()) return Internal("writing the service", insert.error());
  if (auto e = WriteEndpoints(service)) return *e;
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  service.set_version(*version);
  return ServiceWrite{std::move(service), std::move(*snapshot)};
}

std::optional<StoreError> ConfigStore::WriteEndpoints(const Service& service) {
  Statement remove(*db_, "DELETE FROM endpoints WHERE service = ?");
  remove.Bind(1, service.name());
  if (!remove.Run()) return Internal("replacing endpoints", remove.error());
  for (int i = 0; i < service.endpoints_size(); ++i) {
    Statement endpoint(*db_,
                       "INSERT INTO endpoints (service, position, host, port) VALUES (?, ?, ?, ?)");
    endpoint.Bind(1, service.name())
        .Bind(2, int64_t{i})
        .Bind(3, service.endpoints(i).host())
        .Bind(4, int64_t{service.endpoints(i).port()});
    if (!endpoint.Run()) return Internal("writing an endpoint", endpoint.error());
  }
  return std::nullopt;
}

StoreResult<ServiceWrite> ConfigStore::UpdateService(const Service& request,
                                                     const google::protobuf::FieldMask& mask) {
  if (std::string e = ValidateServiceName(request.name()); !e.empty()) return Invalid(e);
  google::protobuf::FieldMask fields = mask;
  if (fields.paths().empty()) fields.add_paths("endpoints");  // clients from before the mask
  if (auto e = CheckMask(fields, Service::descriptor(), kUpdatableServiceFields, "service"))
    return *e;

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto current = GetService(request.name());  // no nested BEGIN: GetService reads plainly
  if (!current) return current.error();
  Service service = current->service;  // the stored service with the named fields changed
  ApplyMask(request, fields, &service);
  CanonicalizeService(&service);
  if (std::string e = ValidateService(service); !e.empty()) return Invalid(e);
  if (google::protobuf::util::MessageDifferencer::Equals(service, current->service)) {
    auto snapshot = ReadSnapshot();
    if (!snapshot) return snapshot.error();
    return ServiceWrite{std::move(current->service), std::move(*snapshot)};
  }
  service.clear_version();
  auto version = BumpVersion("update_service", DescribeService(service));
  if (!version) return version.error();
  if (auto e = WriteEndpoints(service)) return *e;
  Statement update(*db_, "UPDATE services SET version = ?, policy = ? WHERE name = ?");
  update.Bind(1, static_cast<int64_t>(*version));
  update.BindBlob(2, ServicePolicyBytes(service));
  update.Bind(3, service.name());
  if (!update.Run()) return Internal("writing the service", update.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  service.set_version(*version);
  return ServiceWrite{std::move(service), std::move(*snapshot)};
}

StoreResult<ServiceRead> ConfigStore::GetService(std::string_view name) {
  if (std::string e = ValidateServiceName(name); !e.empty()) return Invalid(e);
  // Inside a caller's transaction this joins it; alone, a deferred read transaction keeps the
  // version and the rows consistent.
  std::optional<Transaction> tx;
  if (sqlite3_get_autocommit(db_->handle())) {
    tx.emplace(*db_, Transaction::Mode::kDeferred);
    if (!tx->ok()) return Internal("starting a transaction", tx->error());
  }
  ServiceRead read;
  Statement find(*db_, "SELECT version, policy FROM services WHERE name = ?");
  find.Bind(1, name);
  int rc = find.Step();
  if (rc == SQLITE_DONE)
    return StoreError{StoreCode::kNotFound, "service " + std::string(name) + " does not exist"};
  if (rc != SQLITE_ROW) return Internal("reading services", find.error());
  read.service.ParseFromString(find.ColumnBlob(1));
  read.service.set_name(std::string(name));
  read.service.set_version(static_cast<uint64_t>(find.ColumnInt(0)));
  Statement endpoints(*db_, "SELECT host, port FROM endpoints WHERE service = ? ORDER BY position");
  endpoints.Bind(1, name);
  while ((rc = endpoints.Step()) == SQLITE_ROW) {
    auto* endpoint = read.service.add_endpoints();
    endpoint->set_host(endpoints.ColumnText(0));
    endpoint->set_port(static_cast<uint32_t>(endpoints.ColumnInt(1)));
  }
  if (rc != SQLITE_DONE) return Internal("reading endpoints", endpoints.error());
  auto version = ReadVersion();
  if (!version) return version.error();
  read.config_version = *version;
  return read;
}

StoreResult<ConfigPtr> ConfigStore::ListServices() { return LoadSnapshot(); }

StoreResult<ConfigPtr> ConfigStore::DeleteService(std::string_view name) {
  if (std::string e = ValidateServiceName(name); !e.empty()) return Invalid(e);

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto exists = ServiceExists(name);
  if (!exists) return exists.error();
  if (!*exists)
    return StoreError{StoreCode::kNotFound, "service " + std::string(name) + " does not exist"};

  // Routes that send traffic to it: as their target, or as one target of a split.
  Statement routes(*db_, SelectRoutes("ORDER BY path, \"match\", host, methods, headers"));
  std::vector<std::string> users;
  int rc;
  while ((rc = routes.Step()) == SQLITE_ROW) {
    const Route route = ReadRoute(routes);
    bool uses = route.target() == name;
    for (const auto& target : route.split()) uses = uses || target.target() == name;
    if (!uses) continue;
    std::string user = route.path();
    if (route.match() == gateway::v1::MATCH_EXACT) user += " (exact)";
    if (route.host() != "" || !route.methods().empty() || !route.headers().empty())
      user = DescribeRouteMatch(route);
    if (!route.split().empty()) user += " (split)";
    users.push_back(std::move(user));
  }
  if (rc != SQLITE_DONE) return Internal("reading routes", routes.error());
  if (!users.empty()) {
    const bool one = users.size() == 1;
    return StoreError{StoreCode::kFailedPrecondition,
                      "service " + std::string(name) + " is used by " +
                          (one ? std::string("route ") : FormatCount(users.size()) + " routes: ") +
                          JoinForMessage(users, ", ") + "; move or delete " +
                          (one ? "it" : "them") + " first"};
  }

  auto version = BumpVersion("delete_service", name);
  if (!version) return version.error();
  Statement remove(*db_, "DELETE FROM services WHERE name = ?");  // endpoints cascade
  remove.Bind(1, name);
  if (!remove.Run()) return Internal("deleting the service", remove.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  return std::move(*snapshot);
}

// ---------------------------------------------------------------- routes

std::optional<StoreError> ConfigStore::CheckRouteAgainstServices(const Route& route) {
  if (route.split().empty()) return std::nullopt;
  auto services = ServiceNames();
  if (!services) return services.error();
  if (std::string e = ValidateSplitTargets(route, *services); !e.empty()) return Invalid(e);
  return std::nullopt;
}

namespace {

// Edits (insert, delete, substitute) from `a` to `b`.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The service a misspelt name most likely meant: the same letters but for case and '-', or at
// most two edits away. "" when none is close.
std::string ClosestService(std::string_view target,
                           const std::set<std::string, std::less<>>& services) {
  const auto squeeze = [](std::string_view text) {
    std::string out;
    for (char c : AsciiLower(text))
      if (c != '-' && c != '_') out += c;
    return out;
  };
  std::string best;
  size_t best_distance = 3;
  for (const std::string& service : services) {
    if (squeeze(service) == squeeze(target)) return service;
    const size_t distance = EditDistance(AsciiLower(target), service);
    if (distance < best_distance) {
      best_distance = distance;
      best = service;
    }
  }
  return best;
}

}  // namespace

StoreResult<std::vector<std::string>> ConfigStore::TargetWarnings(const Route& route) {
  const std::string& target = route.target();
  // A dot or a port says "a host"; only a bare name could be a service somebody misspelt.
  if (target.empty() || target.find_first_of(".:[") != std::string::npos) return std::vector<std::string>{};
  auto services = ServiceNames();
  if (!services) return services.error();
  if (services->count(target)) return std::vector<std::string>{};
  std::string warning = "target " + Quote(target) +
                        " is not a registered service: every gateway will resolve it by DNS "
                        "(port 80), as a Kubernetes Service name";
  if (std::string closest = ClosestService(target, *services); !closest.empty())
    warning += "; did you mean service " + Quote(closest) + "?";
  return std::vector<std::string>{std::move(warning)};
}

StoreResult<RouteWrite> ConfigStore::CreateRoute(const Route& request) {
  Route route = request;
  route.clear_version();
  CanonicalizeRoute(&route);
  if (std::string e = ValidateRoute(route); !e.empty()) return Invalid(e);

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  if (auto e = CheckRouteAgainstServices(route)) return *e;
  auto warnings = TargetWarnings(route);
  if (!warnings) return warnings.error();
  {
    Statement find(*db_, SelectRoutes(std::string(kWhereRouteIdentity)));
    BindRouteIdentity(find, 1, route);
    const int rc = find.Step();
    if (rc == SQLITE_ROW)
      return StoreError{StoreCode::kAlreadyExists, "route " + DescribeRouteMatch(route) +
                                                       " already exists -> " +
                                                       FormatRouteTargets(ReadRoute(find))};
    if (rc != SQLITE_DONE) return Internal("reading routes", find.error());
  }

  auto version = BumpVersion("create_route", DescribeRoute(route));
  if (!version) return version.error();
  Statement insert(*db_,
                   "INSERT INTO routes (path, \"match\", host, methods, headers, target, version, "
                   "max_body_size, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  BindRouteIdentity(insert, 1, route);
  insert.Bind(6, route.target())
      .Bind(7, static_cast<int64_t>(*version))
      .Bind(8, static_cast<int64_t>(route.max_body_size()));  // validated: at most 2^40
  insert.BindBlob(9, RoutePolicyBytes(route));
  if (!insert.Run()) return Internal("writing the route", insert.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  route.set_version(*version);
  return RouteWrite{std::move(route), std::move(*snapshot), std::move(*warnings)};
}

StoreResult<RouteWrite> ConfigStore::UpdateRoute(const Route& request,
                                                 const google::protobuf::FieldMask& mask) {
  RouteKey key = KeyOf(request);
  CanonicalizeRouteKey(&key);
  if (auto e = CheckRouteKey(key)) return *e;
  google::protobuf::FieldMask fields = mask;
  if (fields.paths().empty()) {  // a client from before update_mask: the fields it set
    if (!request.target().empty()) fields.add_paths("target");
    if (request.max_body_size() != 0) fields.add_paths("max_body_size");
    if (fields.paths().empty())
      return Invalid("nothing to update on route " + request.path() +
                     ": give a new target or a max_body_size");
  }
  if (auto e = CheckMask(fields, Route::descriptor(), kUpdatableRouteFields, "route")) return *e;
  bool names_target = false;
  bool names_split = false;
  for (const auto& path : fields.paths()) {
    names_target = names_target || path == "target";
    names_split = names_split || path == "split";
  }
  if (names_target && names_split)
    return Invalid("route " + request.path() + ": update either the target or the split");

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = FindRoute(key);
  if (!found) return found.error();
  const Route before = std::move(*found);
  Route route = before;  // the stored route with the named fields changed
  ApplyMask(request, fields, &route);
  if (names_target) route.clear_split();  // "target" and "split" replace each other
  if (names_split) route.clear_target();
  CanonicalizeRoute(&route);
  if (std::string e = ValidateRoute(route); !e.empty()) return Invalid(e);
  if (auto e = CheckRouteAgainstServices(route)) return *e;
  // Warned about when the update names the target; a route kept on a DNS name is not news.
  StoreResult<std::vector<std::string>> warnings = std::vector<std::string>{};
  if (names_target) warnings = TargetWarnings(route);
  if (!warnings) return warnings.error();
  if (google::protobuf::util::MessageDifferencer::Equals(route, before)) {
    auto snapshot = ReadSnapshot();
    if (!snapshot) return snapshot.error();
    return RouteWrite{std::move(route), std::move(*snapshot), std::move(*warnings)};
  }
  auto version = BumpVersion("update_route", DescribeRouteChange(before, route));
  if (!version) return version.error();
  Statement update(*db_,
                   "UPDATE routes SET target = ?, max_body_size = ?, policy = ?, version = ? " +
                       std::string(kWhereRouteIdentity));
  update.Bind(1, route.target()).Bind(2, static_cast<int64_t>(route.max_body_size()));
  update.BindBlob(3, RoutePolicyBytes(route));
  update.Bind(4, static_cast<int64_t>(*version));
  BindRouteIdentity(update, 5, route);
  if (!update.Run()) return Internal("writing the route", update.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  route.set_version(*version);
  return RouteWrite{std::move(route), std::move(*snapshot), std::move(*warnings)};
}

StoreResult<RouteRead> ConfigStore::GetRoute(const RouteKey& request) {
  RouteKey key = request;
  CanonicalizeRouteKey(&key);
  if (auto e = CheckRouteKey(key)) return *e;
  Transaction tx(*db_, Transaction::Mode::kDeferred);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = FindRoute(key);
  if (!found) return found.error();
  auto version = ReadVersion();
  if (!version) return version.error();
  return RouteRead{std::move(*found), *version};
}

StoreResult<ConfigPtr> ConfigStore::ListRoutes() { return LoadSnapshot(); }

StoreResult<RouteWrite> ConfigStore::DeleteRoute(const RouteKey& request) {
  RouteKey key = request;
  CanonicalizeRouteKey(&key);
  if (auto e = CheckRouteKey(key)) return *e;

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = FindRoute(key);
  if (!found) return found.error();
  auto version = BumpVersion("delete_route", DescribeRoute(*found));
  if (!version) return version.error();
  Statement remove(*db_, "DELETE FROM routes " + std::string(kWhereRouteIdentity));
  BindRouteIdentity(remove, 1, *found);
  if (!remove.Run()) return Internal("deleting the route", remove.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  return RouteWrite{std::move(*found), std::move(*snapshot), {}};
}

// ---------------------------------------------------------------- consumers

StoreResult<ConsumerWrite> ConfigStore::CreateConsumer(const Consumer& request,
                                                       const std::vector<std::string>& api_keys) {
  Consumer consumer = request;
  consumer.clear_version();
  for (const std::string& key : api_keys) {
    std::string error;
    if (!ValidateApiKey(key, &error))
      return Invalid("consumer '" + consumer.name() + "': " + error);
    consumer.add_api_key_sha256(ApiKeySha256Hex(key));
  }
  if (std::string e = ValidateConsumer(consumer); !e.empty()) return Invalid(e);

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto existing = ReadConsumers(consumer.name());
  if (!existing) return existing.error();
  if (!existing->empty())
    return StoreError{StoreCode::kAlreadyExists,
                      "consumer " + consumer.name() +
                          " already exists; delete it first to change its credentials"};
  for (const std::string& digest : consumer.api_key_sha256()) {
    Statement owner(*db_, "SELECT consumer FROM consumer_api_keys WHERE sha256 = ?");
    owner.Bind(1, digest);
    const int rc = owner.Step();
    if (rc == SQLITE_ROW)
      return StoreError{StoreCode::kAlreadyExists,
                        "an api key given is already a key of consumer " + owner.ColumnText(0)};
    if (rc != SQLITE_DONE) return Internal("reading api keys", owner.error());
  }
  auto version = BumpVersion("create_consumer", DescribeConsumer(consumer));
  if (!version) return version.error();
  Statement insert(*db_,
                   "INSERT INTO consumers (name, version, jwt_issuer, jwt_secret, jwt_public_key) "
                   "VALUES (?, ?, ?, ?, ?)");
  insert.Bind(1, consumer.name())
      .Bind(2, static_cast<int64_t>(*version))
      .Bind(3, consumer.jwt().issuer())
      .Bind(4, consumer.jwt().secret())
      .Bind(5, consumer.jwt().public_key_pem());
  if (!insert.Run()) return Internal("writing the consumer", insert.error());
  for (int i = 0; i < consumer.api_key_sha256_size(); ++i) {
    Statement key(*db_,
                  "INSERT INTO consumer_api_keys (sha256, consumer, position) VALUES (?, ?, ?)");
    key.Bind(1, consumer.api_key_sha256(i)).Bind(2, consumer.name()).Bind(3, int64_t{i});
    if (!key.Run()) return Internal("writing an api key", key.error());
  }
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  consumer.set_version(*version);
  return ConsumerWrite{std::move(consumer), std::move(*snapshot)};
}

StoreResult<ConsumerRead> ConfigStore::GetConsumer(std::string_view name) {
  if (std::string e = ValidateServiceName(name); !e.empty())
    return Invalid("consumer" + e.substr(std::string_view("service").size()));
  Transaction tx(*db_, Transaction::Mode::kDeferred);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = ReadConsumers(name);
  if (!found) return found.error();
  if (found->empty())
    return StoreError{StoreCode::kNotFound, "consumer " + std::string(name) + " does not exist"};
  auto version = ReadVersion();
  if (!version) return version.error();
  return ConsumerRead{std::move(found->front()), *version};
}

StoreResult<ConfigPtr> ConfigStore::ListConsumers() { return LoadSnapshot(); }

StoreResult<ConfigPtr> ConfigStore::DeleteConsumer(std::string_view name) {
  if (std::string e = ValidateServiceName(name); !e.empty())
    return Invalid("consumer" + e.substr(std::string_view("service").size()));
  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = ReadConsumers(name);
  if (!found) return found.error();
  if (found->empty())
    return StoreError{StoreCode::kNotFound, "consumer " + std::string(name) + " does not exist"};
  auto version = BumpVersion("delete_consumer", name);
  if (!version) return version.error();
  Statement remove(*db_, "DELETE FROM consumers WHERE name = ?");  // api keys cascade
  remove.Bind(1, name);
  if (!remove.Run()) return Internal("deleting the consumer", remove.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  return std::move(*snapshot);
}

StoreResult<ConfigPtr> ConfigStore::LoadSnapshot() {
  Transaction tx(*db_, Transaction::Mode::kDeferred);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  return ReadSnapshot();
}

}  // namespace gw
