#include "common/path.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

std::string Normalized(std::string_view in) {
  std::string error;
  auto out = NormalizePath(in, &error);
  return out ? *out : "ERROR: " + error;
}

TEST(NormalizePath, KeepsCanonicalPaths) {
  EXPECT_EQ(Normalized("/"), "/");
  EXPECT_EQ(Normalized("/api/order/7"), "/api/order/7");
  EXPECT_EQ(Normalized("/api/order/"), "/api/order/");
  EXPECT_EQ(Normalized("/a:b@c!$&'()*+,;="), "/a:b@c!$&'()*+,;=");
}

TEST(NormalizePath, MergesSlashes) {
  EXPECT_EQ(Normalized("//api///order"), "/api/order");
  EXPECT_EQ(Normalized("/api//"), "/api/");
}

TEST(NormalizePath, RemovesDotSegments) {
  EXPECT_EQ(Normalized("/api/./order"), "/api/order");
  EXPECT_EQ(Normalized("/api/admin/../order"), "/api/order");
  EXPECT_EQ(Normalized("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Normalized("/a/b/.."), "/a/");
  EXPECT_EQ(Normalized("/a/.."), "/");
  EXPECT_EQ(Normalized("/a/..."), "/a/...");  // not a dot segment
}

TEST(NormalizePath, DecodesOnlyUnreservedEscapes) {
  EXPECT_EQ(Normalized("/%61pi/%7Euser"), "/api/~user");
  EXPECT_EQ(Normalized("/api/%2e%2e/secret"), "/secret");  // encoded dots are dots
  EXPECT_EQ(Normalized("/api%2forder"), "/api%2Forder");   // never a separator
  EXPECT_EQ(Normalized("/api%5corder"), "/api%5Corder");   // encoded backslash stays encoded
  EXPECT_EQ(Normalized("/a%20b"), "/a%20b");
}

TEST(NormalizePath, RefusesMalformedPaths) {
  EXPECT_FALSE(NormalizePath(""));
  EXPECT_FALSE(NormalizePath("api"));
  EXPECT_FALSE(NormalizePath("*"));
  EXPECT_FALSE(NormalizePath("/a%"));
  EXPECT_FALSE(NormalizePath("/a%4"));
  EXPECT_FALSE(NormalizePath("/a%zz"));
  EXPECT_FALSE(NormalizePath("/a\\b"));
  EXPECT_FALSE(NormalizePath("/a b"));
  EXPECT_FALSE(NormalizePath(std::string_view("/a\0b", 4)));
  EXPECT_FALSE(NormalizePath("/a\x7f"));
  EXPECT_FALSE(NormalizePath("/a\xc3\xa9"));
}

TEST(PrefixCovers, MatchesOnSegmentBoundaries) {
  EXPECT_TRUE(PrefixCovers("/api/order", "/api/order"));
  EXPECT_TRUE(PrefixCovers("/api/order", "/api/order/7"));
  EXPECT_TRUE(PrefixCovers("/api/order", "/api/order/"));
  EXPECT_FALSE(PrefixCovers("/api/order", "/api/orders"));
  EXPECT_FALSE(PrefixCovers("/api/order", "/api"));
  EXPECT_TRUE(PrefixCovers("/", "/anything"));
}

}  // namespace
}  // namespace gw
