#include "gateway/http2/preface.h"

#include <gtest/gtest.h>

#include <string>

namespace gw::http2 {
namespace {

TEST(PrefaceTest, WholePrefaceIsHttp2WithOrWithoutFramesAfterIt) {
  EXPECT_EQ(IsHttp2Preface(kClientPreface), PrefaceMatch::kYes);
  EXPECT_EQ(IsHttp2Preface(std::string(kClientPreface) + std::string("\0\0\0\x04", 4)),
            PrefaceMatch::kYes);
}

TEST(PrefaceTest, EveryProperPrefixNeedsMore) {
  for (size_t n = 0; n < kClientPreface.size(); ++n) {
    EXPECT_EQ(IsHttp2Preface(kClientPreface.substr(0, n)), PrefaceMatch::kNeedMore) << n;
  }
}

TEST(PrefaceTest, HttpOneRequestsAreNotHttp2AtTheFirstDifferentByte) {
  EXPECT_EQ(IsHttp2Preface("GET / HTTP/1.1\r\n"), PrefaceMatch::kNo);
  EXPECT_EQ(IsHttp2Preface("POST"), PrefaceMatch::kNo);
  EXPECT_EQ(IsHttp2Preface("P"), PrefaceMatch::kNeedMore);
  // A method that begins like the preface is told apart as soon as it differs.
  EXPECT_EQ(IsHttp2Preface("PRI / HTTP/1.1\r\n"), PrefaceMatch::kNo);
  EXPECT_EQ(IsHttp2Preface("PRI * HTTP/2.0\r\n\r\nXM"), PrefaceMatch::kNo);
}

}  // namespace
}  // namespace gw::http2
