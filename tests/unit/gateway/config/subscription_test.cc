#include "gateway/config/subscription.h"

#include <gtest/gtest.h>

#include <algorithm>

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
  // Deltas are not supported, so the control plane must only ever send snapshots.
  EXPECT_EQ(std::count(node.capabilities().begin(), node.capabilities().end(), "delta"), 0);
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

TEST_F(SubscriptionTest, DeltaIsNackedAsUnsupported) {
  ASSERT_TRUE(subscription_.OnConfig(SnapshotPush(1, "a", SplitConfig(1))).has_ack());
  gateway::v1::ConfigMessage push;
  push.set_nonce("d");
  push.set_version(2);
  push.mutable_delta()->set_base_version(1);
  push.mutable_delta()->add_removed_services("payment-svc");

  const gateway::v1::GatewayMessage reply = subscription_.OnConfig(push);
  ASSERT_TRUE(reply.has_nack());
  EXPECT_EQ(reply.nack().version(), 2u);
  EXPECT_EQ(reply.nack().nonce(), "d");
  EXPECT_EQ(reply.nack().error(), "delta configs are not supported by this gateway");
  EXPECT_EQ(applier_.version(), 1u);
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
