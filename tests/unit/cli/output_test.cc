#include "cli/output.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/duration.h"

namespace gw::cli {
namespace {

using gateway::v1::GatewayStatus;
using gateway::v1::MATCH_EXACT;
using gateway::v1::MATCH_PREFIX;
using gateway::v1::Route;
using gateway::v1::Service;

Route MakeRoute(std::string path, gateway::v1::MatchKind match, std::string target,
                uint64_t version) {
  Route route;
  route.set_path(std::move(path));
  route.set_match(match);
  route.set_target(std::move(target));
  route.set_version(version);
  return route;
}

Service MakeService(std::string name, std::vector<std::pair<std::string, uint32_t>> endpoints,
                    uint64_t version) {
  Service service;
  service.set_name(std::move(name));
  for (auto& [host, port] : endpoints) {
    auto* endpoint = service.add_endpoints();
    endpoint->set_host(host);
    endpoint->set_port(port);
  }
  service.set_version(version);
  return service;
}

ProtoList<Route> SomeRoutes() {
  ProtoList<Route> routes;
  *routes.Add() = MakeRoute("/api", MATCH_PREFIX, "order-svc", 3);
  *routes.Add() = MakeRoute("/api/payment", MATCH_PREFIX, "payment-svc", 7);
  routes.Mutable(1)->set_max_body_size(10 << 20);
  *routes.Add() = MakeRoute("/health", MATCH_EXACT, "10.0.0.5:8080", 12);
  routes.Mutable(2)->set_max_body_size(1536);
  return routes;
}

ProtoList<GatewayStatus> SomeGateways() {
  ProtoList<GatewayStatus> gateways;
  GatewayStatus* a = gateways.Add();
  a->set_node_id("gw-a");
  a->set_address("127.0.0.1:8080");
  a->set_peer("ipv4:127.0.0.1:40000");
  a->set_build_version("0.1.0");
  a->set_acked_version(7);
  a->set_connected(true);
  a->set_last_seen_unix_ms(1700000000123);
  GatewayStatus* b = gateways.Add();
  b->set_node_id("gw-b");
  b->set_acked_version(6);
  b->set_connected(false);
  b->set_error("route \"/x\": target is empty\nsecond line");
  b->set_nacked_version(7);
  return gateways;
}

TEST(AlignColumns, PadsEveryColumnButTheLast) {
  EXPECT_EQ(AlignColumns({{"A", "BB", "C"}, {"long", "x", ""}, {"y", "", "last"}}),
            "A     BB  C\n"
            "long  x\n"
            "y         last\n");
  EXPECT_EQ(AlignColumns({{"a\nb", "c"}}), "a b  c\n");
}

TEST(OneLine, FlattensAndTrims) {
  EXPECT_EQ(OneLine("  one\ntwo\r\tthree \n"), "one two  three");
  EXPECT_EQ(OneLine(" \n "), "");
}

TEST(RenderRoutes, Table) {
  EXPECT_EQ(RenderRoutes(SomeRoutes(), OutputFormat::kTable),
            "PATH          MATCH   CONDITIONS  TARGET         MAX BODY  POLICIES  VERSION\n"
            "/api          prefix  -           order-svc      default   -         3\n"
            "/api/payment  prefix  -           payment-svc    10m       -         7\n"
            "/health       exact   -           10.0.0.5:8080  1536      -         12\n");
  EXPECT_EQ(RenderRoutes({}, OutputFormat::kTable),
            "PATH  MATCH  CONDITIONS  TARGET  MAX BODY  POLICIES  VERSION\n");
}

TEST(RenderRoutes, Json) {
  EXPECT_EQ(RenderRoutes(SomeRoutes(), OutputFormat::kJson),
            R"([{"path":"/api","match":"prefix","target":"order-svc","version":3},)"
            R"({"path":"/api/payment","match":"prefix","target":"payment-svc",)"
            R"("max_body_size":10485760,"version":7},)"
            R"({"path":"/health","match":"exact","target":"10.0.0.5:8080",)"
            R"("max_body_size":1536,"version":12}])"
            "\n");
  EXPECT_EQ(RenderRoutes({}, OutputFormat::kJson), "[]\n");
}

TEST(RenderRoute, OneRowOrOneObject) {
  const Route route = MakeRoute("/a\"b", MATCH_EXACT, "t\\u", 1);
  EXPECT_EQ(RenderRoute(route, OutputFormat::kJson),
            R"({"path":"/a\"b","match":"exact","target":"t\\u","version":1})"
            "\n");
  EXPECT_EQ(RenderRoute(route, OutputFormat::kTable),
            "PATH  MATCH  CONDITIONS  TARGET  MAX BODY  POLICIES  VERSION\n"
            "/a\"b  exact  -           t\\u     default   -         1\n");
}

