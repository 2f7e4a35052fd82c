// ConfigStore and issue 4's policies: route identity (path, match, host, methods, headers),
// splits, update masks with sub-fields, service policies, consumers (api keys stored as
// SHA-256 only), refusals that change nothing, and the v2 -> v3 migration.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "common/api_key.h"
#include "controlplane/config_json.h"
#include "controlplane/store/config_store.h"
#include "controlplane/store/sqlite.h"
#include "tests/unit/controlplane/store_backends.h"
#include "tests/unit/controlplane/store_test_support.h"
#include "tests/unit/support/temp_dir.h"

namespace gw {
namespace {

using gateway::v1::Consumer;
using gateway::v1::MATCH_EXACT;
using gateway::v1::MATCH_UNSPECIFIED;
using gateway::v1::Route;
using gateway::v1::RouteKey;
using gateway::v1::Service;
using google::protobuf::util::MessageDifferencer;
using testing::MakeRoute;
using testing::MakeService;
using testing::WithSplit;

constexpr std::string_view kKey1 = "key-one-0123456789abcdef";
constexpr std::string_view kKey2 = "key-two-0123456789abcdef";
constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef";

google::protobuf::FieldMask Mask(std::vector<std::string> fields) {
  google::protobuf::FieldMask mask;
  for (auto& field : fields) mask.add_paths(std::move(field));
  return mask;
}

RouteKey Key(const std::string& path, const std::string& host = "",
             std::vector<std::string> methods = {}) {
  RouteKey key;
  key.set_path(path);
  key.set_host(host);
  for (auto& method : methods) key.add_methods(method);
  return key;
}

class PolicyStoreTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(store_->CreateService(MakeService("pay", 9001)).ok());
    ASSERT_TRUE(store_->CreateService(MakeService("pay-v2", 9002)).ok());
  }

  // Runs a write that must be refused with `code` and a message holding `part`, and checks
  // the database did not change at all.
  template <typename Write>
  void ExpectRefused(Write write, StoreCode code, const std::string& part) {
    const std::string before = location_->Dump();
    auto result = write();
    ASSERT_FALSE(result.ok()) << "accepted; expected: " << part;
    EXPECT_EQ(result.error().code, code) << result.error().message;
    EXPECT_NE(result.error().message.find(part), std::string::npos) << result.error().message;
    EXPECT_EQ(result.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(location_->Dump(), before);
  }
};
GW_STORE_BACKENDS(PolicyStoreTest);

TEST_P(PolicyStoreTest, RouteIdentityIncludesConditionsInCanonicalForm) {
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api", "pay")).ok());
  Route narrow = MakeRoute("/api", "pay-v2");
  narrow.set_host("API.Example.com");
  narrow.add_methods("post");
  narrow.add_methods("GET");
  narrow.add_methods("get");
  auto* header = narrow.add_headers();
  header->set_name("X-Version");
  header->set_value("2");
  auto created = store_->CreateRoute(narrow);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->route.host(), "api.example.com");
  ASSERT_EQ(created->route.methods_size(), 2);
  EXPECT_EQ(created->route.methods(0), "GET");
  EXPECT_EQ(created->route.methods(1), "POST");
  EXPECT_EQ(created->route.headers(0).name(), "x-version");
  ASSERT_EQ(created->snapshot->routes_size(), 2);
  EXPECT_EQ(created->snapshot->routes(0).host(), "");  // sorted: no conditions first
  EXPECT_EQ(created->snapshot->routes(1).target(), "pay-v2");

  // The same identity spelled differently is the same route.
  Route again = narrow;
  again.clear_methods();
  again.add_methods("POST");
  again.add_methods("GET");
  ExpectRefused([&] { return store_->CreateRoute(again); }, StoreCode::kAlreadyExists,
                "already exists");
}

