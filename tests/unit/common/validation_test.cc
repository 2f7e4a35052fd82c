#include "common/validation.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::Route;
using gateway::v1::Service;

TEST(Quote, OneShortLineWhateverTheValue) {
  EXPECT_EQ(Quote("pay-svc"), "'pay-svc'");
  EXPECT_EQ(Quote("a\r\nb\tc"), "'a??b?c'");
  const std::string long_value(5000, 'x');
  EXPECT_EQ(Quote(long_value), "'" + std::string(kMaxQuotedSize, 'x') + "...'");
}

TEST(ParseHostPort, AcceptsNamesAndAddresses) {
  std::string error;
  auto hp = ParseHostPort("127.0.0.1:9101", &error);
  ASSERT_TRUE(hp) << error;
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 9101);
  hp = ParseHostPort("[::1]:65535", &error);
  ASSERT_TRUE(hp) << error;
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 65535);
  hp = ParseHostPort("payment-svc.default.svc.cluster.local:8080", &error);
  ASSERT_TRUE(hp) << error;
  EXPECT_EQ(hp->port, 8080);
}

TEST(ParseHostPort, RefusesBadInput) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "host:0", "host:65536",
                          "host:99999999", "host:abc", "host:-1", "::1:80", "[::1]", "[::1",
                          "[nothex]:80", "bad_host:80", "-host:80", "host:80:90", "1.2.3.999:80"}) {
    std::string error;
    EXPECT_FALSE(ParseHostPort(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(ParseAddressList, OneOrSeveralReplicasInOrder) {
  std::string error;
  auto list = ParseAddressList("cp.internal:50051", &error);
  ASSERT_TRUE(list) << error;
  EXPECT_EQ(*list, std::vector<std::string>{"cp.internal:50051"});
  list = ParseAddressList("10.0.0.2:7000,[::1]:7000,cp-3.internal:7000", &error);
  ASSERT_TRUE(list) << error;
  EXPECT_EQ(*list, (std::vector<std::string>{"10.0.0.2:7000", "[::1]:7000", "cp-3.internal:7000"}));
  for (const char* bad : {"", ",", "a:1,", ",a:1", "a:1,,b:2", "a:1,b", "a:1 ,b:2"}) {
    EXPECT_FALSE(ParseAddressList(bad, &error)) << bad;
    EXPECT_NE(error, "") << bad;
  }
  EXPECT_FALSE(ParseAddressList("a:1,b:2,a:1", &error));
  EXPECT_EQ(error, "a:1 is listed twice");
  EXPECT_FALSE(ParseAddressList("a:1,b", &error));
  EXPECT_EQ(error.rfind("address 2 of the list: ", 0), 0u) << error;
}

TEST(ParseHostPort, DefaultPort) {
  auto hp = ParseHostPort("auth-svc", nullptr, 80);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "auth-svc");
  EXPECT_EQ(hp->port, 80);
  EXPECT_FALSE(ParseHostPort("auth-svc", nullptr));
}

TEST(ParseListenAddress, AllowsPortZero) {
  std::string error;
  auto address = ParseListenAddress("127.0.0.1:0", &error);
  ASSERT_TRUE(address) << error;
  EXPECT_EQ(address->port, 0);
  address = ParseListenAddress("[::]:0", &error);
  ASSERT_TRUE(address) << error;
  EXPECT_EQ(address->host, "::");
  address = ParseListenAddress("0.0.0.0:8080", &error);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->port, 8080);
  EXPECT_FALSE(ParseListenAddress("127.0.0.1", &error));
  EXPECT_FALSE(ParseListenAddress(":0", &error));
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:70000", &error));
}

TEST(FormatHostPort, BracketsIPv6) {
  EXPECT_EQ(FormatHostPort("::1", 80), "[::1]:80");
  EXPECT_EQ(FormatHostPort("10.0.0.1", 80), "10.0.0.1:80");
}

TEST(ValidateServiceName, DnsLabels) {
  EXPECT_EQ(ValidateServiceName("payment-svc"), "");
  EXPECT_EQ(ValidateServiceName("a"), "");
  EXPECT_EQ(ValidateServiceName("svc1"), "");
  for (const char* bad : {"", "Order_Svc", "Order", "-svc", "svc-", "a.b", "a b", "123", "9svc",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_NE(ValidateServiceName(bad), "") << bad;
  }
}

TEST(ValidateRoutePath, AcceptsNormalPaths) {
  for (const char* good : {"/", "/api", "/api/payment", "/v1/users/~me", "/a%2Fb"})
    EXPECT_EQ(ValidateRoutePath(good), "") << good;
}

TEST(ValidateRoutePath, RefusesMalformedPaths) {
  for (const char* bad : {"", "api", "api/payment", "/api/", "//api", "/a//b", "/a/../b", "/a/./b",
                          "/a?x=1", "/a#frag", "/a b", "/a%zz", "/a%2f", "/%61"}) {
    EXPECT_NE(ValidateRoutePath(bad), "") << bad;
  }
  EXPECT_NE(ValidateRoutePath(std::string(2000, 'a').insert(0, "/")), "");
  EXPECT_NE(ValidateRoutePath("/api/").find("use '/api'"), std::string::npos);
}

TEST(ValidateTarget, ServiceOrHostPort) {
  EXPECT_EQ(ValidateTarget("payment-svc"), "");
  EXPECT_EQ(ValidateTarget("payment-svc:8080"), "");
  EXPECT_EQ(ValidateTarget("10.0.0.7:80"), "");
  EXPECT_EQ(ValidateTarget("payment.internal"), "");
  EXPECT_NE(ValidateTarget(""), "");
  EXPECT_NE(ValidateTarget("pay ment"), "");
  EXPECT_NE(ValidateTarget("svc:0"), "");
  EXPECT_NE(ValidateTarget("svc:70000"), "");
  EXPECT_NE(ValidateTarget("123"), "");  // neither a service name nor a host
  EXPECT_NE(ValidateTarget("9101"), "");
}

TEST(ValidateMaxBodySize, ZeroOrUpToOneTebibyte) {
  EXPECT_EQ(ValidateMaxBodySize(0), "");  // the gateway's own --max-body-size
  EXPECT_EQ(ValidateMaxBodySize(1), "");
  EXPECT_EQ(ValidateMaxBodySize(kMaxBodySizeLimit), "");
  EXPECT_EQ(ValidateMaxBodySize(kMaxBodySizeLimit + 1),
            "max body size 1099511627777 bytes is larger than a route may allow, 1024g (0 "
            "means the gateway's --max-body-size)");
  EXPECT_NE(ValidateMaxBodySize(UINT64_MAX), "");
}

TEST(ValidateRoute, ChecksTheBodyLimit) {
  Route route;
  route.set_path("/upload");
  route.set_match(gateway::v1::MATCH_PREFIX);
  route.set_target("files");
  route.set_max_body_size(10 << 20);
  EXPECT_EQ(ValidateRoute(route), "");
  route.set_max_body_size(uint64_t{2048} << 30);
  EXPECT_EQ(ValidateRoute(route),
            "route '/upload': max body size 2199023255552 bytes (2048g) is larger than a route "
            "may allow, 1024g (0 means the gateway's --max-body-size)");
}

Config TwoRouteConfig() {
  Config config;
  config.set_version(3);
  Service* svc = config.add_services();
  svc->set_name("order-svc");
  auto* endpoint = svc->add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(9101);
  Route* route = config.add_routes();
  route->set_path("/api");
  route->set_match(gateway::v1::MATCH_PREFIX);
  route->set_target("order-svc");
  route = config.add_routes();
  route->set_path("/api");
  route->set_match(gateway::v1::MATCH_EXACT);
  route->set_target("order-svc");
  return config;
}

TEST(ValidateConfig, AcceptsPrefixAndExactOnOnePath) {
  EXPECT_EQ(ValidateConfig(TwoRouteConfig()), "");
}

TEST(ValidateConfig, RefusesDuplicatesAndBadParts) {
  Config config = TwoRouteConfig();
  *config.add_routes() = config.routes(0);
  EXPECT_NE(ValidateConfig(config), "");

  config = TwoRouteConfig();
  *config.add_services() = config.services(0);
  EXPECT_NE(ValidateConfig(config), "");

  config = TwoRouteConfig();
  config.mutable_services(0)->clear_endpoints();
  EXPECT_NE(ValidateConfig(config), "");

  config = TwoRouteConfig();
  config.mutable_services(0)->mutable_endpoints(0)->set_port(0);
  EXPECT_NE(ValidateConfig(config), "");

  config = TwoRouteConfig();
  config.mutable_routes(0)->set_match(gateway::v1::MATCH_UNSPECIFIED);
  EXPECT_NE(ValidateConfig(config), "");

  // A pushed config is checked whole: a target that is no service must be HOST[:PORT].
  config = TwoRouteConfig();
  config.mutable_routes(0)->set_target("123");
  EXPECT_NE(ValidateConfig(config), "");

  // A pushed body limit past the largest a route may set is refused (NACKed) too.
  config = TwoRouteConfig();
  config.mutable_routes(1)->set_max_body_size(kMaxBodySizeLimit + 1);
  EXPECT_NE(ValidateConfig(config).find("larger than a route may allow"), std::string::npos);
}

}  // namespace
}  // namespace gw
