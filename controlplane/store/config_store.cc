#include "controlplane/store/config_store.h"

#include <sqlite3.h>

#include <chrono>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "common/byte_size.h"
#include "common/validation.h"

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::MatchKind;
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

constexpr std::string_view kMigrations[] = {kSchemaV1, kSchemaV2};
static_assert(std::size(kMigrations) == kConfigSchemaVersion);

StoreError Invalid(std::string message) {
  return {StoreCode::kInvalidArgument, std::move(message)};
}

// "SELECT <every column of a route, in ReadRoute's order> FROM routes <rest>".
std::string SelectRoutes(std::string_view rest) {
  return "SELECT path, \"match\", target, version, max_body_size FROM routes " + std::string(rest);
}

Route ReadRoute(const Statement& row) {
  Route route;
  route.set_path(row.ColumnText(0));
  route.set_match(static_cast<MatchKind>(row.ColumnInt(1)));
  route.set_target(row.ColumnText(2));
  route.set_version(static_cast<uint64_t>(row.ColumnInt(3)));
  route.set_max_body_size(static_cast<uint64_t>(row.ColumnInt(4)));
  return route;
}

// The fields of a route that `route update` changes, as UpdateRouteRequest.update_mask names
// them. A new updatable field gets a flag here, a case in RouteFieldsToUpdate and a line in
// ConfigStore::UpdateRoute.
struct RouteFields {
  bool target = false;
  bool max_body_size = false;
};
constexpr std::string_view kUpdatableRouteFields = "target, max_body_size";

std::string RouteName(std::string_view path, MatchKind match) {
  return std::string(path) + " (" + std::string(MatchName(match)) + ")";
}

std::string EndpointList(const Service& service) {
  std::string out;
  for (const auto& endpoint : service.endpoints()) {
    if (!out.empty()) out += ",";
    out += FormatHostPort(endpoint.host(), endpoint.port());
  }
  return out;
}

bool SameEndpoints(const Service& a, const Service& b) {
  if (a.endpoints_size() != b.endpoints_size()) return false;
  for (int i = 0; i < a.endpoints_size(); ++i) {
    if (a.endpoints(i).host() != b.endpoints(i).host() ||
        a.endpoints(i).port() != b.endpoints(i).port())
      return false;
  }
  return true;
}

// A route key as the admin API sends it: a valid path, and a match kind that is prefix, exact or
// unspecified ("the only route with this path").
std::optional<StoreError> CheckRouteKey(std::string_view path, int match) {
  if (std::string e = ValidateRoutePath(path); !e.empty()) return Invalid(e);
  if (match != gateway::v1::MATCH_UNSPECIFIED && match != gateway::v1::MATCH_PREFIX &&
      match != gateway::v1::MATCH_EXACT)
    return Invalid("match kind " + std::to_string(match) + " is neither prefix nor exact");
  return std::nullopt;
}

// The fields an update names (see UpdateRouteRequest), each checked alone; refused when it
// names an unknown field or none.
StoreResult<RouteFields> RouteFieldsToUpdate(const Route& request,
                                             const google::protobuf::FieldMask& mask) {
  RouteFields fields;
  if (mask.paths().empty()) {  // a client from before update_mask: the fields it set
    fields.target = !request.target().empty();
    fields.max_body_size = request.max_body_size() != 0;
  }
  for (const std::string& name : mask.paths()) {
    if (name == "target") {
      fields.target = true;
    } else if (name == "max_body_size") {
      fields.max_body_size = true;
    } else {
      return Invalid("route field '" + name +
                     "' cannot be updated (updatable: " + std::string(kUpdatableRouteFields) + ")");
    }
  }
  if (!fields.target && !fields.max_body_size)
    return Invalid("nothing to update on route " + request.path() +
                   ": give a new target or a max_body_size");
  if (fields.target) {
    if (std::string e = ValidateTarget(request.target()); !e.empty()) return Invalid(e);
  }
  if (fields.max_body_size) {
    if (std::string e = ValidateMaxBodySize(request.max_body_size()); !e.empty())
      return Invalid("route " + request.path() + ": " + e);
  }
  return fields;
}