TEST(RenderServices, TableAndJson) {
  ProtoList<Service> services;
  *services.Add() = MakeService("order-svc", {{"127.0.0.1", 9101}, {"::1", 9103}}, 1);
  *services.Add() = MakeService("payment-svc", {{"pay.internal", 80}}, 2);
  EXPECT_EQ(RenderServices(services, OutputFormat::kTable),
            "NAME         ENDPOINTS                  POLICIES  VERSION\n"
            "order-svc    127.0.0.1:9101,[::1]:9103  -         1\n"
            "payment-svc  pay.internal:80            -         2\n");
  EXPECT_EQ(RenderServices(services, OutputFormat::kJson),
            R"([{"name":"order-svc","endpoints":["127.0.0.1:9101","[::1]:9103"],"version":1},)"
            R"({"name":"payment-svc","endpoints":["pay.internal:80"],"version":2}])"
            "\n");
  EXPECT_EQ(RenderService(services[1], OutputFormat::kJson),
            R"({"name":"payment-svc","endpoints":["pay.internal:80"],"version":2})"
            "\n");
  EXPECT_EQ(RenderService(services[1], OutputFormat::kTable),
            "NAME         ENDPOINTS        POLICIES  VERSION\n"
            "payment-svc  pay.internal:80  -         2\n");
}

TEST(RenderGateways, TableShowsAckedVersionConnectedAndOneLineError) {
  EXPECT_EQ(RenderGateways(SomeGateways(), OutputFormat::kTable),
            "NODE  ADDRESS         VERSION  CONNECTED  ERROR\n"
            "gw-a  127.0.0.1:8080  7        yes        -\n"
            "gw-b  -               6        no         version 7: route \"/x\": target is empty "
            "second line\n");
  EXPECT_EQ(RenderGateways({}, OutputFormat::kTable), "NODE  ADDRESS  VERSION  CONNECTED  ERROR\n");
}

// Issue 9: since when a gateway is gone, and every problem in the one ERROR column.
TEST(RenderGateways, TableSaysSinceWhenGoneAndEveryProblem) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  ProtoList<GatewayStatus> gateways;
  GatewayStatus* gone = gateways.Add();
  gone->set_node_id("gw-gone");
  gone->set_address("10.0.0.1:8080");
  gone->set_acked_version(3);
  gone->set_disconnected_unix_ms(now - (5 * 60 + 12) * 1000);
  gone->set_stream_error("RESOURCE_EXHAUSTED: received message larger than max");
  GatewayStatus* held = gateways.Add();
  held->set_node_id("gw-1");
  held->set_address("10.0.0.2:8080");
  held->set_acked_version(4);
  held->set_connected(true);
  held->set_conflict("ipv4:10.0.0.3:4000 (address 10.0.0.3:8080)");
  held->set_conflict_unix_ms(1764961648000);  // 2025-12-05T19:07:28Z
  held->set_cache_error("cannot create a temp file beside /x/cache.pb: No such file or directory");
  const std::string table = RenderGateways(gateways, OutputFormat::kTable);
  EXPECT_NE(table.find("no, since "), std::string::npos) << table;
  EXPECT_NE(table.find("(5m12s)"), std::string::npos) << table;
  EXPECT_NE(table.find("stream: RESOURCE_EXHAUSTED: received message larger than max"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("node id also claimed by ipv4:10.0.0.3:4000 (address 10.0.0.3:8080) "
                       "(refused at 2025-12-05T19:07:28Z); cache: cannot create a temp file"),
            std::string::npos)
      << table;
}

// A 1,024-character path must not push every row off the screen; JSON stays whole.
TEST(AlignColumns, CutsLongCellsButTheLast) {
  const std::string long_path = "/" + std::string(1023, 'p');
  const std::string table =
      AlignColumns({{"PATH", "TARGET"}, {long_path, "a"}, {"/short", std::string(200, 't')}});
  EXPECT_EQ(table.find(long_path), std::string::npos);
  EXPECT_NE(table.find("/" + std::string(kMaxTableCellWidth - 4, 'p') + "..."), std::string::npos);
  EXPECT_NE(table.find(std::string(200, 't')), std::string::npos);  // the last column is whole
  for (size_t start = 0, end; start < table.size(); start = end + 1) {
    end = table.find('\n', start);
    EXPECT_LE(end - start, kMaxTableCellWidth + 2 + 200);
  }
}

TEST(RenderGateways, Json) {
  EXPECT_EQ(
      RenderGateways(SomeGateways(), OutputFormat::kJson),
      R"([{"node_id":"gw-a","address":"127.0.0.1:8080","replica":"","peer":"ipv4:127.0.0.1:40000",)"
      R"("build_version":"0.1.0","version":7,"connected":true,"error":"","nacked_version":0,)"
      R"("stream_error":"","cache_error":"","conflict":"","behind":"",)"
      R"("last_seen_unix_ms":1700000000123},)"
      R"({"node_id":"gw-b","address":"","replica":"","peer":"","build_version":"","version":6,)"
      R"("connected":false,"error":"route \"/x\": target is empty\nsecond line",)"
      R"("nacked_version":7,"stream_error":"","cache_error":"","conflict":"","behind":"",)"
      R"("last_seen_unix_ms":0,"disconnected_unix_ms":0}])"
      "\n");
}

