// ConfigStore on temp databases: CRUD, one version per write, refusals that change nothing,
// persistence across reopen, schema versioning.
#include "controlplane/store/config_store.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>
#include <string>
#include <vector>

#include "controlplane/store/sqlite.h"
#include "tests/unit/controlplane/store_backends.h"
#include "tests/unit/support/temp_dir.h"

namespace gw {
namespace {

using gateway::v1::MATCH_EXACT;
using gateway::v1::MATCH_PREFIX;
using gateway::v1::MATCH_UNSPECIFIED;
using gateway::v1::MatchKind;
using gateway::v1::Route;
using gateway::v1::RouteKey;
using gateway::v1::Service;
using google::protobuf::util::MessageDifferencer;

Service MakeService(const std::string& name, std::vector<std::pair<std::string, uint32_t>> eps) {
  Service service;
  service.set_name(name);
  for (auto& [host, port] : eps) {
    auto* endpoint = service.add_endpoints();
    endpoint->set_host(host);
    endpoint->set_port(port);
  }
  return service;
}

Route MakeRoute(const std::string& path, const std::string& target,
                MatchKind match = MATCH_PREFIX) {
  Route route;
  route.set_path(path);
  route.set_target(target);
  route.set_match(match);
  return route;
}

Route WithBodyLimit(Route route, uint64_t bytes) {
  route.set_max_body_size(bytes);
  return route;
}

google::protobuf::FieldMask Mask(std::vector<std::string> fields) {
  google::protobuf::FieldMask mask;
  for (auto& field : fields) mask.add_paths(std::move(field));
  return mask;
}

RouteKey Key(const std::string& path, MatchKind match = MATCH_UNSPECIFIED) {
  RouteKey key;
  key.set_path(path);
  key.set_match(match);
  return key;
}

// Runs against every backend (store_backends.h).
class ConfigStoreTest : public testing::StoreTest {};
GW_STORE_BACKENDS(ConfigStoreTest);

// The SQLite file's own properties.
class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = ConfigStore::Open(path_); }

  uint64_t Version() {
    auto snapshot = store_->LoadSnapshot();
    EXPECT_TRUE(snapshot.ok());
    return snapshot.ok() ? (*snapshot)->version() : 0;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("config.db");
  std::unique_ptr<ConfigStore> store_;
};

TEST_P(ConfigStoreTest, EmptyDatabaseStartsAtVersionZero) {
  auto snapshot = store_->LoadSnapshot();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ((*snapshot)->version(), 0u);
  EXPECT_EQ((*snapshot)->services_size(), 0);
  EXPECT_EQ((*snapshot)->routes_size(), 0);
}

TEST_F(SqliteStoreTest, SchemaVersionAndConnectionSettings) {
  auto db = Database::Open(path_, Database::Lock::kShared);
  Statement user_version(*db, "PRAGMA user_version");
  ASSERT_EQ(user_version.Step(), SQLITE_ROW);
  EXPECT_EQ(user_version.ColumnInt(0), kConfigSchemaVersion);
  Statement journal(*db, "PRAGMA journal_mode");
  ASSERT_EQ(journal.Step(), SQLITE_ROW);
  EXPECT_EQ(journal.ColumnText(0), "wal");
  Statement foreign_keys(*db, "PRAGMA foreign_keys");
  ASSERT_EQ(foreign_keys.Step(), SQLITE_ROW);
  EXPECT_EQ(foreign_keys.ColumnInt(0), 1);
}

TEST_F(SqliteStoreTest, RefusesADatabaseFromANewerControlPlane) {
  store_.reset();
  {
    auto db = Database::Open(path_, Database::Lock::kShared);
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 99"));
  }
  try {
    ConfigStore::Open(path_);
    FAIL() << "opened a database with a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this control plane"), std::string::npos)
        << e.what();
  }
}

