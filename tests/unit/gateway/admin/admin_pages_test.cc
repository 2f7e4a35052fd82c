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
  route->set_max_body_size(4096);
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
            R"({"path":"/health","match":"exact","target":"status.internal:8080",)"
            R"("max_body_size":4096}]})");
}

TEST(AdminPages, ConfigBeforeAnyConfig) {
  const auto page = ServeAdminPage("GET", "/config", {});
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.body,
            R"({"version":0,"source":"none","control_plane_connected":false,"routes":[]})");
}

TEST(AdminPages, UnknownPathsAndMethods) {
  EXPECT_EQ(ServeAdminPage("GET", "/nothing", {}).status, 404u);
  EXPECT_EQ(ServeAdminPage("POST", "/metrics", {}).status, 405u);
  EXPECT_EQ(ServeAdminPage("POST", "/ready", {}).status, 405u);
  EXPECT_EQ(ServeAdminPage("HEAD", "/healthz", {}).status, 200u);
}

TEST(AdminPages, MetricsInPrometheusTextFormat) {
  MetricsRegistry registry;
  WorkerMetrics& worker = registry.AddWorker();
  worker.ForRoute("/api", gateway::v1::MATCH_PREFIX).Record(200);
  worker.client_connections.Increment();

  GatewayState state;
  state.config_nacks = 1;
  state.ready = true;
  state.version = 12;
  state.control_plane_connected = true;
  state.metrics = &registry;
  state.access_log_dropped_lines = 7;
  const auto page = ServeAdminPage("GET", "/metrics", state);
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.content_type, "text/plain; version=0.0.4; charset=utf-8");
  for (const char* line : {
           "gateway_requests_total{route=\"/api\",match=\"prefix\",code=\"2xx\"} 1\n",
           "\ngateway_active_client_connections 1\n",
           "\ngateway_config_version 12\n",
           "\ngateway_ready 1\n",
           "\ngateway_control_plane_connected 1\n",
           "\ngateway_config_nacks_total 1\n",
           "\ngateway_access_log_dropped_lines_total 7\n",
       }) {
    EXPECT_NE(page.body.find(line), std::string::npos) << line << " in\n" << page.body;
  }
}

TEST(AdminPages, MetricsWithoutARegistryShowTheGatewayState) {
  GatewayState state;
  state.version = 4;
  const auto page = ServeAdminPage("GET", "/metrics", state);
  EXPECT_EQ(page.status, 200u);
  EXPECT_NE(page.body.find("\ngateway_config_version 4\n"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("\ngateway_active_client_connections 0\n"), std::string::npos);
  EXPECT_EQ(page.body.find("gateway_requests_total{"), std::string::npos);
}

}  // namespace
}  // namespace gw