TEST(RenderStatus, KeyValueLinesOrObject) {
  gateway::v1::StatusResponse status;
  status.set_config_version(6);
  status.set_services(3);
  status.set_routes(4);
  status.set_gateways_connected(1);
  status.set_gateways_total(2);
  status.set_config_bytes(1536);
  status.set_max_config_bytes(64 << 20);
  status.set_build_version("0.2.0");
  EXPECT_EQ(RenderStatus(status, "127.0.0.1:50051", OutputFormat::kTable),
            "server: 127.0.0.1:50051\n"
            "version: 6\n"
            "services: 3\n"
            "routes: 4\n"
            "config size: 1.5 KiB of 64 MiB\n"
            "gateways connected: 1\n"
            "gateways total: 2\n");
  EXPECT_EQ(RenderStatus(status, "127.0.0.1:50051", OutputFormat::kJson),
            R"({"version":6,"services":3,"routes":4,"gateways_connected":1,"gateways_total":2,)"
            R"("config_bytes":1536,"max_config_bytes":67108864,"build_version":"0.2.0","store":"",)"
            R"("store_error":"","replicas":[]})"
            "\n");
}

// Issue 10: the replicas of a cluster, this one marked, a dead one shown down since its last
// heartbeat.
TEST(RenderStatus, ListsTheReplicas) {
  gateway::v1::StatusResponse status;
  status.set_config_version(9);
  status.set_store("database postgresql://gateway@db:5432/gateway");
  auto* self = status.add_replicas();
  self->set_id("cp-a");
  self->set_address("10.0.0.1:7000");
  self->set_loaded_version(9);
  self->set_gateways_connected(2);
  self->set_heartbeat_unix_ms(NowUnixMs());
  self->set_alive(true);
  self->set_self(true);
  auto* dead = status.add_replicas();
  dead->set_id("cp-b");
  dead->set_address("10.0.0.2:7000");
  dead->set_loaded_version(8);
  dead->set_heartbeat_unix_ms(1700000000000);
  const std::string table = RenderStatus(status, "10.0.0.1:7000", OutputFormat::kTable);
  EXPECT_NE(table.find("store: database postgresql://gateway@db:5432/gateway\n"), std::string::npos)
      << table;
  EXPECT_NE(table.find("replicas:\nREPLICA"), std::string::npos) << table;
  EXPECT_NE(table.find("cp-a (this one)  10.0.0.1:7000  9        2         0s ago"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("cp-b             10.0.0.2:7000  8        0         DOWN since "
                       "2023-11-14T22:13:20Z"),
            std::string::npos)
      << table;
  const std::string json = RenderStatus(status, "10.0.0.1:7000", OutputFormat::kJson);
  EXPECT_NE(
      json.find(R"({"id":"cp-b","address":"10.0.0.2:7000","build_version":"",)"
                R"("loaded_version":8,"gateways_connected":0,"heartbeat_unix_ms":1700000000000,)"
                R"("alive":false,"self":false})"),
      std::string::npos)
      << json;
}

TEST(RenderWrites, OneSentenceOrTheObject) {
  const Route route = MakeRoute("/api/payment", MATCH_PREFIX, "payment-svc", 7);
  EXPECT_EQ(RenderRouteWrite(route, "created", 7, OutputFormat::kTable),
            "route /api/payment (prefix) -> payment-svc created at version 7\n");
  EXPECT_EQ(RenderRouteWrite(route, "updated", 7, OutputFormat::kJson),
            RenderRoute(route, OutputFormat::kJson));
  Route limited = route;
  limited.set_max_body_size(10 << 20);
  EXPECT_EQ(RenderRouteWrite(limited, "updated", 9, OutputFormat::kTable),
            "route /api/payment (prefix) -> payment-svc (max body 10m) updated at version 9\n");

  const Service service = MakeService("payment-svc", {{"127.0.0.1", 1}, {"127.0.0.1", 2}}, 8);
  EXPECT_EQ(RenderServiceWrite(service, "updated", 8, OutputFormat::kTable),
            "service payment-svc -> 127.0.0.1:1,127.0.0.1:2 updated at version 8\n");
  EXPECT_EQ(RenderServiceWrite(service, "created", 8, OutputFormat::kJson),
            RenderService(service, OutputFormat::kJson));
}

TEST(RenderDeleted, SentenceOrDeletedKeyAndVersion) {
  EXPECT_EQ(RenderDeleted("service payment-svc", "payment-svc", 9, OutputFormat::kTable),
            "service payment-svc deleted at version 9\n");
  EXPECT_EQ(RenderDeleted("route /api (exact)", "/api", 10, OutputFormat::kJson),
            R"({"deleted":"/api","version":10})"
            "\n");
}

}  // namespace
}  // namespace gw::cli
