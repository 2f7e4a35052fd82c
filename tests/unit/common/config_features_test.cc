#include "common/config_features.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

TEST(FeaturesUsed, NamesWhatTheConfigUses) {
  gateway::v1::Config config;
  EXPECT_TRUE(FeaturesUsed(config).empty());
  auto* route = config.add_routes();
  route->set_path("/api");
  route->set_target("order-svc");
  EXPECT_TRUE(FeaturesUsed(config).empty());  // a plain route needs nothing beyond protocol 0
  route->set_host("api.example.com");
  route->mutable_cors()->add_origins("*");
  route->set_retries(2);
  auto* service = config.add_services();
  service->set_lb(gateway::v1::LB_RING_HASH);
  service->set_max_pending(5);
  EXPECT_EQ(FeaturesUsed(config),
            (std::set<std::string>{"circuit_breaking", "cors", "load_balancing", "match_conditions",
                                   "retries"}));
}

TEST(FeaturesUsed, ClusterRateLimitIsAFeatureOfItsOwn) {
  gateway::v1::Config config;
  auto* route = config.add_routes();
  route->set_path("/api");
  route->set_target("order-svc");
  route->mutable_rate_limit()->set_requests(100);
  route->mutable_rate_limit()->set_period_seconds(1);
  EXPECT_EQ(FeaturesUsed(config), std::set<std::string>{"rate_limit"});
  route->mutable_rate_limit()->set_scope(gateway::v1::RateLimit::SCOPE_CLUSTER);
  const std::set<std::string> used = FeaturesUsed(config);
  EXPECT_EQ(used, (std::set<std::string>{"cluster_rate_limit", "rate_limit"}));

  // Neither 0.2.0 (protocol 0) nor a gateway that states only the features it had before
  // this one is sent it.
  gateway::v1::Node old_node;
  EXPECT_EQ(MissingFeatures(used, old_node), std::vector<std::string>{"cluster_rate_limit"});
  gateway::v1::Node older;
  older.set_protocol_version(kProtocolVersion);
  for (const auto& feature : BaselineFeatures()) older.add_features(feature);
  EXPECT_EQ(MissingFeatures(used, older), std::vector<std::string>{"cluster_rate_limit"});
  gateway::v1::Node current;  // this build's gateway
  current.set_protocol_version(kProtocolVersion);
  for (const auto& feature : GatewayFeatures()) current.add_features(feature);
  EXPECT_TRUE(MissingFeatures(used, current).empty());
}

// Issue 14: an aggregate route is a feature of its own, and so is each of its two policies
// (a gateway without the feature would not know what they are for).
TEST(FeaturesUsed, AggregateRoutesAreAFeatureOfTheirOwn) {
  gateway::v1::Config config;
  auto* route = config.add_routes();
  route->set_path("/api/home");
  auto* part = route->add_aggregate();
  part->set_key("user");
  part->set_target("users-svc");
  const std::set<std::string> used = FeaturesUsed(config);
  EXPECT_EQ(used, std::set<std::string>{"aggregate_routes"});
  for (auto set : {+[](gateway::v1::Route* r) { r->set_aggregate_timeout_ms(2000); },
                   +[](gateway::v1::Route* r) { r->set_aggregate_partial(true); }}) {
    gateway::v1::Route bare;
    bare.set_path("/api/home");
    set(&bare);
    gateway::v1::Config alone;
    *alone.add_routes() = bare;
    EXPECT_EQ(FeaturesUsed(alone), std::set<std::string>{"aggregate_routes"});
  }

  gateway::v1::Node older;  // a gateway from before issue 14: the baseline and issue 13's
  older.set_protocol_version(kProtocolVersion);
  for (const auto& feature : GatewayFeatures())
    if (feature != "aggregate_routes") older.add_features(feature);
  EXPECT_EQ(MissingFeatures(used, older), std::vector<std::string>{"aggregate_routes"});
  EXPECT_EQ(MissingFeatures(used, gateway::v1::Node()),
            std::vector<std::string>{"aggregate_routes"});
  gateway::v1::Node current;
  current.set_protocol_version(kProtocolVersion);
  for (const auto& feature : GatewayFeatures()) current.add_features(feature);
  EXPECT_TRUE(MissingFeatures(used, current).empty());
}

TEST(MissingFeatures, ProtocolZeroAppliesTheBaseline) {
  const std::set<std::string> used = {"cors", "split"};
  gateway::v1::Node old_node;  // states nothing: 0.2.0
  EXPECT_TRUE(MissingFeatures(used, old_node).empty());
  EXPECT_TRUE(MissingFeatures({"some_future_feature"}, old_node).size() == 1);

  gateway::v1::Node node;
  node.set_protocol_version(kProtocolVersion);
  node.set_build_version("0.3.0");
  node.add_features("split");
  EXPECT_EQ(MissingFeatures(used, node), std::vector<std::string>{"cors"});
  EXPECT_EQ(DescribeBuild(node), "0.3.0, protocol 1");
  for (const auto& feature : GatewayFeatures()) node.add_features(feature);
  EXPECT_TRUE(MissingFeatures(used, node).empty());
}

}  // namespace
}  // namespace gw
