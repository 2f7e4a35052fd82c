#include "gateway/admin/admin_pages.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

std::shared_ptr<const RouteTable> SampleTable() {
  gateway::v1::Config config;
  config.set_version(12);
  auto* service = config.add_services();
  service->set_name("order-svc");
  auto* endpoint = service->add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(9101);
  auto* route = config.add_routes();
  route->set_path("/api");
  route->set_match(gateway::v1::MATCH_PREFIX);
  route->set_target("order-svc");
  route = config.add_routes();
  route->set_path("/health");
  route->set_match(gateway::v1::MATCH_EXACT);
  route->set_target("status.internal:8080");
  std::string error;
  auto table = RouteTable::Build(config, 100, &error);
  EXPECT_TRUE(table) << error;
  return table;
}

TEST(AdminPages, HealthzSaysAlive) {
  const auto page = ServeAdminPage("GET", "/healthz", {});
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.body, R"({"status":"alive"})");
  EXPECT_EQ(page.content_type, "application/json");
}

TEST(AdminPages, ReadyOnlyOnceAConfigIsLoaded) {
  GatewayState state;
  auto page = ServeAdminPage("GET", "/ready", state);
  EXPECT_EQ(page.status, 503u);
  EXPECT_EQ(page.body, R"({"ready":false})");

  state.ready = true;
  state.version = 12;
  page = ServeAdminPage("GET", "/ready", state);
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.body, R"({"ready":true,"version":12})");
}

TEST(AdminPages, ConfigListsTheLiveRoutes) {
  const auto table = SampleTable();
  GatewayState state;
  state.ready = true;
  state.version = 12;
  state.source = "cache";
  state.control_plane_connected = false;
  state.table = table.get();
  const auto page = ServeAdminPage("GET", "/config", state);
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.body,
            R"({"version":12,"source":"cache","control_plane_connected":false,"routes":[)"
            R"({"path":"/api","match":"prefix","target":"order-svc"},)"
            R"({"path":"/health","match":"exact","target":"status.internal:8080"}]})");
}

TEST(AdminPages, ConfigBeforeAnyConfig) {
  const auto page = ServeAdminPage("GET", "/config", {});
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.body,
            R"({"version":0,"source":"none","control_plane_connected":false,"routes":[]})");
}

TEST(AdminPages, UnknownPathsAndMethods) {
  EXPECT_EQ(ServeAdminPage("GET", "/metrics", {}).status, 404u);
  EXPECT_EQ(ServeAdminPage("POST", "/ready", {}).status, 405u);
  EXPECT_EQ(ServeAdminPage("HEAD", "/healthz", {}).status, 200u);
}

}  // namespace
}  // namespace gw
