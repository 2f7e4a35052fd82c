#include "gateway/config/subscription.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/config_delta.h"
#include "common/config_features.h"
#include "tests/unit/gateway/config/test_support.h"

namespace gw {
namespace {

using testing::InvalidConfig;
using testing::SplitConfig;
using testing::TempDir;

gateway::v1::ConfigMessage SnapshotPush(uint64_t version, std::string nonce,
                                        gateway::v1::Config config) {
  gateway::v1::ConfigMessage message;
  message.set_nonce(std::move(nonce));
  message.set_version(version);
  *message.mutable_snapshot() = std::move(config);
  return message;
}

class SubscriptionTest : public ::testing::Test {
 protected:
  TempDir dir_;
  RouteTableHolder holder_;
  ConfigApplier applier_{holder_, dir_.File("gateway.cache"), 100};
  Subscription subscription_{{"gw-1", "127.0.0.1:8080", "instance-a"}, applier_};
};

TEST_F(SubscriptionTest, HelloCarriesIdentityAndRunningVersion) {
  const gateway::v1::GatewayMessage message = subscription_.Hello();
  ASSERT_TRUE(message.has_hello());
  const gateway::v1::Node& node = message.hello().node();
  EXPECT_EQ(node.id(), "gw-1");
  EXPECT_EQ(node.address(), "127.0.0.1:8080");
  EXPECT_EQ(node.build_version(), GATEWAY_BUILD_VERSION);
  EXPECT_FALSE(node.build_version().empty());
  // It applies deltas (issue 10).
  EXPECT_EQ(std::count(node.capabilities().begin(), node.capabilities().end(), "delta"), 1);
  // It states its protocol and every config feature it applies (rolling upgrades).
  EXPECT_EQ(node.protocol_version(), kProtocolVersion);
  EXPECT_EQ(std::vector<std::string>(node.features().begin(), node.features().end()),
            GatewayFeatures());
  EXPECT_EQ(message.hello().running_version(), 0u);
  EXPECT_EQ(message.hello().instance_id(), "instance-a");
  EXPECT_EQ(message.hello().last_stream_error(), "");
}

TEST_F(SubscriptionTest, HelloTellsWhyThePreviousStreamFailed) {
  const auto hello = subscription_.Hello("RESOURCE_EXHAUSTED: received message larger than max");
  EXPECT_EQ(hello.hello().last_stream_error(),
            "RESOURCE_EXHAUSTED: received message larger than max");
}

TEST_F(SubscriptionTest, HelloAnnouncesTheVersionAlreadyRunning) {
  ASSERT_EQ(applier_.Apply(SplitConfig(17)), "");
  EXPECT_EQ(subscription_.Hello().hello().running_version(), 17u);
}

TEST_F(SubscriptionTest, HelloAnnouncesTheCachedVersionAfterARestart) {
  {
    RouteTableHolder holder;
    ConfigApplier first(holder, dir_.File("restart.cache"), 100);
    ASSERT_EQ(first.Apply(SplitConfig(8)), "");
  }
  RouteTableHolder holder;
  ConfigApplier restarted(holder, dir_.File("restart.cache"), 100);
  ASSERT_TRUE(restarted.LoadCache());
  Subscription subscription({"gw-1", "127.0.0.1:8080", "instance-b"}, restarted);
  EXPECT_EQ(subscription.Hello().hello().running_version(), 8u);
}

TEST_F(SubscriptionTest, ValidSnapshotIsAppliedAndAckedWithItsVersionAndNonce) {
  const gateway::v1::GatewayMessage reply =
      subscription_.OnConfig(SnapshotPush(5, "nonce-5", SplitConfig(5)));
  ASSERT_TRUE(reply.has_ack()) << reply.DebugString();
  EXPECT_EQ(reply.ack().version(), 5u);
  EXPECT_EQ(reply.ack().nonce(), "nonce-5");
  EXPECT_EQ(applier_.version(), 5u);
  ASSERT_NE(holder_.Load(), nullptr);
  EXPECT_EQ(holder_.Load()->Match("/api/payment")->target, "payment-svc");
}

TEST_F(SubscriptionTest, InvalidSnapshotIsNackedWithTheReasonAndOldConfigStays) {
  ASSERT_TRUE(subscription_.OnConfig(SnapshotPush(1, "a", SplitConfig(1))).has_ack());
  const gateway::v1::GatewayMessage reply =
      subscription_.OnConfig(SnapshotPush(2, "b", InvalidConfig(2)));
  ASSERT_TRUE(reply.has_nack()) << reply.DebugString();
  EXPECT_EQ(reply.nack().version(), 2u);
  EXPECT_EQ(reply.nack().nonce(), "b");
  EXPECT_NE(reply.nack().error().find("api/payment"), std::string::npos) << reply.nack().error();
  EXPECT_EQ(applier_.version(), 1u);
  EXPECT_EQ(holder_.Load()->version(), 1u);
  EXPECT_EQ(subscription_.pushes(), 2u);
  EXPECT_EQ(subscription_.nacks(), 1u);
}

TEST_F(SubscriptionTest, NextValidSnapshotAfterANackIsAcked) {
  ASSERT_TRUE(subscription_.OnConfig(SnapshotPush(2, "b", InvalidConfig(2))).has_nack());
  const gateway::v1::GatewayMessage reply =
      subscription_.OnConfig(SnapshotPush(3, "c", SplitConfig(3)));
  ASSERT_TRUE(reply.has_ack());
  EXPECT_EQ(reply.ack().version(), 3u);
  EXPECT_EQ(reply.ack().nonce(), "c");
}

TEST_F(SubscriptionTest, RepeatedVersionIsAckedAgainWithTheNewNonce) {
  ASSERT_TRUE(subscription_.OnConfig(SnapshotPush(4, "first", SplitConfig(4))).has_ack());
  const gateway::v1::GatewayMessage reply =
      subscription_.OnConfig(SnapshotPush(4, "second", SplitConfig(4)));
  ASSERT_TRUE(reply.has_ack());
  EXPECT_EQ(reply.ack().version(), 4u);
  EXPECT_EQ(reply.ack().nonce(), "second");
}

gateway::v1::ConfigMessage DeltaPush(uint64_t version, std::string nonce,
                                     const gateway::v1::Config& before,
                                     const gateway::v1::Config& after) {
  gateway::v1::ConfigMessage message;
  message.set_nonce(std::move(nonce));
  message.set_version(version);
  *message.mutable_delta() = DiffConfigs(before, after);
  return message;
}

// A delta on the live version is applied as the snapshot it stands for would be, and cached.
TEST_F(SubscriptionTest, DeltaOnTheLiveVersionIsAppliedAndAcked) {
  ASSERT_TRUE(subscription_.OnConfig(SnapshotPush(1, "a", SplitConfig(1))).has_ack());
  gateway::v1::Config next = testing::MakeConfig(2, {{"/api", "order-svc"}, {"/new", "new-svc"}});
  const gateway::v1::GatewayMessage reply =
      subscription_.OnConfig(DeltaPush(2, "d", SplitConfig(1), next));
  ASSERT_TRUE(reply.has_ack()) << reply.DebugString();
  EXPECT_EQ(reply.ack().version(), 2u);
  EXPECT_EQ(reply.ack().nonce(), "d");
  EXPECT_EQ(applier_.version(), 2u);
  EXPECT_EQ(holder_.Load()->Match("/new")->target, "new-svc");
  EXPECT_EQ(holder_.Load()->Match("/api/payment")->target, "order-svc");  // its route is gone
  EXPECT_EQ(applier_.FlushCache(), "");
  SortConfig(&next);
  EXPECT_EQ(testing::CachedConfig(dir_.File("gateway.cache")), next.SerializeAsString());
}

// A delta from another version than the live one, or one that does not apply, is refused and
// changes nothing (the control plane then sends the snapshot).
TEST_F(SubscriptionTest, DeltaFromAnotherVersionIsNacked) {
  gateway::v1::ConfigMessage early = DeltaPush(2, "d0", SplitConfig(1), SplitConfig(2));
  const auto none = subscription_.OnConfig(early);
  ASSERT_TRUE(none.has_nack());
  EXPECT_EQ(none.nack().error(), "a delta, but no config is live to apply it to");
  EXPECT_TRUE(none.nack().needs_snapshot());

  ASSERT_TRUE(subscription_.OnConfig(SnapshotPush(1, "a", SplitConfig(1))).has_ack());
  gateway::v1::Config other = SplitConfig(7);
  const auto stale = subscription_.OnConfig(DeltaPush(8, "d1", other, SplitConfig(8)));
  ASSERT_TRUE(stale.has_nack());
  EXPECT_EQ(stale.nack().error(), "delta from version 7, but version 1 is live");
  EXPECT_TRUE(stale.nack().needs_snapshot());
  gateway::v1::ConfigMessage bad = DeltaPush(2, "d2", SplitConfig(1), SplitConfig(1));
  bad.mutable_delta()->add_removed_services("nope-svc");
  const auto unknown = subscription_.OnConfig(bad);
  ASSERT_TRUE(unknown.has_nack());
  EXPECT_NE(unknown.nack().error().find("removes a service the base config does not have"),
            std::string::npos)
      << unknown.nack().error();
  EXPECT_EQ(applier_.version(), 1u);
  // A delta that applies but makes a config this gateway refuses is an ordinary NACK.
  gateway::v1::ConfigMessage invalid = DeltaPush(2, "d3", SplitConfig(1), InvalidConfig(2));
  const auto refused = subscription_.OnConfig(invalid);
  ASSERT_TRUE(refused.has_nack());
  EXPECT_FALSE(refused.nack().needs_snapshot());
}

TEST_F(SubscriptionTest, PushWithoutPayloadIsNacked) {
  gateway::v1::ConfigMessage push;
  push.set_nonce("e");
  push.set_version(3);
  const gateway::v1::GatewayMessage reply = subscription_.OnConfig(push);
  ASSERT_TRUE(reply.has_nack());
  EXPECT_EQ(reply.nack().version(), 3u);
  EXPECT_EQ(reply.nack().nonce(), "e");
  EXPECT_FALSE(reply.nack().error().empty());
  EXPECT_FALSE(applier_.ready());
}

TEST_F(SubscriptionTest, SnapshotWhoseVersionDisagreesWithThePushIsNacked) {
  const gateway::v1::GatewayMessage reply =
      subscription_.OnConfig(SnapshotPush(6, "f", SplitConfig(5)));
  ASSERT_TRUE(reply.has_nack());
  EXPECT_EQ(reply.nack().version(), 6u);
  EXPECT_EQ(reply.nack().nonce(), "f");
  EXPECT_FALSE(applier_.ready());
}

}  // namespace
}  // namespace gw