TEST_P(PolicyStoreTest, RouteKeysPickExactConditionsThenTheOnlyCandidate) {
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api", "pay")).ok());
  Route a = MakeRoute("/api", "pay-v2");
  a.set_host("a.example");
  ASSERT_TRUE(store_->CreateRoute(a).ok());
  Route b = MakeRoute("/api", "pay-v2");
  b.set_host("b.example");
  b.add_methods("GET");
  ASSERT_TRUE(store_->CreateRoute(b).ok());

  auto plain = store_->GetRoute(Key("/api"));  // exactly no conditions
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->route.host(), "");
  auto by_host = store_->GetRoute(Key("/api", "B.example"));  // the only one with that host
  ASSERT_TRUE(by_host.ok()) << by_host.error().message;
  EXPECT_EQ(by_host->route.methods_size(), 1);
  auto by_method = store_->GetRoute(Key("/api", "", {"get"}));
  ASSERT_TRUE(by_method.ok()) << by_method.error().message;
  EXPECT_EQ(by_method->route.host(), "b.example");
  auto missing = store_->GetRoute(Key("/api", "c.example"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, StoreCode::kNotFound);

  ASSERT_TRUE(store_->DeleteRoute(Key("/api")).ok());
  Route c = MakeRoute("/api", "pay");
  c.set_host("c.example");
  ASSERT_TRUE(store_->CreateRoute(c).ok());
  // Now no route has exactly no conditions, and three have "none or more": ambiguous.
  auto ambiguous = store_->GetRoute(Key("/api"));
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.error().code, StoreCode::kFailedPrecondition);
  EXPECT_NE(ambiguous.error().message.find("names 3 routes"), std::string::npos)
      << ambiguous.error().message;
  EXPECT_NE(ambiguous.error().message.find("host a.example"), std::string::npos);
  EXPECT_NE(ambiguous.error().message.find("--host"), std::string::npos);
}

TEST_P(PolicyStoreTest, SplitsAreCheckedAgainstServices) {
  auto created =
      store_->CreateRoute(WithSplit(MakeRoute("/pay", ""), {{"pay", 90}, {"pay-v2", 10}}));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->snapshot->routes(0).split_size(), 2);
  ASSERT_TRUE(
      store_->CreateRoute(WithSplit(MakeRoute("/ext", ""), {{"pay", 1}, {"example.com:8080", 1}}))
          .ok());
  ExpectRefused(
      [&] {
        return store_->CreateRoute(WithSplit(MakeRoute("/x", ""), {{"pay", 1}, {"foo", 1}}));
      },
      StoreCode::kInvalidArgument, "unknown service 'foo' in split");
  ExpectRefused(
      [&] {
        return store_->CreateRoute(WithSplit(MakeRoute("/x", ""), {{"pay", 0}, {"pay-v2", 0}}));
      },
      StoreCode::kInvalidArgument, "split weight 0 of 'pay' is outside 1..10000");
  ExpectRefused(
      [&] {
        return store_->CreateRoute(WithSplit(MakeRoute("/x", ""), {{"pay", 10001}, {"pay-v2", 1}}));
      },
      StoreCode::kInvalidArgument, "split weight 10001 of 'pay' is outside 1..10000");
  ExpectRefused(
      [&] {
        return store_->CreateRoute(WithSplit(MakeRoute("/x", ""), {{"pay", 1}}));
      },
      StoreCode::kInvalidArgument, "2 to 16 targets");
  // A service in a split cannot be deleted, like a single target.
  ExpectRefused([&] { return store_->DeleteService("pay-v2"); }, StoreCode::kFailedPrecondition,
                "used by route /pay (split)");
}

