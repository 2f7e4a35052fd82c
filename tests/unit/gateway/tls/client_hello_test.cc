#include "gateway/tls/client_hello.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace gw {
namespace {

std::string Uint16(size_t value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value & 0xff)};
}

// A server_name extension body with one entry of `type`.
std::string Extension(const std::string& name, uint8_t type = 0) {
  const std::string entry = std::string(1, static_cast<char>(type)) + Uint16(name.size()) + name;
  return Uint16(entry.size()) + entry;
}

TEST(ParseSniExtension, ReadsTheHostNameLowerCased) {
  EXPECT_EQ(ParseSniExtension(Extension("example.com")), "example.com");
  EXPECT_EQ(ParseSniExtension(Extension("API.Example.COM")), "api.example.com");
  EXPECT_EQ(ParseSniExtension(Extension("localhost")), "localhost");
  EXPECT_EQ(ParseSniExtension(Extension("xn--bcher-kva.example")), "xn--bcher-kva.example");
  EXPECT_EQ(ParseSniExtension(Extension("a-b.c0.example")), "a-b.c0.example");
}

TEST(ParseSniExtension, RefusesBrokenLengths) {
  const std::string good = Extension("example.com");
  EXPECT_EQ(ParseSniExtension(""), std::nullopt);
  EXPECT_EQ(ParseSniExtension(std::string("\0", 1)), std::nullopt);
  EXPECT_EQ(ParseSniExtension(good.substr(0, good.size() - 1)), std::nullopt);  // cut short
  EXPECT_EQ(ParseSniExtension(good + "x"), std::nullopt);  // a byte after the list
  // The list length says one byte more or less than is there.
  EXPECT_EQ(ParseSniExtension(Uint16(good.size() - 1) + good.substr(2)), std::nullopt);
  EXPECT_EQ(ParseSniExtension(Uint16(good.size() - 3) + good.substr(2)), std::nullopt);
  // The name length disagrees with the list.
  std::string longer_name = good;
  longer_name[4] = static_cast<char>(longer_name[4] + 1);
  EXPECT_EQ(ParseSniExtension(longer_name), std::nullopt);
  EXPECT_EQ(ParseSniExtension(Extension("")), std::nullopt);
  EXPECT_EQ(ParseSniExtension(Uint16(0)), std::nullopt);  // an empty list
}

TEST(ParseSniExtension, TakesOnlyOneHostNameEntry) {
  EXPECT_EQ(ParseSniExtension(Extension("example.com", 1)), std::nullopt);
  const std::string one = std::string(1, '\0') + Uint16(11) + "example.com";
  const std::string two = one + std::string(1, '\0') + Uint16(9) + "other.com";
  EXPECT_EQ(ParseSniExtension(Uint16(two.size()) + two), std::nullopt);
  EXPECT_EQ(ParseSniExtension(Uint16(one.size()) + one), "example.com");
}

TEST(ParseSniExtension, RefusesWhatIsNoDnsName) {
  for (const std::string& name :
       {std::string("exa\0mple.com", 12), std::string("example.com\0", 12), std::string("\0", 1),
        std::string("example.com."), std::string(".example.com"), std::string("a..b"),
        std::string("-a.example"), std::string("a-.example"), std::string("under_score.example"),
        std::string("*.example.com"), std::string("sp ace.example"), std::string("192.168.0.1"),
        std::string("1.2.3.4"), std::string("[::1]"), std::string("::1"),
        std::string("example.123"), std::string("ex\xc3\xa4mple.com"),
        std::string("example.com:443")}) {
    EXPECT_EQ(ParseSniExtension(Extension(name)), std::nullopt) << name;
  }
}

TEST(ParseSniExtension, BoundsLabelsAndNames) {
  const std::string label63(63, 'a');
  EXPECT_EQ(ParseSniExtension(Extension(label63 + ".example")), label63 + ".example");
  EXPECT_EQ(ParseSniExtension(Extension(label63 + "a.example")), std::nullopt);
  // Three labels of 63, one of 61 and three dots: 253 bytes, the most a name may have.
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_EQ(ParseSniExtension(Extension(name253)), name253);
  EXPECT_EQ(ParseSniExtension(Extension(name253 + "b")), std::nullopt);
}

}  // namespace
}  // namespace gw
