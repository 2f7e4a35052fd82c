#include "gateway/http/request_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace gw {
namespace {

TEST(FormatRequestId, WritesThirtyTwoZeroPaddedHexDigits) {
  std::string out = "previous content";
  FormatRequestId(0x1, 0xabcdef0123456789ULL, out);
  EXPECT_EQ(out, "0000000000000001abcdef0123456789");
  FormatRequestId(~0ULL, 0, out);
  EXPECT_EQ(out, "ffffffffffffffff0000000000000000");
}

TEST(RequestIdGenerator, GivesDistinctIds) {
  RequestIdGenerator ids(7);
  std::set<std::string> seen;
  std::string id;
  for (int i = 0; i < 1000; ++i) {
    ids.Next(id);
    ASSERT_EQ(id.size(), 32u);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RequestIdGenerator, DifferentSeedsGiveDifferentSequences) {
  RequestIdGenerator a(1), b(2);
  std::string x, y;
  a.Next(x);
  b.Next(y);
  EXPECT_NE(x, y);
}

TEST(IsAcceptableRequestId, AcceptsVisibleAsciiUpTo128) {
  EXPECT_TRUE(IsAcceptableRequestId("a"));
  EXPECT_TRUE(IsAcceptableRequestId("0f8e-4c2a:trace=1"));
  EXPECT_TRUE(IsAcceptableRequestId(std::string(128, 'x')));
  EXPECT_FALSE(IsAcceptableRequestId(""));
  EXPECT_FALSE(IsAcceptableRequestId(std::string(129, 'x')));
  EXPECT_FALSE(IsAcceptableRequestId("a b"));
  EXPECT_FALSE(IsAcceptableRequestId("a\x7f"));
  EXPECT_FALSE(IsAcceptableRequestId("caf\xc3\xa9"));
}

}  // namespace
}  // namespace gw