TEST_F(SqliteStoreTest, RefusesAFileThatIsNotADatabase) {
  const std::string bad = dir_.File("bad.db");
  {
    auto db =
        Database::Open(bad, Database::Lock::kShared);  // creates it; then overwrite with garbage
  }
  std::filesystem::remove(bad + "-wal");
  std::filesystem::remove(bad + "-shm");
  FILE* file = fopen(bad.c_str(), "w");
  ASSERT_NE(file, nullptr);
  fputs("this is not a database, just some text that is long enough to be a header......", file);
  fclose(file);
  EXPECT_THROW(ConfigStore::Open(bad), std::runtime_error);
  EXPECT_THROW(ConfigStore::Open(dir_.File("missing-dir/x.db")), std::runtime_error);
}

TEST_P(ConfigStoreTest, ServiceCrud) {
  auto created = store_->CreateService(MakeService("order-svc", {{"127.0.0.1", 9101}}));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->service.version(), 1u);
  EXPECT_EQ(created->snapshot->version(), 1u);
  ASSERT_EQ(created->snapshot->services_size(), 1);
  EXPECT_EQ(created->snapshot->services(0).name(), "order-svc");

  auto got = store_->GetService("order-svc");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->config_version, 1u);
  ASSERT_EQ(got->service.endpoints_size(), 1);
  EXPECT_EQ(got->service.endpoints(0).port(), 9101u);

  auto updated = store_->UpdateService(
      MakeService("order-svc", {{"127.0.0.1", 9201}, {"::1", 9202}, {"order.internal", 80}}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->service.version(), 2u);
  got = store_->GetService("order-svc");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->service.endpoints_size(), 3);  // replaced, order kept
  EXPECT_EQ(got->service.endpoints(0).port(), 9201u);
  EXPECT_EQ(got->service.endpoints(1).host(), "::1");
  EXPECT_EQ(got->service.endpoints(2).host(), "order.internal");
  EXPECT_EQ(got->service.version(), 2u);

  ASSERT_TRUE(store_->CreateService(MakeService("auth-svc", {{"127.0.0.1", 9100}})).ok());
  auto list = store_->ListServices();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)->services_size(), 2);
  EXPECT_EQ((*list)->services(0).name(), "auth-svc");  // sorted by name
  EXPECT_EQ((*list)->services(1).name(), "order-svc");

  auto deleted = store_->DeleteService("order-svc");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ((*deleted)->version(), 4u);
  ASSERT_EQ((*deleted)->services_size(), 1);
  EXPECT_EQ(store_->GetService("order-svc").error().code, StoreCode::kNotFound);
  // Its endpoints went with it (ON DELETE CASCADE).
  EXPECT_EQ(location_->Query("SELECT count(*) FROM endpoints WHERE service = 'order-svc'"),
            std::vector<std::string>{"0"});
}

TEST_P(ConfigStoreTest, RouteCrud) {
  ASSERT_TRUE(store_->CreateService(MakeService("order-svc", {{"127.0.0.1", 9101}})).ok());
  ASSERT_TRUE(store_->CreateService(MakeService("payment-svc", {{"127.0.0.1", 9102}})).ok());
  auto created = store_->CreateRoute(MakeRoute("/api", "order-svc"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->route.version(), 3u);
  EXPECT_EQ(created->route.match(), MATCH_PREFIX);
  // A target that is not a service is a DNS name: accepted without an existence check.
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api/auth", "auth-svc")).ok());
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api/payment", "payment-svc")).ok());
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api", "payment-svc", MATCH_EXACT)).ok());
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/legacy", "legacy.example.com:8080")).ok());

  auto list = store_->ListRoutes();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)->version(), 7u);
  std::vector<std::string> order;
  for (const auto& route : (*list)->routes())
    order.push_back(route.path() + ":" + std::to_string(route.match()));
  EXPECT_EQ(order, (std::vector<std::string>{"/api:1", "/api:2", "/api/auth:1", "/api/payment:1",
                                             "/legacy:1"}));

  auto got = store_->GetRoute(Key("/api/payment"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->route.target(), "payment-svc");
  EXPECT_EQ(got->config_version, 7u);

  auto updated = store_->UpdateRoute(MakeRoute("/api/payment", "order-svc", MATCH_UNSPECIFIED));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.target(), "order-svc");
  EXPECT_EQ(updated->route.match(), MATCH_PREFIX);
  EXPECT_EQ(updated->route.version(), 8u);
  EXPECT_EQ(updated->snapshot->version(), 8u);

  auto exact = store_->GetRoute(Key("/api", MATCH_EXACT));
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->route.target(), "payment-svc");

  auto deleted = store_->DeleteRoute(Key("/api", MATCH_EXACT));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->snapshot->version(), 9u);
  EXPECT_EQ(deleted->snapshot->routes_size(), 4);
  EXPECT_EQ(deleted->route.match(), MATCH_EXACT);  // the route deleted, as it was stored
  EXPECT_EQ(deleted->route.target(), "payment-svc");
  // With the exact one gone, the unspecified key names the prefix route again.
  auto prefix = store_->GetRoute(Key("/api"));
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->route.match(), MATCH_PREFIX);
}