TEST_P(PolicyStoreTest, UpdateMaskReplacesNamedFieldsAndKeepsTheRest) {
  Route route = MakeRoute("/api", "pay");
  route.set_retries(2);
  route.set_timeout_ms(2000);
  route.mutable_rate_limit()->set_requests(100);
  route.mutable_rate_limit()->set_period_seconds(1);
  route.mutable_rate_limit()->set_burst(200);
  route.set_auth(gateway::v1::AUTH_JWT);
  route.mutable_cors()->add_origins("https://a.example");
  auto created = store_->CreateRoute(route);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->route.rate_limit().key(), "ip");  // the default, filled in

  // A sub-field: only the burst changes.
  Route change = MakeRoute("/api", "");
  change.set_match(MATCH_UNSPECIFIED);
  change.mutable_rate_limit()->set_burst(5);
  auto burst = store_->UpdateRoute(change, Mask({"rate_limit.burst"}));
  ASSERT_TRUE(burst.ok()) << burst.error().message;
  EXPECT_EQ(burst->route.rate_limit().requests(), 100u);
  EXPECT_EQ(burst->route.rate_limit().burst(), 5u);
  EXPECT_EQ(burst->route.retries(), 2u);

  // Named with its zero value: cleared (reset). Not named: kept.
  auto reset = store_->UpdateRoute(MakeRoute("/api", ""), Mask({"rate_limit", "timeout_ms"}));
  ASSERT_TRUE(reset.ok()) << reset.error().message;
  EXPECT_FALSE(reset->route.has_rate_limit());
  EXPECT_EQ(reset->route.timeout_ms(), 0u);
  EXPECT_EQ(reset->route.retries(), 2u);
  EXPECT_EQ(reset->route.auth(), gateway::v1::AUTH_JWT);
  EXPECT_EQ(reset->route.target(), "pay");

  // "split" replaces the target, and "target" the split.
  auto split = store_->UpdateRoute(WithSplit(MakeRoute("/api", ""), {{"pay", 90}, {"pay-v2", 10}}),
                                   Mask({"split"}));
  ASSERT_TRUE(split.ok()) << split.error().message;
  EXPECT_EQ(split->route.target(), "");
  EXPECT_EQ(split->route.split_size(), 2);
  auto back = store_->UpdateRoute(MakeRoute("/api", "pay-v2"), Mask({"target"}));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->route.split_size(), 0);
  EXPECT_EQ(back->route.target(), "pay-v2");

  // The same values again: a no-op, no new version.
  const uint64_t version = back->snapshot->version();
  auto same = store_->UpdateRoute(MakeRoute("/api", "pay-v2"), Mask({"target"}));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->snapshot->version(), version);

  // Refusals change nothing.
  Route bad = MakeRoute("/api", "");
  bad.set_rewrite_prefix("/v2");
  bad.set_strip_prefix(true);
  ExpectRefused(
      [&] {
        return store_->UpdateRoute(bad, Mask({"rewrite_prefix", "strip_prefix"}));
      },
      StoreCode::kInvalidArgument, "cannot be used together");
  ExpectRefused([&] { return store_->UpdateRoute(bad, Mask({"host"})); },
                StoreCode::kInvalidArgument, "route field 'host' cannot be updated");
  ExpectRefused([&] { return store_->UpdateRoute(bad, Mask({"rate_limit.nope"})); },
                StoreCode::kInvalidArgument, "'rate_limit.nope' cannot be updated");
  Route consumer_key = MakeRoute("/api", "");
  consumer_key.mutable_rate_limit()->set_requests(1);
  consumer_key.mutable_rate_limit()->set_period_seconds(60);
  consumer_key.mutable_rate_limit()->set_key("consumer");
  ExpectRefused(
      [&] {
        return store_->UpdateRoute(consumer_key, Mask({"rate_limit", "auth"}));
      },
      StoreCode::kInvalidArgument, "needs authentication");
}

TEST_P(PolicyStoreTest, EveryRoutePolicyRoundTripsThroughTheDatabase) {
  Route route = MakeRoute("/api", "pay");
  route.set_host("*.example.com");
  route.add_methods("GET");
  route.set_rewrite_prefix("/v2");
  auto* set = route.add_set_request_headers();
  set->set_name("X-Env");
  set->set_value("prod");
  route.add_remove_request_headers("Cookie");
  auto* set_response = route.add_set_response_headers();
  set_response->set_name("Cache-Control");
  set_response->set_value("no-store");
  route.add_remove_response_headers("Server");
  route.set_timeout_ms(1500);
  route.set_retries(3);
  route.mutable_rate_limit()->set_requests(10);
  route.mutable_rate_limit()->set_period_seconds(60);
  route.mutable_rate_limit()->set_key("header:x-user");
  route.set_auth(gateway::v1::AUTH_API_KEY);
  route.mutable_cors()->add_origins("https://a.example:8443");
  route.mutable_cors()->add_methods("get");
  route.mutable_cors()->add_headers("X-Token");
  route.mutable_cors()->set_max_age_seconds(600);
  route.set_max_body_size(1024);
  auto created = store_->CreateRoute(route);
  ASSERT_TRUE(created.ok()) << created.error().message;
  Reopen();
  auto snapshot = store_->LoadSnapshot();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ((*snapshot)->routes_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals((*snapshot)->routes(0), created->route))
      << (*snapshot)->routes(0).DebugString() << created->route.DebugString();
  EXPECT_EQ((*snapshot)->routes(0).cors().methods(0), "GET");
}

