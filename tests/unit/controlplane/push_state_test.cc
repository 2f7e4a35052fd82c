// PushState: what one gateway stream is sent, and when.
#include "controlplane/push_state.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

TEST(PushStateTest, PushesCurrentVersionWhenTheGatewayRunsAnother) {
  PushState state;
  state.SetRunningVersion(3);
  EXPECT_EQ(state.Offer(5), 5u);
  EXPECT_TRUE(state.write_in_flight());
}

TEST(PushStateTest, PushesNothingWhenTheGatewayRunsTheCurrentVersion) {
  PushState state;
  state.SetRunningVersion(5);
  EXPECT_EQ(state.Offer(5), std::nullopt);
  EXPECT_FALSE(state.write_in_flight());
  EXPECT_EQ(state.newest(), 5u);
  // The next published version is pushed.
  EXPECT_EQ(state.Offer(6), 6u);
}

TEST(PushStateTest, NewGatewayGetsEvenTheEmptyVersionZero) {
  PushState fresh;  // runs nothing yet: the empty config lets it report ready
  fresh.SetRunningVersion(0);
  EXPECT_EQ(fresh.Offer(0), 0u);

  PushState ahead;  // a cache from another database: replaced with ours
  ahead.SetRunningVersion(9);
  EXPECT_EQ(ahead.Offer(4), 4u);
}

TEST(PushStateTest, CoalescesVersionsPublishedWhileAWriteIsInFlight) {
  PushState state;
  state.SetRunningVersion(0);
  ASSERT_EQ(state.Offer(1), 1u);  // write of v1 in flight
  EXPECT_EQ(state.Offer(2), std::nullopt);
  EXPECT_EQ(state.Offer(3), std::nullopt);
  EXPECT_EQ(state.Offer(4), std::nullopt);
  EXPECT_EQ(state.WriteDone(), 4u);  // only the newest, no backlog
  EXPECT_TRUE(state.write_in_flight());
  EXPECT_EQ(state.WriteDone(), std::nullopt);
  EXPECT_FALSE(state.write_in_flight());
}

TEST(PushStateTest, RepeatedOrOlderVersionsAreNoOps) {
  PushState state;
  state.SetRunningVersion(0);
  ASSERT_EQ(state.Offer(2), 2u);
  EXPECT_EQ(state.WriteDone(), std::nullopt);
  EXPECT_EQ(state.Offer(2), std::nullopt);
  EXPECT_EQ(state.Offer(1), std::nullopt);
  EXPECT_FALSE(state.write_in_flight());
  EXPECT_EQ(state.Offer(3), 3u);
}

TEST(PushStateTest, AnswersCountOnlyForNoncesThisStreamSent) {
  PushState state;
  state.Sent("n1", 1);
  state.Sent("n2", 2);
  EXPECT_EQ(state.Answer("forged"), std::nullopt);
  EXPECT_EQ(state.Answer("n2"), 2u);
  EXPECT_EQ(state.Answer("n1"), std::nullopt);  // older than an answered push: forgotten
  EXPECT_EQ(state.Answer("n2"), std::nullopt);  // answered once
}

TEST(PushStateTest, RemembersABoundedNumberOfUnansweredPushes) {
  PushState state;
  for (uint64_t v = 1; v <= PushState::kMaxUnanswered + 1; ++v)
    state.Sent("n" + std::to_string(v), v);
  EXPECT_EQ(state.Answer("n1"), std::nullopt);  // dropped
  EXPECT_EQ(state.Answer("n2"), 2u);
}

}  // namespace
}  // namespace gw