TEST_P(ConfigStoreTest, EveryWriteBumpsTheVersionByOneAndAddsHistory) {
  std::vector<std::function<bool()>> writes = {
      [&] {
        return store_->CreateService(MakeService("a", {{"127.0.0.1", 1}})).ok();
      },
      [&] { return store_->CreateRoute(MakeRoute("/a", "a")).ok(); },
      [&] {
        return store_->UpdateService(MakeService("a", {{"127.0.0.1", 2}})).ok();
      },
      [&] { return store_->UpdateRoute(MakeRoute("/a", "b.example", MATCH_PREFIX)).ok(); },
      [&] { return store_->DeleteRoute(Key("/a")).ok(); },
      [&] { return store_->DeleteService("a").ok(); },
  };
  uint64_t expected = 0;
  for (auto& write : writes) {
    ASSERT_TRUE(write());
    EXPECT_EQ(Version(), ++expected);
  }
  EXPECT_EQ(location_->Query("SELECT version, action FROM history ORDER BY version"),
            (std::vector<std::string>{"1|create_service", "2|create_route", "3|update_service",
                                      "4|update_route", "5|delete_route", "6|delete_service"}));
}

WriteContext By(std::string actor) {
  WriteContext context;
  context.actor = std::move(actor);
  return context;
}

TEST_P(ConfigStoreTest, EachVersionRecordsWhoMadeIt) {
  ASSERT_TRUE(store_->CreateService(MakeService("a", {{"127.0.0.1", 1}}), By("alice")).ok());
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/a", "a")).ok());  // auth off: anonymous
  ASSERT_TRUE(store_->DeleteRoute(Key("/a"), By("CN=ci,O=example")).ok());
  // A refused write records nothing.
  EXPECT_FALSE(store_->DeleteService("missing", By("mallory")).ok());
  EXPECT_EQ(location_->Query("SELECT version, actor FROM history ORDER BY version"),
            (std::vector<std::string>{"1|alice", "2|anonymous", "3|CN=ci,O=example"}));
}

TEST_P(ConfigStoreTest, UpdateThatChangesNothingIsANoOp) {
  ASSERT_TRUE(store_->CreateService(MakeService("a", {{"127.0.0.1", 1}})).ok());
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/a", "a")).ok());
  const std::string before = location_->Dump();
  auto service = store_->UpdateService(MakeService("a", {{"127.0.0.1", 1}}));
  ASSERT_TRUE(service.ok());
  EXPECT_EQ(service->service.version(), 1u);
  EXPECT_EQ(service->snapshot->version(), 2u);
  auto route = store_->UpdateRoute(MakeRoute("/a", "a", MATCH_UNSPECIFIED));
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(route->route.version(), 2u);
  EXPECT_EQ(route->snapshot->version(), 2u);
  EXPECT_EQ(location_->Dump(), before);
}