// "-> b.example (was a.example), max_body_size 10m (was the gateway's)" for the history.
std::string DescribeRouteChange(const Route& before, const Route& after) {
  std::string out = "-> " + after.target();
  if (after.target() != before.target()) out += " (was " + before.target() + ")";
  if (after.max_body_size() != before.max_body_size()) {
    auto limit = [](uint64_t bytes) {
      return bytes == 0 ? std::string("the gateway's") : FormatByteSize(bytes);
    };
    out += ", max_body_size " + limit(after.max_body_size()) + " (was " +
           limit(before.max_body_size()) + ")";
  }
  return out;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<ConfigStore> ConfigStore::Open(const std::string& path) {
  std::unique_ptr<ConfigStore> store(new ConfigStore(Database::Open(path)));
  store->Migrate();
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
  if (current == kConfigSchemaVersion) return;
  for (int64_t version = current; version < kConfigSchemaVersion; ++version) {
    std::string error;
    if (!db_->Exec(kMigrations[version], &error) ||
        !db_->Exec("PRAGMA user_version = " + std::to_string(version + 1), &error))
      throw std::runtime_error(prefix + "schema version " + std::to_string(version + 1) + ": " +
                               error);
  }
  if (!tx.Commit()) throw std::runtime_error(prefix + tx.error());
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
  if (!tx.Commit()) return Internal("committing", tx.error());
  return snapshot;
}

StoreResult<ConfigPtr> ConfigStore::ReadSnapshot() {
  auto config = std::make_shared<Config>();
  auto version = ReadVersion();
  if (!version) return version.error();
  config->set_version(*version);

  std::unordered_map<std::string, Service*> by_name;
  Statement services(*db_, "SELECT name, version FROM services ORDER BY name");
  int rc;
  while ((rc = services.Step()) == SQLITE_ROW) {
    Service* service = config->add_services();
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

  Statement routes(*db_, SelectRoutes("ORDER BY path, \"match\""));
  while ((rc = routes.Step()) == SQLITE_ROW) *config->add_routes() = ReadRoute(routes);
  if (rc != SQLITE_DONE) return Internal("reading routes", routes.error());
  return ConfigPtr(std::move(config));
}

StoreResult<bool> ConfigStore::ServiceExists(std::string_view name) {
  Statement find(*db_, "SELECT 1 FROM services WHERE name = ?");
  find.Bind(1, name);
  const int rc = find.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Internal("reading services", find.error());
  return rc == SQLITE_ROW;
}

StoreResult<Route> ConfigStore::FindRoute(std::string_view path, MatchKind match) {
  const bool any = match == gateway::v1::MATCH_UNSPECIFIED;
  Statement find(*db_, SelectRoutes(any ? "WHERE path = ? ORDER BY \"match\""
                                        : "WHERE path = ? AND \"match\" = ?"));
  find.Bind(1, path);
  if (!any) find.Bind(2, static_cast<int64_t>(match));
  std::vector<Route> found;
  int rc;
  while ((rc = find.Step()) == SQLITE_ROW) found.push_back(ReadRoute(find));
  if (rc != SQLITE_DONE) return Internal("reading routes", find.error());
  if (found.empty()) {
    if (any) return StoreError{StoreCode::kNotFound, "no route has path " + std::string(path)};
    return StoreError{StoreCode::kNotFound, "route " + RouteName(path, match) + " does not exist"};
  }
  if (found.size() > 1)
    return StoreError{StoreCode::kFailedPrecondition,
                      "path " + std::string(path) +
                          " has both a prefix and an exact route; choose one with --prefix or "
                          "--exact"};
  return std::move(found.front());
}

StoreResult<ServiceWrite> ConfigStore::CreateService(const Service& request) {
  Service service = request;
  service.clear_version();
  if (std::string e = ValidateService(service); !e.empty()) return Invalid(e);

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto exists = ServiceExists(service.name());
  if (!exists) return exists.error();
  if (*exists)
    return StoreError{StoreCode::kAlreadyExists,
                      "service " + service.name() +
                          " already exists; use `service update` to change its endpoints"};
  auto version = BumpVersion("create_service", service.name() + " " + EndpointList(service));
  if (!version) return version.error();

  Statement insert(*db_, "INSERT INTO services (name, version) VALUES (?, ?)");
  insert.Bind(1, service.name()).Bind(2, static_cast<int64_t>(*version));
  if (!insert.Run()) return Internal("writing the service", insert.error());
  for (int i = 0; i < service.endpoints_size(); ++i) {
    Statement endpoint(*db_,
                       "INSERT INTO endpoints (service, position, host, port) VALUES (?, ?, ?, ?)");
    endpoint.Bind(1, service.name())
        .Bind(2, int64_t{i})
        .Bind(3, service.endpoints(i).host())
        .Bind(4, int64_t{service.endpoints(i).port()});
    if (!endpoint.Run()) return Internal("writing an endpoint", endpoint.error());
  }
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  service.set_version(*version);
  return ServiceWrite{std::move(service), std::move(*snapshot)};
}

StoreResult<ServiceWrite> ConfigStore::UpdateService(const Service& request) {
  Service service = request;
  service.clear_version();
  if (std::string e = ValidateService(service); !e.empty()) return Invalid(e);

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto current = GetService(service.name());  // no nested BEGIN: GetService reads plainly
  if (!current) return current.error();
  if (SameEndpoints(current->service, service)) {
    auto snapshot = ReadSnapshot();
    if (!snapshot) return snapshot.error();
    return ServiceWrite{std::move(current->service), std::move(*snapshot)};
  }
  auto version = BumpVersion("update_service", service.name() + " " + EndpointList(service));
  if (!version) return version.error();

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
  Statement update(*db_, "UPDATE services SET version = ? WHERE name = ?");
  update.Bind(1, static_cast<int64_t>(*version)).Bind(2, service.name());
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
  Statement find(*db_, "SELECT version FROM services WHERE name = ?");
  find.Bind(1, name);
  int rc = find.Step();
  if (rc == SQLITE_DONE)
    return StoreError{StoreCode::kNotFound, "service " + std::string(name) + " does not exist"};
  if (rc != SQLITE_ROW) return Internal("reading services", find.error());
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

  Statement users(*db_,
                  "SELECT path, \"match\" FROM routes WHERE target = ? ORDER BY path, \"match\"");
  users.Bind(1, name);
  std::vector<std::string> paths;
  int rc;
  while ((rc = users.Step()) == SQLITE_ROW) {
    const auto match = static_cast<MatchKind>(users.ColumnInt(1));
    paths.push_back(users.ColumnText(0) +
                    (match == gateway::v1::MATCH_EXACT ? std::string(" (exact)") : ""));
  }
  if (rc != SQLITE_DONE) return Internal("reading routes", users.error());
  if (!paths.empty()) {
    std::string list;
    for (const auto& path : paths) list += (list.empty() ? "" : ", ") + path;
    const bool one = paths.size() == 1;
    return StoreError{StoreCode::kFailedPrecondition,
                      "service " + std::string(name) + " is used by route" + (one ? " " : "s ") +
                          list + "; move or delete " + (one ? "it" : "them") + " first"};
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

StoreResult<RouteWrite> ConfigStore::CreateRoute(const Route& request) {
  Route route = request;
  route.clear_version();
  if (std::string e = ValidateRoute(route); !e.empty()) return Invalid(e);

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto existing = FindRoute(route.path(), route.match());
  if (existing)
    return StoreError{StoreCode::kAlreadyExists, "route " + RouteName(route.path(), route.match()) +
                                                     " already exists -> " + existing->target()};
  if (existing.error().code != StoreCode::kNotFound) return existing.error();

  std::string detail = RouteName(route.path(), route.match()) + " -> " + route.target();
  if (route.max_body_size() != 0)
    detail += ", max_body_size " + FormatByteSize(route.max_body_size());
  auto version = BumpVersion("create_route", detail);
  if (!version) return version.error();
  Statement insert(*db_,
                   "INSERT INTO routes (path, \"match\", target, version, max_body_size) "
                   "VALUES (?, ?, ?, ?, ?)");
  insert.Bind(1, route.path())
      .Bind(2, static_cast<int64_t>(route.match()))
      .Bind(3, route.target())
      .Bind(4, static_cast<int64_t>(*version))
      .Bind(5, static_cast<int64_t>(route.max_body_size()));  // validated: at most 2^40
  if (!insert.Run()) return Internal("writing the route", insert.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  route.set_version(*version);
  return RouteWrite{std::move(route), std::move(*snapshot)};
}

StoreResult<RouteWrite> ConfigStore::UpdateRoute(const Route& request,
                                                 const google::protobuf::FieldMask& mask) {
  if (auto e = CheckRouteKey(request.path(), request.match())) return *e;
  auto fields = RouteFieldsToUpdate(request, mask);
  if (!fields) return fields.error();

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = FindRoute(request.path(), request.match());
  if (!found) return found.error();
  const Route before = std::move(*found);
  Route route = before;  // the stored route with the named fields changed
  if (fields->target) route.set_target(request.target());
  if (fields->max_body_size) route.set_max_body_size(request.max_body_size());
  if (std::string e = ValidateRoute(route); !e.empty()) return Invalid(e);
  if (route.target() == before.target() && route.max_body_size() == before.max_body_size()) {
    auto snapshot = ReadSnapshot();
    if (!snapshot) return snapshot.error();
    return RouteWrite{std::move(route), std::move(*snapshot)};
  }
  auto version = BumpVersion("update_route", RouteName(route.path(), route.match()) + " " +
                                                 DescribeRouteChange(before, route));
  if (!version) return version.error();
  Statement update(*db_,
                   "UPDATE routes SET target = ?, max_body_size = ?, version = ? "
                   "WHERE path = ? AND \"match\" = ?");
  update.Bind(1, route.target())
      .Bind(2, static_cast<int64_t>(route.max_body_size()))
      .Bind(3, static_cast<int64_t>(*version))
      .Bind(4, route.path())
      .Bind(5, static_cast<int64_t>(route.match()));
  if (!update.Run()) return Internal("writing the route", update.error());
  auto snapshot = CommitWithSnapshot(tx);
  if (!snapshot) return snapshot.error();
  route.set_version(*version);
  return RouteWrite{std::move(route), std::move(*snapshot)};
}

StoreResult<RouteRead> ConfigStore::GetRoute(const gateway::v1::RouteKey& key) {
  if (auto e = CheckRouteKey(key.path(), key.match())) return *e;
  Transaction tx(*db_, Transaction::Mode::kDeferred);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = FindRoute(key.path(), key.match());
  if (!found) return found.error();
  auto version = ReadVersion();
  if (!version) return version.error();
  return RouteRead{std::move(*found), *version};
}

StoreResult<ConfigPtr> ConfigStore::ListRoutes() { return LoadSnapshot(); }

StoreResult<ConfigPtr> ConfigStore::DeleteRoute(const gateway::v1::RouteKey& key) {
  if (auto e = CheckRouteKey(key.path(), key.match())) return *e;

  Transaction tx(*db_);
  if (!tx.ok()) return Internal("starting a transaction", tx.error());
  auto found = FindRoute(key.path(), key.match());
  if (!found) return found.error();
  auto version = BumpVersion("delete_route",
                             RouteName(found->path(), found->match()) + " -> " + found->target());
  if (!version) return version.error();
  Statement remove(*db_, "DELETE FROM routes WHERE path = ? AND \"match\" = ?");
  remove.Bind(1, found->path()).Bind(2, static_cast<int64_t>(found->match()));
  if (!remove.Run()) return Internal("deleting the route", remove.error());
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
