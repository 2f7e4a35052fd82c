#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace gw {
namespace {

TEST(Utf8, SequenceLengths) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9", 0), 2u);          // é
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82\xAC", 0), 3u);      // €
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);  // U+1F600
  EXPECT_EQ(Utf8SequenceLength("\xC3", 0), 0u);              // cut short
}

TEST(Utf8, RefusesWhatRfc3629Forbids) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("{\"name\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}"));
  EXPECT_FALSE(IsUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsUtf8("\xE0\x80\xAF"));      // overlong, 3 bytes
  EXPECT_FALSE(IsUtf8("\xED\xA0\x80"));      // a surrogate (U+D800)
  EXPECT_FALSE(IsUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsUtf8("\xFF"));
  EXPECT_FALSE(IsUtf8("ok\x80"));  // a lone continuation byte
  EXPECT_FALSE(IsUtf8(std::string("\xE2\x82", 2)));
}

}  // namespace
}  // namespace gw
