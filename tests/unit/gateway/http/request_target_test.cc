#include "gateway/http/request_target.h"

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

TEST(SplitRequestTarget, AcceptsAbsoluteForm) {
  auto parts = SplitRequestTarget("http://api.example.com:8080/api/order?id=7");
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->absolute_form);
  EXPECT_EQ(parts->authority, "api.example.com:8080");
  EXPECT_EQ(parts->path, "/api/order");
  EXPECT_EQ(parts->query, "id=7");
  EXPECT_TRUE(parts->has_query);

  parts = SplitRequestTarget("HTTPS://[::1]/x");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->authority, "[::1]");
  EXPECT_EQ(parts->path, "/x");
  EXPECT_FALSE(parts->has_query);

  // An empty path is "/" (RFC 9110 section 4.2.3), with or without a query.
  parts = SplitRequestTarget("Http://example.com");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->authority, "example.com");
  EXPECT_EQ(parts->path, "/");
  parts = SplitRequestTarget("http://example.com?q=1");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->path, "/");
  EXPECT_EQ(parts->query, "q=1");

  parts = SplitRequestTarget("/origin");
  ASSERT_TRUE(parts);
  EXPECT_FALSE(parts->absolute_form);
  EXPECT_EQ(parts->authority, "");
}

TEST(SplitRequestTarget, RefusesOtherForms) {
  EXPECT_FALSE(SplitRequestTarget("example.com:443"));  // authority-form
  EXPECT_FALSE(SplitRequestTarget("*"));                // asterisk-form
  EXPECT_FALSE(SplitRequestTarget(""));
  EXPECT_FALSE(SplitRequestTarget("ftp://example.com/x"));
  EXPECT_FALSE(SplitRequestTarget("http:/example.com/x"));
  EXPECT_FALSE(SplitRequestTarget("httpx://example.com/x"));
  // Absolute-form with an authority that is not a valid Host.
  EXPECT_FALSE(SplitRequestTarget("http:///x"));
  EXPECT_FALSE(SplitRequestTarget("http://user:pw@example.com/x"));
  EXPECT_FALSE(SplitRequestTarget("http://exa mple.com/x"));
  EXPECT_FALSE(SplitRequestTarget("http://example.com#frag"));
  EXPECT_FALSE(SplitRequestTarget("http://example.com:80x/"));
}

TEST(IsValidHost, AcceptsUriHostWithAnOptionalPort) {
  for (const char* host :
       {"example.com", "example.com:8080", "api.example.com:443", "localhost", "127.0.0.1",
        "127.0.0.1:80", "[::1]", "[::1]:8080", "[2001:db8::7]", "[::ffff:192.0.2.1]:1",
        "[v1.fe80::a+en1]", "my-svc_1.internal", "%41pi.example", "a!$&'()*+,;=b",
        "example.com:", "[::1]:", "x:65535", "EXAMPLE.COM"}) {
    EXPECT_TRUE(IsValidHost(host)) << host;
  }
}

TEST(IsValidHost, RefusesEverythingElse) {
  for (const char* host : {"",
                           " ",
                           "exa mple.com",
                           "example.com/path",
                           "user@example.com",
                           "example.com?x",
                           "example.com#f",
                           ":80",
                           "example.com:80:80",
                           "example.com:http",
                           "example.com:65536",
                           "example.com:000080",
                           "[::1",
                           "::1",
                           "[::1]x",
                           "[::1]:8o",
                           "[fe80::1%25eth0]",
                           "[not-ipv6]",
                           "[]",
                           "[v.x]",
                           "%4",
                           "%zz.example",
                           "a\"b",
                           "a<b",
                           "exa\tmple",
                           "a\\b",
                           "a{b}",
                           "a|b",
                           "a^b",
                           "a`b"}) {
    EXPECT_FALSE(IsValidHost(host)) << host;
  }
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
