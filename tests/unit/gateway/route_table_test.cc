#include "gateway/router/route_table.h"

#include <gtest/gtest.h>

#include <map>
#include <tuple>

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

// Narrower matches: the same path with host, method and header conditions.
Config ConditionsConfig() {
  Config config;
  config.set_version(9);
  for (const char* name :
       {"any", "exact-host", "wild-host", "deep-wild", "post", "canary", "short"}) {
    AddService(config, name, {9200});
  }
  AddRoute(config, "/api", "any");
  AddRoute(config, "/api", "exact-host");
  config.mutable_routes(1)->set_host("api.example.com");
  AddRoute(config, "/api", "wild-host");
  config.mutable_routes(2)->set_host("*.example.com");
  AddRoute(config, "/api", "deep-wild");
  config.mutable_routes(3)->set_host("*.eu.example.com");
  AddRoute(config, "/api", "post");
  config.mutable_routes(4)->add_methods("POST");
  AddRoute(config, "/api", "canary");
  auto* header = config.mutable_routes(5)->add_headers();
  header->set_name("x-canary");
  header->set_value("1");
  AddRoute(config, "/v1", "short");
  AddRoute(config, "/v1/orders", "short");
  config.mutable_routes(7)->set_host("orders.example.com");
  return config;
}

std::string TargetFor(const RouteTable& table, std::string_view path, std::string_view host,
                      std::string_view method, const HttpFields* fields = nullptr) {
  RequestTraits request;
  request.host = host;
  request.method = method;
  request.fields = fields;
  const RouteEntry* route = table.Match(path, request);
  return route ? route->target : "<none>";
}

TEST(RouteTable, TheMostSpecificRouteOnAPathWins) {
  auto table = Build(ConditionsConfig());
  ASSERT_TRUE(table);
  EXPECT_EQ(TargetFor(*table, "/api/x", "api.example.com", "GET"), "exact-host");
  EXPECT_EQ(TargetFor(*table, "/api/x", "API.Example.COM", "GET"), "exact-host");
  EXPECT_EQ(TargetFor(*table, "/api/x", "shop.example.com", "GET"), "wild-host");
  EXPECT_EQ(TargetFor(*table, "/api/x", "a.b.example.com", "GET"), "wild-host");
  EXPECT_EQ(TargetFor(*table, "/api/x", "x.eu.example.com", "GET"), "deep-wild");  // longer
  EXPECT_EQ(TargetFor(*table, "/api/x", "example.com", "GET"), "any");  // not a subdomain
  EXPECT_EQ(TargetFor(*table, "/api/x", "other.org", "POST"), "post");
  EXPECT_EQ(TargetFor(*table, "/api/x", "other.org", "GET"), "any");
  HttpFields canary;
  canary.insert("X-Canary", "1");
  EXPECT_EQ(TargetFor(*table, "/api/x", "other.org", "POST", &canary),
            "canary");  // header > method
  HttpFields other;
  other.insert("X-Canary", "2");
  EXPECT_EQ(TargetFor(*table, "/api/x", "other.org", "GET", &other), "any");
  // A host condition outranks a header condition.
  EXPECT_EQ(TargetFor(*table, "/api/x", "api.example.com", "GET", &canary), "exact-host");
  // Routes with conditions never match a request offering only its path.
  EXPECT_EQ(TargetOf(*table, "/api/x"), "any");
}

TEST(RouteTable, ALongerPathWhoseConditionsFailFallsBackToAShorterOne) {
  auto table = Build(ConditionsConfig());
  ASSERT_TRUE(table);
  EXPECT_EQ(TargetFor(*table, "/v1/orders/7", "orders.example.com", "GET"), "short");
  EXPECT_EQ(TargetFor(*table, "/v1/orders/7", "elsewhere.example.com", "GET"), "short");
  EXPECT_EQ(table->Match("/v1/orders/7", RequestTraits{"orders.example.com", "GET", nullptr})->host,
            "orders.example.com");
}

TEST(RouteTable, SplitsPickTargetsByWeight) {
  Config config;
  AddService(config, "payment-svc", {9301});
  AddService(config, "payment-v2-svc", {9302});
  auto* route = config.add_routes();
  route->set_path("/api/payment");
  route->set_match(gateway::v1::MATCH_PREFIX);
  auto* a = route->add_split();
  a->set_target("payment-svc");
  a->set_weight(90);
  auto* b = route->add_split();
  b->set_target("payment-v2-svc");
  b->set_weight(10);
  auto table = Build(config);
  ASSERT_TRUE(table);
  const RouteEntry* entry = table->Match("/api/payment");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->target, "payment-svc=90 payment-v2-svc=10");
  EXPECT_EQ(entry->split_total, 100u);
  std::map<std::string, int> picks;
  for (uint64_t draw = 0; draw < 1000; ++draw) ++picks[entry->PickUpstream(draw).name];
  EXPECT_EQ(picks["payment-svc"], 900);
  EXPECT_EQ(picks["payment-v2-svc"], 100);
}

std::string Rewritten(std::string_view route_path, bool strip, std::string_view rewrite,
                      std::string_view request_path) {
  RouteEntry route;
  route.path = route_path;
  route.strip_prefix = strip;
  route.rewrite_prefix = rewrite;
  std::string scratch;
  return std::string(route.RewritePath(request_path, scratch));
}

