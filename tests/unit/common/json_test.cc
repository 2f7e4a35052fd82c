#include "common/json.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

TEST(JsonQuote, EscapesControlAndQuotes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(JsonQuote(""), R"("")");
}

TEST(IsStrictJson, AcceptsRfc8259) {
  for (const char* text :
       {R"({})", R"([])", R"( {"a": [1, -2.5e+3, 0, 0.5, true, false, null, "x\u00e9\n"]} )",
        R"("s")", "1", R"({"a":{"b":{"c":[]}}})", "\t{\r\n}\n", R"({"\"\\\/\b\f\n\r\t":1})"}) {
    EXPECT_TRUE(IsStrictJson(text)) << text;
  }
}

TEST(IsStrictJson, RefusesWhatLenientParsersTake) {
  for (const char* text : {"",
                           " ",
                           R"({'a':1})",
                           R"({a:1})",
                           R"({"a":1,})",
                           R"([1,])",
                           R"({"a":NaN})",
                           "01",
                           "+1",
                           "1.",
                           ".5",
                           "1e",
                           R"({"a":1} x)",
                           R"({"a" 1})",
                           R"(["\x"])",
                           R"(["\u12"])",
                           "[\"a\x01\"]",
                           "\xef\xbb\xbf{}",
                           R"({"a":1}/*c*/)",
                           R"({"a":1 "b":2})",
                           "tru",
                           R"(["unterminated)",
                           "[1 2]"}) {
    EXPECT_FALSE(IsStrictJson(text)) << text;
  }
}

TEST(IsStrictJson, BoundsTheDepth) {
  EXPECT_TRUE(IsStrictJson("[[[]]]", 3));
  EXPECT_FALSE(IsStrictJson("[[[[]]]]", 3));
  EXPECT_FALSE(IsStrictJson(std::string(100000, '[')));  // no stack overflow
}

TEST(JsonWriter, NestsObjectsAndArrays) {
  JsonWriter json;
  json.BeginArray();
  json.BeginObject().Key("path").String("/api").Key("version").Unsigned(7);
  json.Key("connected").Bool(true).Key("n").Number(-1).Key("x").Null().EndObject();
  json.BeginObject().Key("list").BeginArray().String("a").String("b").EndArray().EndObject();
  json.EndArray();
  EXPECT_EQ(json.str(),
            R"([{"path":"/api","version":7,"connected":true,"n":-1,"x":null},{"list":["a","b"]}])");
}

}  // namespace
}  // namespace gw