TEST_P(ConfigStoreTest, RouteBodyLimitIsStoredListedAndPublished) {
  ASSERT_TRUE(store_->CreateService(MakeService("files", {{"127.0.0.1", 9101}})).ok());
  auto created = store_->CreateRoute(WithBodyLimit(MakeRoute("/upload", "files"), 10 << 20));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->route.max_body_size(), 10u << 20);
  ASSERT_EQ(created->snapshot->routes_size(), 1);
  EXPECT_EQ(created->snapshot->routes(0).max_body_size(), 10u << 20);
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/plain", "files")).ok());

  auto got = store_->GetRoute(Key("/upload"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->route.max_body_size(), 10u << 20);
  auto list = store_->ListRoutes();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)->routes_size(), 2);
  EXPECT_EQ((*list)->routes(0).path(), "/plain");
  EXPECT_EQ((*list)->routes(0).max_body_size(), 0u);  // the gateway's own limit
  EXPECT_EQ((*list)->routes(1).max_body_size(), 10u << 20);

  // Survives a reopen, and the history says what was set.
  Reopen();
  got = store_->GetRoute(Key("/upload"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->route.max_body_size(), 10u << 20);
  EXPECT_EQ(location_->Query("SELECT detail FROM history WHERE version = 2"),
            std::vector<std::string>{"/upload (prefix) -> files, max_body_size 10m"});
}

