#include "gateway/router/route_table.h"

#include <gtest/gtest.h>

#include "gateway/router/route_table_holder.h"

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::MatchKind;

void AddService(Config& config, const std::string& name, std::initializer_list<uint32_t> ports) {
  auto* service = config.add_services();
  service->set_name(name);
  for (uint32_t port : ports) {
    auto* endpoint = service->add_endpoints();
    endpoint->set_host("127.0.0.1");
    endpoint->set_port(port);
  }
}

void AddRoute(Config& config, const std::string& path, const std::string& target,
              MatchKind match = gateway::v1::MATCH_PREFIX) {
  auto* route = config.add_routes();
  route->set_path(path);
  route->set_target(target);
  route->set_match(match);
}

// The split from the user story: order under /api, except auth and payment.
Config StoryConfig() {
  Config config;
  config.set_version(5);
  AddService(config, "order-svc", {9101});
  AddService(config, "payment-svc", {9102, 9103});
  AddService(config, "auth-svc", {9104});
  AddRoute(config, "/api", "order-svc");
  AddRoute(config, "/api/auth", "auth-svc");
  AddRoute(config, "/api/payment", "payment-svc");
  return config;
}

std::shared_ptr<const RouteTable> Build(const Config& config, size_t max_routes = 100) {
  std::string error;
  auto table = RouteTable::Build(config, max_routes, &error);
  EXPECT_TRUE(table) << error;
  return table;
}

std::string TargetOf(const RouteTable& table, std::string_view path) {
  const RouteEntry* route = table.Match(path);
  return route ? route->target : "<none>";
}

TEST(RouteTable, LongestPrefixWins) {
  auto table = Build(StoryConfig());
  EXPECT_EQ(table->version(), 5u);
  EXPECT_EQ(TargetOf(*table, "/api"), "order-svc");
  EXPECT_EQ(TargetOf(*table, "/api/"), "order-svc");
  EXPECT_EQ(TargetOf(*table, "/api/order/7"), "order-svc");
  EXPECT_EQ(TargetOf(*table, "/api/payment"), "payment-svc");
  EXPECT_EQ(TargetOf(*table, "/api/payment/"), "payment-svc");
  EXPECT_EQ(TargetOf(*table, "/api/payment/42/refund"), "payment-svc");
  EXPECT_EQ(TargetOf(*table, "/api/auth/login"), "auth-svc");
}

TEST(RouteTable, PrefixesMatchOnSegmentBoundariesOnly) {
  auto table = Build(StoryConfig());
  EXPECT_EQ(TargetOf(*table, "/api/payments"), "order-svc");
  EXPECT_EQ(TargetOf(*table, "/apix"), "<none>");
  EXPECT_EQ(TargetOf(*table, "/"), "<none>");
  EXPECT_EQ(TargetOf(*table, "/other"), "<none>");
  EXPECT_EQ(TargetOf(*table, "api"), "<none>");  // not a normalized path: no match, no loop
  EXPECT_EQ(TargetOf(*table, ""), "<none>");
}

TEST(RouteTable, RootPrefixCoversEverything) {
  Config config = StoryConfig();
  AddRoute(config, "/", "order-svc");
  auto table = Build(config);
  EXPECT_EQ(TargetOf(*table, "/"), "order-svc");
  EXPECT_EQ(TargetOf(*table, "/other/thing"), "order-svc");
  EXPECT_EQ(TargetOf(*table, "/api/payment/1"), "payment-svc");
}

TEST(RouteTable, ExactMatchesOnePathAndBeatsPrefix) {
  Config config = StoryConfig();
  AddRoute(config, "/api/payment/health", "order-svc", gateway::v1::MATCH_EXACT);
  AddRoute(config, "/api/payment", "auth-svc", gateway::v1::MATCH_EXACT);
  auto table = Build(config);
  EXPECT_EQ(TargetOf(*table, "/api/payment/health"), "order-svc");
  EXPECT_EQ(TargetOf(*table, "/api/payment/health/x"), "payment-svc");
  EXPECT_EQ(TargetOf(*table, "/api/payment"), "auth-svc");
  EXPECT_EQ(TargetOf(*table, "/api/payment/"), "payment-svc");
}

