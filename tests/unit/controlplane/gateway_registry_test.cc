// GatewayRegistry: ACK/NACK bookkeeping and stream ownership.
#include "controlplane/gateway_registry.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

// The Hello of gateway `id`, running `running` (0: nothing), after a stream that failed with
// `last_error` ("" none).
gateway::v1::Hello MakeHello(const std::string& id, uint64_t running,
                             const std::string& last_error = "") {
  gateway::v1::Hello hello;
  gateway::v1::Node* node = hello.mutable_node();
  node->set_id(id);
  node->set_address("127.0.0.1:8080");
  node->set_build_version("0.1.0");
  hello.set_running_version(running);
  hello.set_last_stream_error(last_error);
  return hello;
}

TEST(GatewayRegistryTest, ConnectListsTheGateway) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw-b", 0), "ipv4:127.0.0.1:5000", 1);
  registry.Connect(MakeHello("gw-a", 0), "ipv4:127.0.0.1:5001", 2);
  auto list = registry.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].node_id(), "gw-a");  // sorted
  EXPECT_EQ(list[1].node_id(), "gw-b");
  EXPECT_TRUE(list[0].connected());
  EXPECT_EQ(list[0].address(), "127.0.0.1:8080");
  EXPECT_EQ(list[0].peer(), "ipv4:127.0.0.1:5001");
  EXPECT_EQ(list[0].acked_version(), 0u);
  EXPECT_GT(list[0].last_seen_unix_ms(), 0);
  EXPECT_EQ(registry.Count().connected, 2u);
}

// Issue 10: what changed since the last heartbeat goes to the store, stamped with the replica;
// what could not be written comes back the next time.
TEST(GatewayRegistryTest, TakeChangesHandsOverWhatChangedOnce) {
  GatewayRegistry registry;
  registry.SetReplica("cp-a");
  registry.Connect(MakeHello("gw-a", 0), "ipv4:127.0.0.1:5000", 1);
  registry.Connect(MakeHello("gw-b", 0), "ipv4:127.0.0.1:5001", 2);
  auto first = registry.TakeChanges();
  ASSERT_EQ(first.changed.size(), 2u);
  EXPECT_EQ(first.changed[0].replica(), "cp-a");
  EXPECT_TRUE(first.forgotten.empty());
  EXPECT_TRUE(registry.TakeChanges().changed.empty());

  ASSERT_TRUE(registry.Ack("gw-b", 2, 7));
  EXPECT_FALSE(registry.Ack("gw-b", 99, 8));  // a stale stream changes nothing
  auto second = registry.TakeChanges();
  ASSERT_EQ(second.changed.size(), 1u);
  EXPECT_EQ(second.changed[0].node_id(), "gw-b");
  EXPECT_EQ(second.changed[0].acked_version(), 7u);

  registry.Disconnect("gw-a", 1);
  ASSERT_EQ(registry.Prune(0), std::vector<std::string>{"gw-a"});
  auto third = registry.TakeChanges();
  EXPECT_TRUE(third.changed.empty());
  EXPECT_EQ(third.forgotten, std::vector<std::string>{"gw-a"});
  registry.Unsync(third);  // the store could not be written
  registry.Unsync(second);
  auto again = registry.TakeChanges();
  EXPECT_EQ(again.forgotten, std::vector<std::string>{"gw-a"});
  ASSERT_EQ(again.changed.size(), 1u);
  EXPECT_EQ(again.changed[0].node_id(), "gw-b");
}

TEST(GatewayRegistryTest, NackKeepsTheAckedVersionAndALaterAckClearsTheError) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw", 0), "peer", 7);
  ASSERT_TRUE(registry.Ack("gw", 7, 3));
  ASSERT_TRUE(registry.Nack("gw", 7, 4, "route /x: bad target"));
  auto status = registry.Get("gw");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->acked_version(), 3u);
  EXPECT_EQ(status->nacked_version(), 4u);
  EXPECT_EQ(status->error(), "route /x: bad target");

  ASSERT_TRUE(registry.Ack("gw", 7, 5));
  status = registry.Get("gw");
  EXPECT_EQ(status->acked_version(), 5u);
  EXPECT_EQ(status->error(), "");
  EXPECT_EQ(status->nacked_version(), 4u);  // history of the NACK stays
}

TEST(GatewayRegistryTest, UpdatesFromAReplacedStreamAreIgnored) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw", 0), "old-peer", 1);
  ASSERT_TRUE(registry.Ack("gw", 1, 2));
  registry.Connect(MakeHello("gw", 2), "new-peer", 2);  // reconnected, running 2
  EXPECT_FALSE(registry.Ack("gw", 1, 9));
  EXPECT_FALSE(registry.Nack("gw", 1, 9, "stale"));
  registry.Disconnect("gw", 1);  // the old stream ends after the new one started
  auto status = registry.Get("gw");
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->connected());
  EXPECT_EQ(status->peer(), "new-peer");
  EXPECT_EQ(status->acked_version(), 2u);  // what the new stream said it runs
  EXPECT_EQ(status->error(), "");
  EXPECT_FALSE(registry.Ack("nobody", 1, 1));
}