// Issue 14: `route add /api/home --aggregate user=pay:/users --aggregate ...`.
Route WithParts(Route route, const std::vector<std::vector<std::string>>& parts) {
  route.clear_target();
  for (const auto& fields : parts) {
    auto* part = route.add_aggregate();
    part->set_key(fields.at(0));
    part->set_target(fields.at(1));
    if (fields.size() > 2) part->set_path_prefix(fields[2]);
  }
  return route;
}

TEST_P(PolicyStoreTest, AggregateRoutesAreStoredWithWarningsAndHistory) {
  Route route = WithParts(MakeRoute("/api/home", ""),
                          {{"user", "pay", "/users"}, {"cart", "10.0.0.5:8080"}, {"misc", "pai"}});
  route.set_aggregate_timeout_ms(2000);
  route.set_aggregate_partial(true);
  route.add_methods("get");
  auto created = store_->CreateRoute(route);
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_EQ(created->route.aggregate_size(), 3);
  EXPECT_EQ(created->route.aggregate(0).key(), "user");  // the order given is the answer's
  EXPECT_EQ(created->route.aggregate(2).key(), "misc");
  EXPECT_EQ(created->route.methods(0), "GET");
  // A part's bare name that is no service is a DNS name, as a plain route's target.
  ASSERT_EQ(created->warnings.size(), 1u);
  EXPECT_EQ(created->warnings[0],
            "aggregate part 'misc' target 'pai' is not a registered service: every gateway will "
            "resolve it by DNS (port 80), as a Kubernetes Service name; did you mean service "
            "'pay'?");
  EXPECT_EQ(location_->Query("SELECT target FROM routes"), std::vector<std::string>{""});
  EXPECT_NE(location_->Dump().find(
                "create_route|/api/home (prefix, method GET) -> "
                "aggregate(user=pay:/users,cart=10.0.0.5:8080,misc=pai), aggregate-timeout=2s "
                "aggregate-partial\n"),
            std::string::npos)
      << location_->Dump();
  const std::string json = ConfigToJson(*created->snapshot);
  EXPECT_NE(json.find(R"("target":"","aggregate":"user=pay:/users,cart=10.0.0.5:8080,misc=pai",)"
                      R"("policies":"aggregate-timeout=2s aggregate-partial")"),
            std::string::npos)
      << json;

  // Every field survives a restart (the policy column holds the parts; target is '').
  Reopen();
  auto snapshot = store_->LoadSnapshot();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ((*snapshot)->routes_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals((*snapshot)->routes(0), created->route))
      << (*snapshot)->routes(0).DebugString() << created->route.DebugString();

  // A service a part uses cannot be deleted, nor made to speak h2c.
  ExpectRefused([&] { return store_->DeleteService("pay"); }, StoreCode::kFailedPrecondition,
                "service pay is used by route /api/home (prefix, method GET) (aggregate); move or "
                "delete it first");
  Service h2c = MakeService("pay", 9001);
  h2c.set_protocol(gateway::v1::UPSTREAM_H2C);
  ExpectRefused([&] { return store_->UpdateService(h2c, Mask({"protocol"})); },
                StoreCode::kInvalidArgument,
                "service 'pay' cannot speak h2c: aggregate part 'user' of route /api/home "
                "(prefix, method GET) uses it, and a part must speak HTTP/1.1");
  gateway::v1::ApplyRequest apply;
  *apply.add_services() = h2c;
  ExpectRefused([&] { return store_->Apply(apply); }, StoreCode::kInvalidArgument,
                "service 'pay' cannot speak h2c");
}

