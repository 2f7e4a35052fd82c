#include "common/json.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

TEST(JsonQuote, EscapesControlAndQuotes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(JsonQuote(""), R"("")");
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
