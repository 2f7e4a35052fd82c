// PushState: what one gateway stream is sent, and when.
#include "controlplane/push_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// A refused delta is written again (as a snapshot): at once, or after the write in flight;
// not when a newer version is on its way anyway.
TEST(PushStateTest, ResendsARefusedDeltaUnlessANewerVersionFollows) {
  PushState state;
  EXPECT_EQ(state.Offer(3), 3u);
  state.Sent(3);
  EXPECT_EQ(state.WriteDone(), std::nullopt);
  EXPECT_EQ(state.Resend(3), 3u);  // idle: now
  state.Sent(3);
  EXPECT_EQ(state.Resend(3), std::nullopt);  // in flight: after it
  EXPECT_EQ(state.WriteDone(), 3u);
  EXPECT_EQ(state.WriteDone(), std::nullopt);
  EXPECT_EQ(state.Offer(4), 4u);
  EXPECT_EQ(state.Resend(3), std::nullopt);  // version 4 replaces it
  EXPECT_EQ(state.WriteDone(), std::nullopt);
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

using Kind = PushState::Answer::Kind;

TEST(PushStateTest, AnswersCountOnlyForNoncesThisStreamSent) {
  PushState state("stream-7");
  const std::string n1 = state.Sent(1);
  const std::string n2 = state.Sent(2);
  EXPECT_NE(n1, n2);
  EXPECT_EQ(state.Answered(n2).kind, Kind::kCurrent);
  EXPECT_EQ(state.Answered(n1).kind, Kind::kOlder);  // older than an answered push
  EXPECT_EQ(state.Answered(n2).kind, Kind::kOlder);  // answered once
}

TEST(PushStateTest, AnswersCarryTheVersionOfTheirPush) {
  PushState state("s");
  const std::string n1 = state.Sent(5);
  const std::string n2 = state.Sent(9);
  const auto first = state.Answered(n1);
  EXPECT_EQ(first.kind, Kind::kCurrent);
  EXPECT_EQ(first.version, 5u);
  EXPECT_EQ(state.Answered(n2).version, 9u);
}

TEST(PushStateTest, NoncesThisStreamNeverSentAreForeign) {
  PushState state("stream-7");
  state.Sent(1);
  for (const char* forged :
       {"", "forged", "stream-7", "stream-7-", "stream-7-2", "stream-7-0", "stream-7-x",
        "stream-7-1x", "stream-8-1", "stream-71-1", "stream-7-99999999999999999999999"})
    EXPECT_EQ(state.Answered(forged).kind, Kind::kForeign) << forged;
}

// Under a burst of writes the window forgets the oldest pushes; their answers, which still
// come, are normal (the bug: thousands of "did not send" warnings), not foreign.
TEST(PushStateTest, AnswersToPushesTheWindowForgotAreOlderNotForeign) {
  PushState state("s");
  std::vector<std::string> nonces;
  for (uint64_t v = 1; v <= PushState::kMaxUnanswered + 10; ++v) nonces.push_back(state.Sent(v));
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(state.Answered(nonces[i]).kind, Kind::kOlder) << i;
  const auto kept = state.Answered(nonces[10]);
  EXPECT_EQ(kept.kind, Kind::kCurrent);
  EXPECT_EQ(kept.version, 11u);
  EXPECT_EQ(state.Answered(nonces.back()).version, PushState::kMaxUnanswered + 10);
}

}  // namespace
}  // namespace gw