TEST_P(PolicyStoreTest, AggregateRoutesAreRefusedWithOneLine) {
  Service grpc = MakeService("grpc", 9003);
  grpc.set_protocol(gateway::v1::UPSTREAM_H2C);
  ASSERT_TRUE(store_->CreateService(grpc).ok());
  const Route home = WithParts(MakeRoute("/api/home", ""), {{"user", "pay"}, {"cart", "grpc"}});
  ExpectRefused([&] { return store_->CreateRoute(home); }, StoreCode::kInvalidArgument,
                "route '/api/home': aggregate part 'cart' targets service 'grpc' which speaks h2c; "
                "a part must speak HTTP/1.1");
  Route post = WithParts(MakeRoute("/api/home", ""), {{"user", "pay"}});
  post.add_methods("post");
  ExpectRefused([&] { return store_->CreateRoute(post); }, StoreCode::kInvalidArgument,
                "route '/api/home': an aggregate route takes GET and HEAD only, not POST");
  Route both = WithParts(MakeRoute("/api/home", ""), {{"user", "pay"}});
  both.set_target("pay");
  ExpectRefused([&] { return store_->CreateRoute(both); }, StoreCode::kInvalidArgument,
                "route '/api/home' has both a target and aggregate parts; give one");
  ExpectRefused(
      [&] {
        return store_->CreateRoute(WithParts(MakeRoute("/api/home", ""), {{"u", "a"}, {"u", "b"}}));
      },
      StoreCode::kInvalidArgument, "aggregate lists key 'u' twice");
  Route timeout_alone = MakeRoute("/api/home", "pay");
  timeout_alone.set_aggregate_timeout_ms(1000);
  ExpectRefused([&] { return store_->CreateRoute(timeout_alone); }, StoreCode::kInvalidArgument,
                "--aggregate-timeout needs aggregate parts");
  // The same through apply, which names the item.
  gateway::v1::ApplyRequest apply;
  *apply.add_routes() = home;
  ExpectRefused([&] { return store_->Apply(apply); }, StoreCode::kInvalidArgument,
                "aggregate part 'cart' targets service 'grpc' which speaks h2c");
}

TEST_P(PolicyStoreTest, TargetSplitAndAggregateReplaceEachOther) {
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/api", "pay")).ok());
  Route parts = WithParts(MakeRoute("/api", ""), {{"user", "pay", "/users"}, {"cart", "pay-v2"}});
  parts.set_aggregate_timeout_ms(2000);
  auto to_parts = store_->UpdateRoute(parts, Mask({"aggregate", "aggregate_timeout_ms"}));
  ASSERT_TRUE(to_parts.ok()) << to_parts.error().message;
  EXPECT_EQ(to_parts->route.target(), "");
  ASSERT_EQ(to_parts->route.aggregate_size(), 2);
  EXPECT_EQ(to_parts->route.aggregate(0).path_prefix(), "/users");
  EXPECT_EQ(to_parts->route.aggregate_timeout_ms(), 2000u);
  EXPECT_NE(location_->Dump().find("update_route|/api (prefix) -> "
                                   "aggregate(user=pay:/users,cart=pay-v2) (was pay), policies "
                                   "aggregate-timeout=2s (was none)\n"),
            std::string::npos)
      << location_->Dump();

  // The policies alone change the parts' route; "aggregate" replaces the whole list.
  Route partial = MakeRoute("/api", "");
  partial.set_aggregate_partial(true);
  auto with_partial = store_->UpdateRoute(partial, Mask({"aggregate_partial"}));
  ASSERT_TRUE(with_partial.ok()) << with_partial.error().message;
  EXPECT_TRUE(with_partial->route.aggregate_partial());
  EXPECT_EQ(with_partial->route.aggregate_size(), 2);
  auto one =
      store_->UpdateRoute(WithParts(MakeRoute("/api", ""), {{"only", "pay"}}), Mask({"aggregate"}));
  ASSERT_TRUE(one.ok()) << one.error().message;
  ASSERT_EQ(one->route.aggregate_size(), 1);
  EXPECT_EQ(one->route.aggregate(0).key(), "only");
  EXPECT_EQ(one->route.aggregate_timeout_ms(), 2000u);  // not named: kept

  // Back to a target: the parts go, and the aggregate's policies with them.
  auto back = store_->UpdateRoute(MakeRoute("/api", "pay-v2"), Mask({"target"}));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->route.target(), "pay-v2");
  EXPECT_EQ(back->route.aggregate_size(), 0);
  EXPECT_EQ(back->route.aggregate_timeout_ms(), 0u);
  EXPECT_FALSE(back->route.aggregate_partial());

  // A split, then parts in its place.
  ASSERT_TRUE(store_
                  ->UpdateRoute(WithSplit(MakeRoute("/api", ""), {{"pay", 1}, {"pay-v2", 1}}),
                                Mask({"split"}))
                  .ok());
  auto from_split =
      store_->UpdateRoute(WithParts(MakeRoute("/api", ""), {{"user", "pay"}}), Mask({"aggregate"}));
  ASSERT_TRUE(from_split.ok()) << from_split.error().message;
  EXPECT_EQ(from_split->route.split_size(), 0);
  EXPECT_EQ(from_split->route.aggregate_size(), 1);

  // One of them per update; a part's h2c service and the timeout without parts are refused.
  ExpectRefused(
      [&] {
        return store_->UpdateRoute(WithParts(MakeRoute("/api", "pay"), {{"user", "pay"}}),
                                   Mask({"target", "aggregate"}));
      },
      StoreCode::kInvalidArgument,
      "route /api: update either the target or the aggregate parts (each replaces the others)");
  ExpectRefused(
      [&] {
        return store_->UpdateRoute(MakeRoute("/api", "pay"),
                                   Mask({"target", "split", "aggregate"}));
      },
      StoreCode::kInvalidArgument, "update either the target or the split or the aggregate parts");
  Route timeout_on_target = MakeRoute("/api", "pay");
  timeout_on_target.set_aggregate_timeout_ms(1000);
  ExpectRefused(
      [&] {
        return store_->UpdateRoute(timeout_on_target, Mask({"target", "aggregate_timeout_ms"}));
      },
      StoreCode::kInvalidArgument, "--aggregate-timeout needs aggregate parts");
  Route many = MakeRoute("/api", "");
  for (int i = 0; i < 17; ++i) {
    auto* part = many.add_aggregate();
    part->set_key("k" + std::to_string(i));
    part->set_target("pay");
  }
  ExpectRefused([&] { return store_->UpdateRoute(many, Mask({"aggregate"})); },
                StoreCode::kInvalidArgument, "an aggregate has 1 to 16 parts, not 17");
}