TEST(RouteEntry, RewritesThePathSentUpstream) {
  EXPECT_EQ(Rewritten("/api/payment", false, "", "/api/payment/7"), "/api/payment/7");
  EXPECT_EQ(Rewritten("/api/payment", true, "", "/api/payment/7"), "/7");
  EXPECT_EQ(Rewritten("/api/payment", true, "", "/api/payment"), "/");  // at least "/"
  EXPECT_EQ(Rewritten("/api/payment", true, "", "/api/payment/"), "/");
  EXPECT_EQ(Rewritten("/", true, "", "/x/y"), "/x/y");  // "/" has nothing to strip
  EXPECT_EQ(Rewritten("/api/payment", false, "/v2", "/api/payment/7"), "/v2/7");
  EXPECT_EQ(Rewritten("/api/payment", false, "/v2/", "/api/payment/7"), "/v2/7");
  EXPECT_EQ(Rewritten("/api/payment", false, "/v2", "/api/payment"), "/v2");
  EXPECT_EQ(Rewritten("/api/payment", false, "/", "/api/payment/7"), "/7");
  EXPECT_EQ(Rewritten("/api/payment", false, "/", "/api/payment"), "/");
  EXPECT_EQ(Rewritten("/", false, "/app", "/x"), "/app/x");
}

TEST(RouteTable, AggregateRoutesCarryTheirPartsInOrder) {
  Config config = StoryConfig();
  auto* route = config.add_routes();
  route->set_path("/api/home");
  route->set_match(gateway::v1::MATCH_PREFIX);
  route->set_strip_prefix(true);
  route->set_aggregate_timeout_ms(250);
  route->set_aggregate_partial(true);
  for (const auto& [key, target, prefix] :
       {std::tuple{"user", "auth-svc", "/users"}, {"cart", "10.0.0.5:8080", ""}}) {
    auto* part = route->add_aggregate();
    part->set_key(key);
    part->set_target(target);
    part->set_path_prefix(prefix);
  }
  const auto table = Build(config);
  ASSERT_TRUE(table);
  const RouteEntry* entry = table->Match("/api/home/7");
  ASSERT_TRUE(entry);
  EXPECT_TRUE(entry->is_aggregate());
  EXPECT_EQ(entry->target, "aggregate(user,cart)");
  EXPECT_EQ(entry->upstream, nullptr);
  EXPECT_EQ(entry->aggregate_timeout, std::chrono::milliseconds(250));
  EXPECT_TRUE(entry->aggregate_partial);
  ASSERT_EQ(entry->aggregate.size(), 2u);
  EXPECT_EQ(entry->aggregate[0].key, "user");
  EXPECT_TRUE(entry->aggregate[0].upstream->is_service);
  EXPECT_EQ(entry->aggregate[0].upstream->name, "auth-svc");
  EXPECT_FALSE(entry->aggregate[1].upstream->is_service);
  EXPECT_EQ(entry->aggregate[1].upstream->name, "10.0.0.5:8080");
  std::string scratch;
  // A part's prefix replaces the route's; without one, the route's own rewriting (strip).
  EXPECT_EQ(entry->RewritePartPath(entry->aggregate[0], "/api/home/7", scratch), "/users/7");
  EXPECT_EQ(entry->RewritePartPath(entry->aggregate[0], "/api/home", scratch), "/users");
  EXPECT_EQ(entry->RewritePartPath(entry->aggregate[1], "/api/home/7", scratch), "/7");
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

TEST(RouteTable, RateLimitScopePicksTheLimiterAndPushesKeepIt) {
  Config config = StoryConfig();
  auto* limit = config.mutable_routes(0)->mutable_rate_limit();
  limit->set_requests(100);
  limit->set_period_seconds(1);
  limit->set_key("ip");
  limit = config.mutable_routes(1)->mutable_rate_limit();
  limit->set_requests(100);
  limit->set_period_seconds(1);
  limit->set_key("ip");
  limit->set_scope(gateway::v1::RateLimit::SCOPE_CLUSTER);
  PolicyRegistries registries;
  std::string error;
  auto table = RouteTable::Build(config, 100, &error, &registries);
  ASSERT_TRUE(table) << error;
  const RouteEntry* per_gateway = table->Match("/api");
  const RouteEntry* cluster = table->Match("/api/auth");
  ASSERT_TRUE(per_gateway && cluster);
  EXPECT_TRUE(per_gateway->rate_limiter && !per_gateway->cluster_rate_limiter);
  EXPECT_TRUE(cluster->cluster_rate_limiter && !cluster->rate_limiter);
  EXPECT_TRUE(cluster->rate_limited());
  EXPECT_FALSE(table->Match("/api/payment")->rate_limited());
  // No --redis (no buckets given to the registries): counted locally, and it says so.
  EXPECT_EQ(cluster->TakeRateLimit("10.0.0.1", std::chrono::steady_clock::now()).source,
            RateLimitSource::kRedisNotEnabled);

  // A push that leaves the route alone keeps its limiter; one that changes the scope does not.
  config.set_version(6);
  auto next = RouteTable::Build(config, 100, &error, &registries);
  ASSERT_TRUE(next) << error;
  EXPECT_EQ(next->Match("/api/auth")->cluster_rate_limiter, cluster->cluster_rate_limiter);
  config.mutable_routes(1)->mutable_rate_limit()->set_scope(gateway::v1::RateLimit::SCOPE_GATEWAY);
  auto local = RouteTable::Build(config, 100, &error, &registries);
  ASSERT_TRUE(local) << error;
  EXPECT_TRUE(local->Match("/api/auth")->rate_limiter);
  EXPECT_FALSE(local->Match("/api/auth")->cluster_rate_limiter);
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