TEST_P(ConfigStoreTest, UpdateChangesOnlyTheFieldsItNames) {
  ASSERT_TRUE(store_->CreateService(MakeService("files", {{"127.0.0.1", 9101}})).ok());
  ASSERT_TRUE(store_->CreateRoute(WithBodyLimit(MakeRoute("/upload", "files"), 1 << 20)).ok());

  // A new target alone keeps the limit (the mask names the target only).
  auto updated =
      store_->UpdateRoute(MakeRoute("/upload", "files-v2", MATCH_UNSPECIFIED), Mask({"target"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.target(), "files-v2");
  EXPECT_EQ(updated->route.max_body_size(), 1u << 20);
  EXPECT_EQ(updated->route.version(), 3u);

  // A limit alone keeps the target, even with no target in the request.
  Route limit_only = MakeRoute("/upload", "", MATCH_UNSPECIFIED);
  limit_only.set_max_body_size(5 << 20);
  updated = store_->UpdateRoute(limit_only, Mask({"max_body_size"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.target(), "files-v2");
  EXPECT_EQ(updated->route.max_body_size(), 5u << 20);
  EXPECT_EQ(updated->snapshot->routes(0).max_body_size(), 5u << 20);
  EXPECT_EQ(updated->snapshot->version(), 4u);

  // Named with 0: cleared, back to the gateway's default.
  limit_only.set_max_body_size(0);
  updated = store_->UpdateRoute(limit_only, Mask({"max_body_size"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.max_body_size(), 0u);
  EXPECT_EQ(updated->route.target(), "files-v2");
  EXPECT_EQ(updated->route.version(), 5u);

  // Both at once.
  updated = store_->UpdateRoute(WithBodyLimit(MakeRoute("/upload", "files", MATCH_PREFIX), 4096),
                                Mask({"target", "max_body_size"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.target(), "files");
  EXPECT_EQ(updated->route.max_body_size(), 4096u);

  EXPECT_EQ(location_->Query("SELECT detail FROM history WHERE version >= 3 ORDER BY version"),
            (std::vector<std::string>{
                "/upload (prefix) -> files-v2 (was files)",
                "/upload (prefix) -> files-v2, max_body_size 5m (was 1m)",
                "/upload (prefix) -> files-v2, max_body_size the gateway's (was 5m)",
                "/upload (prefix) -> files (was files-v2), max_body_size 4k (was the "
                "gateway's)"}));
}

TEST_P(ConfigStoreTest, UpdateWithoutAMaskChangesTheFieldsThatAreSet) {
  // What clients from before update_mask send: the key and a target. The limit stays.
  ASSERT_TRUE(store_->CreateRoute(WithBodyLimit(MakeRoute("/upload", "files"), 1 << 20)).ok());
  auto updated = store_->UpdateRoute(MakeRoute("/upload", "files-v2", MATCH_UNSPECIFIED));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.target(), "files-v2");
  EXPECT_EQ(updated->route.max_body_size(), 1u << 20);
  // A limit set without a mask changes the limit and keeps the target.
  updated = store_->UpdateRoute(WithBodyLimit(MakeRoute("/upload", "", MATCH_UNSPECIFIED), 2048));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.target(), "files-v2");
  EXPECT_EQ(updated->route.max_body_size(), 2048u);
}

TEST_P(ConfigStoreTest, UpdateToTheSameLimitIsANoOp) {
  ASSERT_TRUE(store_->CreateRoute(WithBodyLimit(MakeRoute("/upload", "files"), 1 << 20)).ok());
  const std::string before = location_->Dump();
  auto updated = store_->UpdateRoute(
      WithBodyLimit(MakeRoute("/upload", "", MATCH_UNSPECIFIED), 1 << 20), Mask({"max_body_size"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.version(), 1u);
  EXPECT_EQ(updated->snapshot->version(), 1u);
  EXPECT_EQ(location_->Dump(), before);
}

// A database written by the control plane before route body limits (schema version 1), with a
// route in it, as that release left it.
TEST_F(SqliteStoreTest, MigratesAVersion1DatabaseKeepingItsRoutes) {
  store_.reset();
  testing::TempDir dir;
  const std::string path = dir.File("v1.db");
  {
    auto db = Database::Open(path, Database::Lock::kShared);
    std::string error;
    ASSERT_TRUE(db->Exec(R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('config_version', 2);
CREATE TABLE services (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE endpoints (
  service  TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  host     TEXT NOT NULL,
  port     INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  PRIMARY KEY (service, position)
);
CREATE TABLE routes (
  path    TEXT NOT NULL,
  "match" INTEGER NOT NULL CHECK ("match" IN (1, 2)),
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
INSERT INTO services (name, version) VALUES ('order-svc', 1);
INSERT INTO endpoints (service, position, host, port) VALUES ('order-svc', 0, '127.0.0.1', 9101);
INSERT INTO routes (path, "match", target, version) VALUES ('/api', 1, 'order-svc', 2);
INSERT INTO history VALUES (1, 0, 'create_service', 'order-svc 127.0.0.1:9101');
INSERT INTO history VALUES (2, 0, 'create_route', '/api (prefix) -> order-svc');
PRAGMA user_version = 1;
)sql",
                         &error))
        << error;
  }
  auto store = ConfigStore::Open(path);
  auto snapshot = store->LoadSnapshot();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ((*snapshot)->version(), 2u);
  ASSERT_EQ((*snapshot)->routes_size(), 1);
  EXPECT_EQ((*snapshot)->routes(0).target(), "order-svc");
  EXPECT_EQ((*snapshot)->routes(0).version(), 2u);
  EXPECT_EQ((*snapshot)->routes(0).max_body_size(), 0u);  // the gateway's own limit
  {
    auto db = Database::Open(path, Database::Lock::kShared);
    Statement user_version(*db, "PRAGMA user_version");
    ASSERT_EQ(user_version.Step(), SQLITE_ROW);
    EXPECT_EQ(user_version.ColumnInt(0), kConfigSchemaVersion);
  }
  // The migrated route takes a limit like any other.
  auto updated = store->UpdateRoute(WithBodyLimit(MakeRoute("/api", "", MATCH_UNSPECIFIED), 1024),
                                    Mask({"max_body_size"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.max_body_size(), 1024u);
  EXPECT_EQ(updated->snapshot->version(), 3u);
}

TEST_P(ConfigStoreTest, ReopenKeepsSnapshotAndVersion) {
  ASSERT_TRUE(store_->CreateService(MakeService("order-svc", {{"127.0.0.1", 9101}})).ok());
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api", "order-svc")).ok());
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api/auth", "auth-svc", MATCH_EXACT)).ok());
  ASSERT_TRUE(store_->DeleteRoute(Key("/api/auth")).ok());
  auto before = store_->LoadSnapshot();
  ASSERT_TRUE(before.ok());
  Reopen();
  auto after = store_->LoadSnapshot();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->version(), 4u);
  EXPECT_TRUE(MessageDifferencer::Equals(**before, **after))
      << (*before)->DebugString() << " vs " << (*after)->DebugString();
  // And it keeps counting from there.
  auto next = store_->CreateRoute(MakeRoute("/b", "order-svc"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->snapshot->version(), 5u);
}

struct Refusal {
  std::string name;
  StoreCode code;
  std::string message_part;  // a piece the message must contain
  std::function<std::optional<StoreError>(ConfigStore&)> call;
};

template <typename T>
std::optional<StoreError> ErrorOf(const StoreResult<T>& result) {
  if (result.ok()) return std::nullopt;
  return result.error();
}

std::vector<Refusal> Refusals() {
  auto create_route = [](Route route) {
    return [route](ConfigStore& s) { return ErrorOf(s.CreateRoute(route)); };
  };
  auto create_service = [](Service service) {
    return [service](ConfigStore& s) { return ErrorOf(s.CreateService(service)); };
  };
  auto update_service = [](Service service) {
    return [service](ConfigStore& s) { return ErrorOf(s.UpdateService(service)); };
  };
  const auto kInvalid = StoreCode::kInvalidArgument;
  return {
      {"PathWithoutLeadingSlash", kInvalid, "must start with '/'",
       create_route(MakeRoute("api/x", "order-svc"))},
      {"EmptyPath", kInvalid, "empty", create_route(MakeRoute("", "order-svc"))},
      {"TrailingSlash", kInvalid, "must not end with '/'",
       create_route(MakeRoute("/api/x/", "order-svc"))},
      {"DoubleSlash", kInvalid, "normal form", create_route(MakeRoute("/api//x", "order-svc"))},
      {"DotSegment", kInvalid, "normal form", create_route(MakeRoute("/api/../x", "order-svc"))},
      {"QueryInPath", kInvalid, "query", create_route(MakeRoute("/api?x=1", "order-svc"))},
      {"NoMatchKindOnCreate", kInvalid, "match kind",
       create_route(MakeRoute("/new", "order-svc", MATCH_UNSPECIFIED))},
      {"BadTarget", kInvalid, "target", create_route(MakeRoute("/new", "bad target!"))},
      {"BadTargetPort", kInvalid, "outside 1-65535",
       create_route(MakeRoute("/new", "example.com:70000"))},
      {"DuplicateRoute", StoreCode::kAlreadyExists,
       "route /api (prefix) already exists -> order-svc",
       create_route(MakeRoute("/api", "payment-svc"))},
      {"DuplicateExactRoute", StoreCode::kAlreadyExists,
       "route /both (exact) already exists -> payment-svc",
       create_route(MakeRoute("/both", "order-svc", MATCH_EXACT))},
      {"UpdateUnknownRoute", StoreCode::kNotFound, "no route has path /nope",
       [](ConfigStore& s) {
         return ErrorOf(s.UpdateRoute(MakeRoute("/nope", "order-svc", MATCH_UNSPECIFIED)));
       }},
      {"UpdateUnknownMatch", StoreCode::kNotFound, "route /api (exact) does not exist",
       [](ConfigStore& s) {
         return ErrorOf(s.UpdateRoute(MakeRoute("/api", "order-svc", MATCH_EXACT)));
       }},
      {"UpdateRouteBadTarget", kInvalid, "target",
       [](ConfigStore& s) { return ErrorOf(s.UpdateRoute(MakeRoute("/api", "", MATCH_PREFIX))); }},
      {"UpdateRouteBadPath", kInvalid, "must start with '/'",
       [](ConfigStore& s) { return ErrorOf(s.UpdateRoute(MakeRoute("api", "order-svc"))); }},
      {"BodyLimitOverOneTebibyte", kInvalid,
       "route '/new': max body size 1099511627777 bytes is larger than a route may allow, 1024g",
       create_route(WithBodyLimit(MakeRoute("/new", "order-svc"), (uint64_t{1} << 40) + 1))},
      {"BodyLimitHuge", kInvalid, "larger than a route may allow",
       create_route(WithBodyLimit(MakeRoute("/new", "order-svc"), UINT64_MAX))},
      {"UpdateBodyLimitOverOneTebibyte", kInvalid,
       "route '/api': max body size 2199023255552 bytes (2048g) is larger than a route may allow",
       [](ConfigStore& s) {
         return ErrorOf(s.UpdateRoute(
             WithBodyLimit(MakeRoute("/api", "", MATCH_UNSPECIFIED), uint64_t{2048} << 30),
             Mask({"max_body_size"})));
       }},
      {"UpdateUnknownField", kInvalid,
       "route field 'path' cannot be updated (updatable: target, split, aggregate, "
       "aggregate_timeout_ms, aggregate_partial, max_body_size,",
       [](ConfigStore& s) {
         return ErrorOf(
             s.UpdateRoute(MakeRoute("/api", "payment-svc", MATCH_UNSPECIFIED), Mask({"path"})));
       }},
      {"UpdateNamesNothing", kInvalid, "nothing to update on route /api",
       [](ConfigStore& s) {
         return ErrorOf(s.UpdateRoute(MakeRoute("/api", "", MATCH_UNSPECIFIED)));
       }},
      {"UpdateMaskedEmptyTarget", kInvalid, "route target is empty",
       [](ConfigStore& s) {
         return ErrorOf(s.UpdateRoute(WithBodyLimit(MakeRoute("/api", "", MATCH_UNSPECIFIED), 9),
                                      Mask({"target", "max_body_size"})));
       }},
      {"UpdateBodyLimitUnknownRoute", StoreCode::kNotFound, "no route has path /nope",
       [](ConfigStore& s) {
         return ErrorOf(s.UpdateRoute(WithBodyLimit(MakeRoute("/nope", "", MATCH_UNSPECIFIED), 9),
                                      Mask({"max_body_size"})));
       }},
      {"UpdateAmbiguousRoute", StoreCode::kFailedPrecondition, "--exact",
       [](ConfigStore& s) {
         return ErrorOf(s.UpdateRoute(MakeRoute("/both", "order-svc", MATCH_UNSPECIFIED)));
       }},
      {"DeleteUnknownRoute", StoreCode::kNotFound, "no route has path /nope",
       [](ConfigStore& s) { return ErrorOf(s.DeleteRoute(Key("/nope"))); }},
      {"DeleteAmbiguousRoute", StoreCode::kFailedPrecondition, "both a prefix and an exact",
       [](ConfigStore& s) { return ErrorOf(s.DeleteRoute(Key("/both"))); }},
      {"DeleteRouteBadPath", kInvalid, "must start with '/'",
       [](ConfigStore& s) { return ErrorOf(s.DeleteRoute(Key("nope"))); }},
      {"DeleteRouteBadMatch", kInvalid, "match kind",
       [](ConfigStore& s) { return ErrorOf(s.DeleteRoute(Key("/api", MatchKind(7)))); }},
      {"DuplicateService", StoreCode::kAlreadyExists, "service order-svc already exists",
       create_service(MakeService("order-svc", {{"127.0.0.1", 9200}}))},
      {"EndpointPortZero", kInvalid, "port 0 is outside 1-65535",
       create_service(MakeService("new-svc", {{"127.0.0.1", 0}}))},
      {"EndpointPort65536", kInvalid, "port 65536 is outside 1-65535",
       create_service(MakeService("new-svc", {{"127.0.0.1", 65536}}))},
      {"EndpointHostNotAHost", kInvalid, "neither a DNS name nor an IP address",
       create_service(MakeService("new-svc", {{"abc:def", 80}}))},
      {"EndpointHostEmpty", kInvalid, "host is empty",
       create_service(MakeService("new-svc", {{"", 80}}))},
      {"NoEndpoints", kInvalid, "at least one endpoint",
       create_service(MakeService("new-svc", {}))},
      {"DuplicateEndpoint", kInvalid, "twice",
       create_service(MakeService("new-svc", {{"127.0.0.1", 80}, {"127.0.0.1", 80}}))},
      {"ServiceNameUpperCase", kInvalid, "DNS label",
       create_service(MakeService("Order-Svc", {{"127.0.0.1", 80}}))},
      {"ServiceNameUnderscore", kInvalid, "DNS label",
       create_service(MakeService("order_svc", {{"127.0.0.1", 80}}))},
      {"ServiceNameLeadingDash", kInvalid, "DNS label",
       create_service(MakeService("-svc", {{"127.0.0.1", 80}}))},
      {"ServiceNameTooLong", kInvalid, "DNS label",
       create_service(MakeService(std::string(64, 'a'), {{"127.0.0.1", 80}}))},
      {"ServiceNameEmpty", kInvalid, "empty", create_service(MakeService("", {{"127.0.0.1", 80}}))},
      {"UpdateUnknownService", StoreCode::kNotFound, "service nope-svc does not exist",
       update_service(MakeService("nope-svc", {{"127.0.0.1", 80}}))},
      {"UpdateServiceBadPort", kInvalid, "outside 1-65535",
       update_service(MakeService("order-svc", {{"127.0.0.1", 0}}))},
      {"DeleteUnknownService", StoreCode::kNotFound, "service nope-svc does not exist",
       [](ConfigStore& s) { return ErrorOf(s.DeleteService("nope-svc")); }},
      {"DeleteServiceInUse", StoreCode::kFailedPrecondition,
       "service order-svc is used by 2 routes: /api, /both; move or delete them first",
       [](ConfigStore& s) { return ErrorOf(s.DeleteService("order-svc")); }},
      {"DeleteServiceInUseByOne", StoreCode::kFailedPrecondition,
       "service payment-svc is used by route /both (exact); move or delete it first",
       [](ConfigStore& s) { return ErrorOf(s.DeleteService("payment-svc")); }},
      {"GetAmbiguousRoute", StoreCode::kFailedPrecondition, "--prefix",
       [](ConfigStore& s) { return ErrorOf(s.GetRoute(Key("/both"))); }},
      {"GetUnknownService", StoreCode::kNotFound, "does not exist",
       [](ConfigStore& s) { return ErrorOf(s.GetService("nope-svc")); }},
  };
}

// Named by its case, so test listings do not dump the struct's bytes.
void PrintTo(const Refusal& refusal, std::ostream* os) { *os << refusal.name; }

class RefusalTest : public ::testing::TestWithParam<std::tuple<testing::Backend, Refusal>> {};

TEST_P(RefusalTest, IsRefusedAndChangesNothing) {
  testing::StoreLocation location(std::get<0>(GetParam()));
  if (location.skip()) GTEST_SKIP() << location.unavailable();
  ASSERT_EQ(location.unavailable(), "");
  auto store = ConfigStore::Open(location.db());
  ASSERT_TRUE(store->CreateService(MakeService("order-svc", {{"127.0.0.1", 9101}})).ok());
  ASSERT_TRUE(store->CreateService(MakeService("payment-svc", {{"127.0.0.1", 9102}})).ok());
  ASSERT_TRUE(store->CreateRoute(MakeRoute("/api", "order-svc")).ok());
  ASSERT_TRUE(store->CreateRoute(MakeRoute("/both", "order-svc", MATCH_PREFIX)).ok());
  ASSERT_TRUE(store->CreateRoute(MakeRoute("/both", "payment-svc", MATCH_EXACT)).ok());
  const std::string before = location.Dump();
  auto snapshot_before = store->LoadSnapshot();
  ASSERT_TRUE(snapshot_before.ok());

  const Refusal& refusal = std::get<1>(GetParam());
  auto error = refusal.call(*store);
  ASSERT_TRUE(error.has_value()) << "accepted";
  EXPECT_EQ(static_cast<int>(error->code), static_cast<int>(refusal.code)) << error->message;
  EXPECT_NE(error->message.find(refusal.message_part), std::string::npos)
      << "message: " << error->message;

  EXPECT_EQ(location.Dump(), before);
  auto snapshot_after = store->LoadSnapshot();
  ASSERT_TRUE(snapshot_after.ok());
  EXPECT_EQ((*snapshot_after)->version(), 5u);
  EXPECT_TRUE(MessageDifferencer::Equals(**snapshot_before, **snapshot_after));
  // The store still works after a refusal.
  auto next = store->CreateRoute(MakeRoute("/after", "order-svc"));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->snapshot->version(), 6u);
}

INSTANTIATE_TEST_SUITE_P(BadInput, RefusalTest,
                         ::testing::Combine(::testing::Values(testing::Backend::kSqlite,
                                                              testing::Backend::kPostgres),
                                            ::testing::ValuesIn(Refusals())),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == testing::Backend::kSqlite
                                                  ? "Sqlite_"
                                                  : "Postgres_") +
                                  std::get<1>(info.param).name;
                         });

}  // namespace
}  // namespace gw