TEST_P(PolicyStoreTest, ServicePoliciesWithDefaultsAndMasks) {
  Service service = MakeService("hashed", 9100);
  service.set_lb(gateway::v1::LB_RING_HASH);
  service.set_hash_header("x-user");
  service.mutable_health_check()->set_path("/healthz");
  service.set_eject_after(5);
  auto created = store_->CreateService(service);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->service.health_check().interval_ms(), 10000u);
  EXPECT_EQ(created->service.health_check().unhealthy_threshold(), 3u);
  EXPECT_EQ(created->service.health_check().healthy_threshold(), 2u);
  EXPECT_EQ(created->service.eject_for_ms(), 30000u);

  Service change;
  change.set_name("hashed");
  change.mutable_health_check()->set_interval_ms(500);
  change.set_max_connections(100);
  auto updated =
      store_->UpdateService(change, Mask({"health_check.interval_ms", "max_connections"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->service.health_check().path(), "/healthz");
  EXPECT_EQ(updated->service.health_check().interval_ms(), 500u);
  EXPECT_EQ(updated->service.max_connections(), 100u);
  EXPECT_EQ(updated->service.endpoints_size(), 1);  // kept

  // Without a mask (older clients): the endpoints.
  auto endpoints = store_->UpdateService(MakeService("hashed", 9200));
  ASSERT_TRUE(endpoints.ok()) << endpoints.error().message;
  EXPECT_EQ(endpoints->service.endpoints(0).port(), 9200u);
  EXPECT_EQ(endpoints->service.lb(), gateway::v1::LB_RING_HASH);

  auto got = store_->GetService("hashed");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got->service, endpoints->service));

  Service bad;
  bad.set_name("hashed");
  bad.mutable_health_check()->set_interval_ms(50);
  ExpectRefused([&] { return store_->UpdateService(bad, Mask({"health_check.interval_ms"})); },
                StoreCode::kInvalidArgument, "interval 50ms is outside 100ms..1h");
  bad.set_lb(gateway::v1::LB_RANDOM);
  ExpectRefused([&] { return store_->UpdateService(bad, Mask({"lb"})); },
                StoreCode::kInvalidArgument, "hash header needs --lb ring_hash");
  bad.set_eject_after(1001);
  ExpectRefused([&] { return store_->UpdateService(bad, Mask({"eject_after"})); },
                StoreCode::kInvalidArgument, "eject after 1001");
  bad.set_connect_timeout_ms(61000);
  ExpectRefused([&] { return store_->UpdateService(bad, Mask({"connect_timeout_ms"})); },
                StoreCode::kInvalidArgument, "connect timeout 61s");
  bad.set_max_pending(1000001);
  ExpectRefused([&] { return store_->UpdateService(bad, Mask({"max_pending"})); },
                StoreCode::kInvalidArgument, "max pending");
  ExpectRefused([&] { return store_->UpdateService(bad, Mask({"name"})); },
                StoreCode::kInvalidArgument, "service field 'name' cannot be updated");
}