TEST(GatewayRegistryTest, HelloRecordsTheRunningVersionAndKeepsANewerNack) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw", 0), "peer", 1);
  ASSERT_TRUE(registry.Ack("gw", 1, 5));
  ASSERT_TRUE(registry.Nack("gw", 1, 7, "too many routes"));
  registry.Disconnect("gw", 1);
  registry.Connect(MakeHello("gw", 5), "peer", 2);  // back with its cache of version 5
  auto status = registry.Get("gw");
  EXPECT_EQ(status->acked_version(), 5u);
  EXPECT_EQ(status->error(), "too many routes");    // 7 is still refused
  registry.Connect(MakeHello("gw", 8), "peer", 3);  // later runs 8: the NACK is history
  status = registry.Get("gw");
  EXPECT_EQ(status->acked_version(), 8u);
  EXPECT_EQ(status->error(), "");
}

TEST(GatewayRegistryTest, DisconnectedGatewaysStayListed) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw", 0), "peer", 1);
  registry.Disconnect("gw", 1);
  auto list = registry.List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].connected());
  EXPECT_EQ(registry.Count().connected, 0u);
  EXPECT_EQ(registry.Count().total, 1u);
}

TEST(GatewayRegistryTest, SaysSinceWhenADisconnectedGatewayIsGone) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw", 0), "peer", 1);
  EXPECT_EQ(registry.Get("gw")->disconnected_unix_ms(), 0);
  registry.Disconnect("gw", 1);
  const int64_t gone = registry.Get("gw")->disconnected_unix_ms();
  EXPECT_GT(gone, 0);
  registry.Disconnect("gw", 1);  // twice (stream end after a refusal): still the first time
  EXPECT_EQ(registry.Get("gw")->disconnected_unix_ms(), gone);
  registry.Connect(MakeHello("gw", 0), "peer", 2);
  EXPECT_EQ(registry.Get("gw")->disconnected_unix_ms(), 0);
}

TEST(GatewayRegistryTest, PruneForgetsOnlyGatewaysGoneLongEnough) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("up", 0), "peer", 1);
  registry.Connect(MakeHello("gone", 0), "peer", 2);
  registry.Disconnect("gone", 2);
  EXPECT_TRUE(registry.Prune(3'600'000).empty());
  EXPECT_TRUE(registry.Prune(UINT64_MAX).empty());  // longer than the epoch: none
  EXPECT_TRUE(registry.Prune(uint64_t{1} << 63).empty());
  EXPECT_EQ(registry.Count().total, 2u);
  EXPECT_EQ(registry.Prune(0), std::vector<std::string>{"gone"});
  EXPECT_FALSE(registry.Get("gone"));
  ASSERT_TRUE(registry.Get("up"));  // connected ones are never pruned
  EXPECT_TRUE(registry.Prune(0).empty());
}

TEST(GatewayRegistryTest, AConflictIsShownWithTheHolderAndLoggedOncePerClaimant) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw", 0), "ipv4:127.0.0.1:5000", 1);
  EXPECT_TRUE(registry.Conflict("gw", "ipv4:127.0.0.1:6000 (address 127.0.0.1:8081)"));
  EXPECT_FALSE(registry.Conflict("gw", "ipv4:127.0.0.1:6000 (address 127.0.0.1:8081)"));
  EXPECT_TRUE(registry.Conflict("gw", "ipv4:127.0.0.1:7000 (address 127.0.0.1:8082)"));
  auto status = registry.Get("gw");
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->connected());
  EXPECT_EQ(status->peer(), "ipv4:127.0.0.1:5000");  // the holder keeps its row
  EXPECT_EQ(status->conflict(), "ipv4:127.0.0.1:7000 (address 127.0.0.1:8082)");
  EXPECT_GT(status->conflict_unix_ms(), 0);
  EXPECT_EQ(registry.List()[0].conflict(), status->conflict());
}

TEST(GatewayRegistryTest, StreamAndCacheErrorsAreKeptUntilTheyClear) {
  GatewayRegistry registry;
  registry.Connect(MakeHello("gw", 0, "RESOURCE_EXHAUSTED: received message larger than max"),
                   "peer", 1);
  EXPECT_EQ(registry.Get("gw")->stream_error(),
            "RESOURCE_EXHAUSTED: received message larger than max");
  ASSERT_TRUE(registry.Ack("gw", 1, 3, "cannot write /var/cache/gateway/config.pb: read-only"));
  auto status = registry.Get("gw");
  EXPECT_EQ(status->stream_error(), "");  // the stream works again
  EXPECT_EQ(status->cache_error(), "cannot write /var/cache/gateway/config.pb: read-only");
  ASSERT_TRUE(registry.Ack("gw", 1, 4));
  EXPECT_EQ(registry.Get("gw")->cache_error(), "");
  registry.Connect(MakeHello("gw", 4, "UNAVAILABLE: Socket closed"), "peer", 2);
  registry.Healthy("gw", 2);
  EXPECT_EQ(registry.Get("gw")->stream_error(), "");
}

TEST(GatewayRegistryTest, ForgetsTheLongestDisconnectedPastTheLimit) {
  GatewayRegistry registry(2);
  registry.Connect(MakeHello("a", 0), "peer", 1);
  registry.Connect(MakeHello("b", 0), "peer", 2);
  registry.Disconnect("a", 1);
  registry.Connect(MakeHello("c", 0), "peer", 3);
  EXPECT_FALSE(registry.Get("a"));
  EXPECT_TRUE(registry.Get("b"));
  EXPECT_TRUE(registry.Get("c"));
}

}  // namespace
}  // namespace gw
