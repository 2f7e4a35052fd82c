#include "common/route_identity.h"

#include <gtest/gtest.h>

#include <set>

#include "common/validation.h"

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::Route;

Route HeaderRoute(std::initializer_list<std::pair<const char*, const char*>> headers) {
  Route route;
  route.set_path("/hc");
  route.set_match(gateway::v1::MATCH_PREFIX);
  route.set_target("up-svc");
  for (const auto& [name, value] : headers) {
    auto* header = route.add_headers();
    header->set_name(name);
    header->set_value(value);
  }
  return route;
}

// The defect of issue 9: two routes whose descriptions read alike.
TEST(RouteIdentity, RoutesThatReadAlikeAreDifferent) {
  const Route two_headers = HeaderRoute({{"x", "1"}, {"y", "2"}});
  const Route one_header = HeaderRoute({{"x", "1, header y=2"}});
  EXPECT_NE(IdentityOf(two_headers), IdentityOf(one_header));
  EXPECT_NE(IdentityKey(IdentityOf(two_headers)), IdentityKey(IdentityOf(one_header)));

  Config config;
  config.set_version(2);
  *config.add_routes() = two_headers;
  *config.add_routes() = one_header;
  EXPECT_EQ(ValidateConfig(config), "");
}

TEST(RouteIdentity, CaseAndOrderOfConditionsDoNotMatter) {
  Route a = HeaderRoute({{"X-B", "1"}, {"x-a", "2"}});
  a.set_host("API.Example.com");
  a.add_methods("post");
  a.add_methods("GET");
  Route b = HeaderRoute({{"x-a", "2"}, {"x-b", "1"}});
  b.set_host("api.example.com");
  b.add_methods("GET");
  b.add_methods("POST");
  b.add_methods("get");
  EXPECT_EQ(IdentityOf(a), IdentityOf(b));
  EXPECT_EQ(IdentityKey(IdentityOf(a)), IdentityKey(IdentityOf(b)));

  // Two valid routes that differ only in the order of their conditions are one route.
  Config config;
  config.set_version(2);
  *config.add_routes() = HeaderRoute({{"x-b", "1"}, {"x-a", "2"}});
  *config.add_routes() = HeaderRoute({{"x-a", "2"}, {"X-B", "1"}});
  EXPECT_NE(ValidateConfig(config).find("defined twice"), std::string::npos)
      << ValidateConfig(config);
}

TEST(RouteIdentity, HeaderValuesStayCaseSensitiveAndMatchKindCounts) {
  EXPECT_NE(IdentityOf(HeaderRoute({{"x", "A"}})), IdentityOf(HeaderRoute({{"x", "a"}})));
  Route exact = HeaderRoute({});
  exact.set_match(gateway::v1::MATCH_EXACT);
  EXPECT_NE(IdentityOf(exact), IdentityOf(HeaderRoute({})));
}

TEST(RouteIdentity, KeyAndRouteAgree) {
  Route route = HeaderRoute({{"X-V", "2"}});
  route.set_host("A.example");
  route.add_methods("get");
  gateway::v1::RouteKey key;
  key.set_path(route.path());
  key.set_match(route.match());
  key.set_host(route.host());
  *key.mutable_methods() = route.methods();
  *key.mutable_headers() = route.headers();
  EXPECT_EQ(IdentityOf(key), IdentityOf(route));
}

// Parts that would run together in a plain concatenation stay apart in the key.
TEST(IdentityKey, IsInjectiveWhereConcatenationIsNot) {
  std::set<std::string> keys;
  const std::vector<Route> routes = {
      HeaderRoute({{"ab", "c"}}),           HeaderRoute({{"a", "bc"}}),
      HeaderRoute({{"a", "b"}, {"c", ""}}), HeaderRoute({{"a", "b:c"}}),
      HeaderRoute({{"a", "1:b"}}),          HeaderRoute({}),
  };
  for (const Route& route : routes) keys.insert(IdentityKey(IdentityOf(route)));
  EXPECT_EQ(keys.size(), routes.size());

  Route host_path;
  host_path.set_path("/a");
  host_path.set_host("b");
  Route path_host;
  path_host.set_path("/ab");
  EXPECT_NE(IdentityKey(IdentityOf(host_path)), IdentityKey(IdentityOf(path_host)));
}

TEST(JoinForMessage, NamesAFewAndCountsTheRest) {
  EXPECT_EQ(JoinForMessage({}, ", "), "");
  EXPECT_EQ(JoinForMessage({"a", "b"}, ", "), "a, b");
  std::vector<std::string> many;
  for (int i = 0; i < 2602; ++i) many.push_back("/r" + std::to_string(i));
  EXPECT_EQ(JoinForMessage(many, ", "), "/r0, /r1, /r2, /r3, /r4 ... and 2,597 more");
  EXPECT_EQ(JoinForMessage(many, "; ", 1), "/r0 ... and 2,601 more");
  const std::string long_path = "/" + std::string(1023, 'p');
  EXPECT_EQ(JoinForMessage({long_path, "/b"}, ", "),
            long_path.substr(0, kMaxItemSize - 3) + "..., /b");
}

TEST(FormatCount, GroupsThousands) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1000), "1,000");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
}

}  // namespace
}  // namespace gw