TEST_P(PolicyStoreTest, ConsumersKeepOnlyKeyDigests) {
  Consumer alice;
  alice.set_name("alice");
  auto created = store_->CreateConsumer(alice, {std::string(kKey1), std::string(kKey2)});
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_EQ(created->consumer.api_key_sha256_size(), 2);
  EXPECT_EQ(created->consumer.api_key_sha256(0), ApiKeySha256Hex(kKey1));
  ASSERT_EQ(created->snapshot->consumers_size(), 1);

  Consumer carol;
  carol.set_name("carol");
  carol.mutable_jwt()->set_issuer("https://idp.example");
  carol.mutable_jwt()->set_secret(std::string(kSecret));
  ASSERT_TRUE(store_->CreateConsumer(carol, {}).ok());

  const std::string dump = location_->Dump();
  EXPECT_EQ(dump.find(kKey1), std::string::npos);  // never in clear, anywhere
  EXPECT_EQ(dump.find(kKey2), std::string::npos);

  auto got = store_->GetConsumer("carol");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->consumer.jwt().secret(), kSecret);  // the store keeps it for the gateways
  auto list = store_->ListConsumers();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)->consumers_size(), 2);
  EXPECT_EQ((*list)->consumers(0).name(), "alice");

  Consumer other;
  other.set_name("bob");
  ExpectRefused([&] { return store_->CreateConsumer(other, {std::string(kKey2)}); },
                StoreCode::kAlreadyExists, "already a key of consumer alice");
  ExpectRefused([&] { return store_->CreateConsumer(alice, {"another-key-0123456789"}); },
                StoreCode::kAlreadyExists, "consumer alice already exists");
  ExpectRefused([&] { return store_->CreateConsumer(other, {"short"}); },
                StoreCode::kInvalidArgument, "consumer 'bob'");
  ExpectRefused([&] { return store_->CreateConsumer(other, {}); }, StoreCode::kInvalidArgument,
                "has no credentials");
  other.mutable_jwt()->set_issuer("iss");
  other.mutable_jwt()->set_secret("too-short");
  ExpectRefused([&] { return store_->CreateConsumer(other, {}); }, StoreCode::kInvalidArgument,
                "consumer 'bob'");
  other.mutable_jwt()->clear_secret();
  other.mutable_jwt()->set_public_key_pem(
      "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n");
  ExpectRefused([&] { return store_->CreateConsumer(other, {}); }, StoreCode::kInvalidArgument,
                "consumer 'bob'");
  other.set_name("Bob");
  ExpectRefused([&] { return store_->CreateConsumer(other, {}); }, StoreCode::kInvalidArgument,
                "consumer name 'Bob'");

  // Deleting a consumer is allowed while routes require auth; its keys go with it.
  Route route = MakeRoute("/api", "pay");
  route.set_auth(gateway::v1::AUTH_API_KEY);
  ASSERT_TRUE(store_->CreateRoute(route).ok());
  auto deleted = store_->DeleteConsumer("alice");
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ((*deleted)->consumers_size(), 1);
  Consumer again;
  again.set_name("alice2");
  ASSERT_TRUE(store_->CreateConsumer(again, {std::string(kKey1)}).ok());  // the key is free again
  ExpectRefused([&] { return store_->DeleteConsumer("nobody"); }, StoreCode::kNotFound,
                "consumer nobody does not exist");
}

