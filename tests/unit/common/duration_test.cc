#include "common/duration.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, Units) {
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(ParseDuration("2s"), milliseconds(2000));
  EXPECT_EQ(ParseDuration("1m"), milliseconds(60000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3600000));
}

TEST(ParseDuration, RefusesAnythingElse) {
  for (const char* bad :
       {"", "5", "5x", "s", "-1s", "1.5s", "0s", " 1s", "1s ", "1 s", "1S", "99999999999999h"}) {
    std::string error;
    EXPECT_FALSE(ParseDuration(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(FormatDuration, ShortestExactSpelling) {
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(2000)), "2s");
  EXPECT_EQ(FormatDuration(milliseconds(120000)), "2m");
  EXPECT_EQ(FormatDuration(milliseconds(7200000)), "2h");
}

}  // namespace
}  // namespace gw
