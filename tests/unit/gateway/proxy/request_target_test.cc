#include "gateway/proxy/request_target.h"

#include <gtest/gtest.h>

#include "common/path.h"

namespace gw {
namespace {

TEST(SplitRequestTarget, SplitsPathAndQuery) {
  auto parts = SplitRequestTarget("/api/order?id=7&x=%2F");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->path, "/api/order");
  EXPECT_EQ(parts->query, "id=7&x=%2F");
  EXPECT_TRUE(parts->has_query);

  parts = SplitRequestTarget("/plain");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->path, "/plain");
  EXPECT_FALSE(parts->has_query);

  parts = SplitRequestTarget("/empty?");
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->has_query);
  EXPECT_EQ(parts->query, "");
}

TEST(SplitRequestTarget, RefusesFormsOtherThanOriginForm) {
  EXPECT_FALSE(SplitRequestTarget("http://example.com/api"));
  EXPECT_FALSE(SplitRequestTarget("example.com:443"));
  EXPECT_FALSE(SplitRequestTarget("*"));
  EXPECT_FALSE(SplitRequestTarget(""));
}

TEST(BuildUpstreamTarget, ForwardsTheNormalizedPathWithTheOriginalQuery) {
  const auto parts = SplitRequestTarget("/api//order/./../pay?a=1&b=../x");
  ASSERT_TRUE(parts);
  const auto path = NormalizePath(parts->path);
  ASSERT_TRUE(path);
  std::string out = "stale";
  BuildUpstreamTarget(out, *path, *parts);
  EXPECT_EQ(out, "/api/pay?a=1&b=../x");

  const auto bare = SplitRequestTarget("/x?");
  BuildUpstreamTarget(out, "/x", *bare);
  EXPECT_EQ(out, "/x?");
  const auto none = SplitRequestTarget("/x");
  BuildUpstreamTarget(out, "/x", *none);
  EXPECT_EQ(out, "/x");
}

}  // namespace
}  // namespace gw
