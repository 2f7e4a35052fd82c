#include "gateway/policy/verified_tokens.h"

#include <gtest/gtest.h>

#include <string>

namespace gw {
namespace {

TEST(VerifiedTokens, RemembersATokenUntilItsExpiry) {
  VerifiedTokens cache;
  EXPECT_EQ(cache.Find(7, "tok", 100), nullptr);
  cache.Remember(7, "tok", "alice", 200);
  const std::string* consumer = cache.Find(7, "tok", 100);
  ASSERT_NE(consumer, nullptr);
  EXPECT_EQ(*consumer, "alice");
  EXPECT_NE(cache.Find(7, "tok", 199), nullptr);
  EXPECT_EQ(cache.Find(7, "tok", 200), nullptr);  // at exp: a fresh check would refuse it
  EXPECT_EQ(cache.Find(7, "other", 100), nullptr);
}

TEST(VerifiedTokens, ANewConfigVersionForgetsEverything) {
  VerifiedTokens cache;
  cache.Remember(7, "tok", "alice", 200);
  EXPECT_EQ(cache.Find(8, "tok", 100), nullptr);  // the consumer may be gone
  cache.Remember(8, "tok2", "bob", 200);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find(7, "tok", 100), nullptr);
  ASSERT_NE(cache.Find(8, "tok2", 100), nullptr);
}

TEST(VerifiedTokens, StaysWithinItsCapacity) {
  VerifiedTokens cache(3);
  for (int i = 0; i < 10; ++i) {
    cache.Remember(1, "tok" + std::to_string(i), "c", 100);
    EXPECT_LE(cache.size(), 3u);
  }
  ASSERT_NE(cache.Find(1, "tok9", 50), nullptr);  // the newest is always kept
}

}  // namespace
}  // namespace gw
