#include "common/byte_size.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace gw {
namespace {

TEST(ParseByteSize, BytesAndBinaryUnits) {
  EXPECT_EQ(ParseByteSize("1048576"), 1048576u);
  EXPECT_EQ(ParseByteSize("0"), 0u);
  EXPECT_EQ(ParseByteSize("512k"), 512u * 1024);
  EXPECT_EQ(ParseByteSize("10m"), 10u * 1024 * 1024);
  EXPECT_EQ(ParseByteSize("1g"), uint64_t{1} << 30);
  EXPECT_EQ(ParseByteSize("0k"), 0u);
  EXPECT_EQ(ParseByteSize("007"), 7u);
}

TEST(ParseByteSize, SuffixInEitherCase) {
  EXPECT_EQ(ParseByteSize("512K"), 512u * 1024);
  EXPECT_EQ(ParseByteSize("10M"), 10u * 1024 * 1024);
  EXPECT_EQ(ParseByteSize("2G"), uint64_t{2} << 30);
}

TEST(ParseByteSize, UpToTheLargestUnsigned64BitValue) {
  EXPECT_EQ(ParseByteSize("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseByteSize("17179869183g"), uint64_t{17179869183} << 30);  // (2^64-1) >> 30
  EXPECT_EQ(ParseByteSize("1000000000000m"), uint64_t{1000000000000} << 20);
}

TEST(ParseByteSize, RefusesAnythingElseWithAReason) {
  for (const char* bad : {"", "10x", "-1", "+1", "k", "1.5m", " 1k", "1k ", "1 k", "10kb", "10mb",
                          "1kk", "0x10", "1t", "1e6"}) {
    std::string error;
    EXPECT_FALSE(ParseByteSize(bad, &error)) << bad;
    EXPECT_NE(error.find("size"), std::string::npos) << bad << ": " << error;
  }
  std::string error;
  EXPECT_FALSE(ParseByteSize("10x", &error));
  EXPECT_EQ(error,
            "'10x' is not a size (write bytes, or a whole number with k, m or g: 1048576, 512k, "
            "10m, 1g)");
  EXPECT_FALSE(ParseByteSize("", &error));
  EXPECT_EQ(error.rfind("the size is empty", 0), 0u) << error;
}

TEST(ParseByteSize, RefusesOverflow) {
  for (const char* big : {"18446744073709551616", "99999999999999999999999", "17179869184g",
                          "17592186044416m", "18014398509481984k"}) {
    std::string error;
    EXPECT_FALSE(ParseByteSize(big, &error)) << big;
    EXPECT_NE(error.find("larger than 2^64-1 bytes"), std::string::npos) << big << ": " << error;
  }
}

TEST(FormatByteSize, ShortestExactSpellingThatParsesBack) {
  EXPECT_EQ(FormatByteSize(0), "0");
  EXPECT_EQ(FormatByteSize(1000), "1000");
  EXPECT_EQ(FormatByteSize(1536), "1536");
  EXPECT_EQ(FormatByteSize(2048), "2k");
  EXPECT_EQ(FormatByteSize(10u * 1024 * 1024), "10m");
  EXPECT_EQ(FormatByteSize(uint64_t{1} << 40), "1024g");
  for (uint64_t bytes :
       {uint64_t{0}, uint64_t{1}, uint64_t{1536}, uint64_t{3} << 20, uint64_t{5} << 30, UINT64_MAX})
    EXPECT_EQ(ParseByteSize(FormatByteSize(bytes)), bytes) << bytes;
}

}  // namespace
}  // namespace gw