TEST(RouteTable, ServiceTargetsCarryEndpoints) {
  auto table = Build(StoryConfig());
  const RouteEntry* route = table->Match("/api/payment");
  ASSERT_TRUE(route);
  ASSERT_TRUE(route->upstream);
  EXPECT_TRUE(route->upstream->is_service);
  EXPECT_EQ(route->upstream->name, "payment-svc");
  ASSERT_EQ(route->upstream->endpoints.size(), 2u);
  EXPECT_EQ(route->upstream->endpoints[1].port, 9103);
}

TEST(RouteTable, UnknownServiceNameIsADnsTarget) {
  Config config;
  AddRoute(config, "/k8s", "payment-svc");
  AddRoute(config, "/pinned", "backend.internal:8443");
  auto table = Build(config);
  const RouteEntry* route = table->Match("/k8s/x");
  ASSERT_TRUE(route);
  EXPECT_FALSE(route->upstream->is_service);
  EXPECT_EQ(route->upstream->name, "payment-svc:80");
  ASSERT_EQ(route->upstream->endpoints.size(), 1u);
  EXPECT_EQ(route->upstream->endpoints[0].host, "payment-svc");
  EXPECT_EQ(route->upstream->endpoints[0].port, 80);
  route = table->Match("/pinned");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->upstream->endpoints[0].port, 8443);
}

TEST(RouteTable, RoutesCarryTheirBodyLimit) {
  Config config = StoryConfig();
  config.mutable_routes(2)->set_max_body_size(10 << 20);  // /api/payment
  auto table = Build(config);
  const RouteEntry* payment = table->Match("/api/payment/charge");
  ASSERT_TRUE(payment);
  EXPECT_EQ(payment->max_body_size, 10u << 20);
  EXPECT_EQ(payment->BodyLimit(0), 10u << 20);     // no gateway limit: the route's
  EXPECT_EQ(payment->BodyLimit(1024), 10u << 20);  // larger than the gateway's: still the route's
  const RouteEntry* order = table->Match("/api/order");
  ASSERT_TRUE(order);
  EXPECT_EQ(order->max_body_size, 0u);
  EXPECT_EQ(order->BodyLimit(1024), 1024u);  // none of its own: the gateway's
  EXPECT_EQ(order->BodyLimit(0), 0u);        // neither: no limit

  config.mutable_routes(2)->set_max_body_size(kMaxBodySizeLimit + 1);
  std::string error;
  EXPECT_FALSE(RouteTable::Build(config, 100, &error));
  EXPECT_NE(error.find("larger than a route may allow"), std::string::npos) << error;
}

TEST(RouteTable, RefusesInvalidConfigs) {
  Config config = StoryConfig();
  AddRoute(config, "/api", "auth-svc");  // same path and match twice
  std::string error;
  EXPECT_FALSE(RouteTable::Build(config, 100, &error));
  EXPECT_NE(error.find("defined twice"), std::string::npos) << error;

  config = StoryConfig();
  config.mutable_routes(0)->set_path("api");
  error.clear();
  EXPECT_FALSE(RouteTable::Build(config, 100, &error));
  EXPECT_FALSE(error.empty());
}

TEST(RouteTable, RefusesMoreRoutesThanTheLimit) {
  std::string error;
  EXPECT_FALSE(RouteTable::Build(StoryConfig(), 2, &error));
  EXPECT_NE(error.find("--max-routes"), std::string::npos) << error;
  EXPECT_TRUE(RouteTable::Build(StoryConfig(), 3, &error));
}

TEST(RouteTableHolder, RequestsKeepTheTableTheyStartedWith) {
  RouteTableHolder holder;
  EXPECT_EQ(holder.Load(), nullptr);
  holder.Store(Build(StoryConfig()));
  auto in_flight = holder.Load();
  Config next = StoryConfig();
  next.set_version(6);
  next.mutable_routes(2)->set_target("order-svc");
  holder.Store(Build(next));
  EXPECT_EQ(in_flight->version(), 5u);
  EXPECT_EQ(TargetOf(*in_flight, "/api/payment"), "payment-svc");
  EXPECT_EQ(holder.Load()->version(), 6u);
  EXPECT_EQ(TargetOf(*holder.Load(), "/api/payment"), "order-svc");
}

}  // namespace
}  // namespace gw