TEST_P(PolicyStoreTest, HistoryDescribesPolicyChanges) {
  Route route = MakeRoute("/api", "pay");
  route.set_retries(1);
  ASSERT_TRUE(store_->CreateRoute(route).ok());
  route.set_retries(3);
  ASSERT_TRUE(store_->UpdateRoute(route, Mask({"retries"})).ok());
  const std::string dump = location_->Dump();
  EXPECT_NE(dump.find("create_route|/api (prefix) -> pay, retries=1\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find("update_route|/api (prefix) -> pay, policies retries=3 (was retries=1)\n"),
            std::string::npos)
      << dump;
}

TEST_P(PolicyStoreTest, ConfigJsonShowsPoliciesButNoCredentials) {
  Route route = WithSplit(MakeRoute("/api", ""), {{"pay", 90}, {"pay-v2", 10}});
  route.set_host("a.example");
  route.set_retries(2);
  ASSERT_TRUE(store_->CreateRoute(route).ok());
  Consumer carol;
  carol.set_name("carol");
  carol.mutable_jwt()->set_issuer("iss");
  carol.mutable_jwt()->set_secret(std::string(kSecret));
  auto written = store_->CreateConsumer(carol, {std::string(kKey1)});
  ASSERT_TRUE(written.ok());
  const std::string json = ConfigToJson(*written->snapshot);
  EXPECT_NE(json.find(R"("host":"a.example","target":"","split":"pay=90,pay-v2=10",)"
                      R"("policies":"retries=2")"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("consumers":[{"name":"carol","api_keys":1,"jwt_issuer":"iss")"),
            std::string::npos)
      << json;
  EXPECT_EQ(json.find(kSecret), std::string::npos);
  EXPECT_EQ(json.find(kKey1), std::string::npos);
  EXPECT_EQ(json.find(ApiKeySha256Hex(kKey1)), std::string::npos);
}

TEST(PolicyStoreMigration, Version2DatabaseKeepsRoutesAndGetsPolicies) {
  testing::TempDir dir;
  const std::string path = dir.File("v2.db");
  {
    auto db = Database::Open(path, Database::Lock::kShared);
    ASSERT_TRUE(db->Exec(R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('config_version', 2);
CREATE TABLE services (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE endpoints (
  service  TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
  position INTEGER NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
  PRIMARY KEY (service, position));
CREATE TABLE routes (
  path TEXT NOT NULL, "match" INTEGER NOT NULL CHECK ("match" IN (1, 2)), target TEXT NOT NULL,
  version INTEGER NOT NULL, PRIMARY KEY (path, "match"));
CREATE INDEX routes_by_target ON routes (target);
CREATE TABLE history (version INTEGER PRIMARY KEY, at_unix_ms INTEGER NOT NULL,
  action TEXT NOT NULL, detail TEXT NOT NULL);
ALTER TABLE routes ADD COLUMN max_body_size INTEGER NOT NULL DEFAULT 0 CHECK (max_body_size >= 0);
INSERT INTO services VALUES ('pay', 1);
INSERT INTO endpoints VALUES ('pay', 0, '127.0.0.1', 9001);
INSERT INTO routes (path, "match", target, version, max_body_size) VALUES ('/api', 1, 'pay', 2, 4096);
PRAGMA user_version = 2;
)sql"));
  }
  auto store = ConfigStore::Open(path);
  auto snapshot = store->LoadSnapshot();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ((*snapshot)->routes_size(), 1);
  EXPECT_EQ((*snapshot)->routes(0).max_body_size(), 4096u);
  EXPECT_EQ((*snapshot)->services(0).endpoints_size(), 1);
  Route narrower = MakeRoute("/api", "pay");
  narrower.set_host("a.example");
  ASSERT_TRUE(store->CreateRoute(narrower).ok());  // same path and kind, new identity
  Route change = MakeRoute("/api", "");
  change.set_retries(2);
  auto updated = store->UpdateRoute(change, Mask({"retries"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->route.max_body_size(), 4096u);
  EXPECT_EQ(updated->route.host(), "");
}

}  // namespace
}  // namespace gw
