// Issue 4's validation rules: each broken field of a route, service or consumer is refused with
// one line that names it, and ValidateConfig checks identities, splits and consumers together.
#include "common/policy_validation.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <functional>
#include <memory>
#include <string>

#include "common/api_key.h"
#include "common/policy_text.h"
#include "common/validation.h"

namespace gw {
namespace {

using gateway::v1::Config;
using gateway::v1::Consumer;
using gateway::v1::Route;
using gateway::v1::Service;

// The one origin rule of the control plane's validation and the gateway's CorsPolicy.
TEST(CanonicalOrigin, AcceptsSchemeHostAndPort) {
  EXPECT_EQ(CanonicalOrigin("https://app.example.com"), "https://app.example.com");
  EXPECT_EQ(CanonicalOrigin("HTTPS://App.Example.COM"), "https://app.example.com");
  EXPECT_EQ(CanonicalOrigin("http://localhost:3000"), "http://localhost:3000");
  EXPECT_EQ(CanonicalOrigin("https://a.example:443"), "https://a.example");  // default port
  EXPECT_EQ(CanonicalOrigin("http://a.example:80"), "http://a.example");
  EXPECT_EQ(CanonicalOrigin("http://a.example:443"), "http://a.example:443");
  EXPECT_EQ(CanonicalOrigin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(CanonicalOrigin("http://[::1]:8080"), "http://[::1]:8080");
  EXPECT_EQ(CanonicalOrigin("http://a.example:08080"), "http://a.example:8080");
}

TEST(CanonicalOrigin, RefusesWhatIsNotAnOrigin) {
  for (const char* bad : {"",
                          "foo",
                          "*",
                          "null",
                          "app.example.com",
                          "://a.example",
                          "https://",
                          "https://a.example/",
                          "https://a.example/path",
                          "https://user@a.example",
                          "https://a.example:",
                          "https://a.example:0",
                          "https://a.example:65536",
                          "https://a.example:123456",
                          "https://a.example:80x",
                          "1http://a.example",
                          "https://[zz]",
                          "https://a example",
                          "https://a.example?x",
                          "https://a_b.example"}) {
    EXPECT_EQ(CanonicalOrigin(bad), "") << bad;
  }
}

Route ValidRoute() {
  Route route;
  route.set_path("/api");
  route.set_match(gateway::v1::MATCH_PREFIX);
  route.set_target("pay");
  return route;
}

Service ValidService() {
  Service service;
  service.set_name("pay");
  auto* endpoint = service.add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(9001);
  return service;
}

struct Case {
  const char* name;
  std::function<void(Route&)> change;
  const char* message_part;  // "" : valid
};

void AddSplit(Route& r, std::vector<std::pair<std::string, uint32_t>> targets) {
  r.clear_target();
  for (auto& [target, weight] : targets) {
    auto* split = r.add_split();
    split->set_target(target);
    split->set_weight(weight);
  }
}

TEST(ValidateRoute, PolicyRules) {
  const Case cases[] = {
      {"plain", [](Route&) {}, ""},
      {"split ok",
       [](Route& r) {
         AddSplit(r, {{"pay", 90}, {"pay-v2", 10}});
       },
       ""},
      {"split zero sum",
       [](Route& r) {
         AddSplit(r, {{"a", 0}, {"b", 0}});
       },
       "split weight 0 of 'a' is outside 1..10000"},
      {"split weight zero",  // issue 9: no silent zero weight anywhere
       [](Route& r) {
         AddSplit(r, {{"a", 100}, {"b", 0}});
       },
       "split weight 0 of 'b' is outside 1..10000 (to stop its traffic, leave the target out)"},
      {"split one",
       [](Route& r) {
         AddSplit(r, {{"a", 1}});
       },
       "2 to 16 targets"},
      {"split weight",
       [](Route& r) {
         AddSplit(r, {{"a", 10001}, {"b", 1}});
       },
       "split weight 10001 of 'a' is outside 1..10000"},
      {"split twice",
       [](Route& r) {
         AddSplit(r, {{"a", 1}, {"a", 1}});
       },
       "'a' twice"},
      {"split bad target",
       [](Route& r) {
         AddSplit(r, {{"a b", 1}, {"c", 1}});
       },
       "'a b'"},
      {"split and target",
       [](Route& r) {
         AddSplit(r, {{"a", 1}, {"b", 1}});
         r.set_target("c");
       },
       "both a target and a split"},
      {"host wildcard", [](Route& r) { r.set_host("*.example.com"); }, ""},
      {"host bad", [](Route& r) { r.set_host("exa mple"); }, "host 'exa mple'"},
      {"host inner star", [](Route& r) { r.set_host("a.*.com"); }, "host 'a.*.com'"},
      {"host port", [](Route& r) { r.set_host("a.com:80"); }, "host 'a.com:80'"},
      {"method bad", [](Route& r) { r.add_methods("G T"); }, "method 'G T'"},
      {"header bad name",
       [](Route& r) {
         auto* h = r.add_headers();
         h->set_name("x y");
       },
       "header condition 'x y' is not a header name"},
      {"header bad value",
       [](Route& r) {
         auto* h = r.add_headers();
         h->set_name("x");
         h->set_value("a\nb");
       },
       "not visible ASCII"},
      {"strip and rewrite",
       [](Route& r) {
         r.set_strip_prefix(true);
         r.set_rewrite_prefix("/v2");
       },
       "cannot be used together"},
      {"rewrite relative", [](Route& r) { r.set_rewrite_prefix("v2"); }, "rewrite prefix"},
      {"rewrite unnormalized", [](Route& r) { r.set_rewrite_prefix("/a/../b"); }, "rewrite prefix"},
      {"set Host",
       [](Route& r) {
         auto* h = r.add_set_request_headers();
         h->set_name("Host");
       },
       "hop-by-hop or framing"},
      {"remove Connection", [](Route& r) { r.add_remove_response_headers("connection"); },
       "hop-by-hop or framing"},
      {"set Transfer-Encoding",
       [](Route& r) {
         auto* h = r.add_set_response_headers();
         h->set_name("Transfer-Encoding");
       },
       "hop-by-hop or framing"},
      {"remove Content-Length", [](Route& r) { r.add_remove_request_headers("Content-Length"); },
       "hop-by-hop or framing"},
      {"set X-Consumer",
       [](Route& r) {
         auto* h = r.add_set_request_headers();
         h->set_name("X-Consumer");
       },
       "set by the gateway"},
      {"set bad name",
       [](Route& r) {
         auto* h = r.add_set_request_headers();
         h->set_name("a:b");
       },
       "'a:b' is not a header name"},
      {"set twice",
       [](Route& r) {
         r.add_set_request_headers()->set_name("X-A");
         r.add_set_request_headers()->set_name("x-a");
       },
       "given twice"},
      {"timeout 1ms", [](Route& r) { r.set_timeout_ms(1); }, ""},
      {"timeout 1h", [](Route& r) { r.set_timeout_ms(3600000); }, ""},
      {"timeout over 1h", [](Route& r) { r.set_timeout_ms(3600001); }, "outside 1ms..1h"},
      {"per-try timeout", [](Route& r) { r.set_per_try_timeout_ms(250); }, ""},
      {"per-try timeout over 1h", [](Route& r) { r.set_per_try_timeout_ms(3600001); },
       "per-try timeout 3600001ms is outside 1ms..1h"},
      {"per-try timeout within the route's",
       [](Route& r) {
         r.set_timeout_ms(2000);
         r.set_per_try_timeout_ms(2000);
       },
       ""},
      {"per-try timeout beyond the route's",
       [](Route& r) {
         r.set_timeout_ms(1000);
         r.set_per_try_timeout_ms(2000);
       },
       "per-try timeout 2s is longer than the route timeout 1s"},
      {"retries 10", [](Route& r) { r.set_retries(10); }, ""},
      {"retries 11", [](Route& r) { r.set_retries(11); }, "retries 11 is more than 10"},
      {"rate zero",
       [](Route& r) {
         r.mutable_rate_limit()->set_period_seconds(1);
         r.mutable_rate_limit()->set_key("ip");
       },
       "rate limit must be > 0"},
      {"rate period",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(2);
         r.mutable_rate_limit()->set_key("ip");
       },
       "period must be 1s, 1m or 1h"},
      {"rate header key",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(60);
         r.mutable_rate_limit()->set_key("header:x-user");
       },
       ""},
      {"rate bad key",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(60);
         r.mutable_rate_limit()->set_key("cookie");
       },
       "must be ip, header:NAME or consumer"},
      {"rate empty header",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(60);
         r.mutable_rate_limit()->set_key("header:");
       },
       "names no valid header"},
      {"rate consumer without auth",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(60);
         r.mutable_rate_limit()->set_key("consumer");
       },
       "needs authentication"},
      {"rate consumer with auth",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(60);
         r.mutable_rate_limit()->set_key("consumer");
         r.set_auth(gateway::v1::AUTH_API_KEY);
       },
       ""},
      {"rate scope cluster",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(1);
         r.mutable_rate_limit()->set_key("ip");
         r.mutable_rate_limit()->set_scope(gateway::v1::RateLimit::SCOPE_CLUSTER);
       },
       ""},
      {"rate scope unknown",
       [](Route& r) {
         r.mutable_rate_limit()->set_requests(1);
         r.mutable_rate_limit()->set_period_seconds(1);
         r.mutable_rate_limit()->set_key("ip");
         r.mutable_rate_limit()->set_scope(static_cast<gateway::v1::RateLimit::Scope>(7));
       },
       "rate limit scope 7 is neither gateway nor cluster"},
      {"auth unknown", [](Route& r) { r.set_auth(static_cast<gateway::v1::AuthKind>(9)); },
       "auth kind 9"},
      {"cors star", [](Route& r) { r.mutable_cors()->add_origins("*"); }, ""},
      {"cors origin port", [](Route& r) { r.mutable_cors()->add_origins("http://[::1]:8080"); },
       ""},
      {"cors no origin", [](Route& r) { r.mutable_cors()->set_max_age_seconds(1); },
       "at least one origin"},
      {"cors not origin", [](Route& r) { r.mutable_cors()->add_origins("foo"); },
       "cors origin 'foo' is not an origin"},
      {"cors path", [](Route& r) { r.mutable_cors()->add_origins("https://a.example/"); },
       "is not an origin"},
      {"cors star mixed",
       [](Route& r) {
         r.mutable_cors()->add_origins("*");
         r.mutable_cors()->add_origins("https://a.example");
       },
       "give it alone"},
      {"cors max age",
       [](Route& r) {
         r.mutable_cors()->add_origins("*");
         r.mutable_cors()->set_max_age_seconds(86401);
       },
       "more than 24h"},
      {"cors method",
       [](Route& r) {
         r.mutable_cors()->add_origins("*");
         r.mutable_cors()->add_methods("G,T");
       },
       "cors method"},
  };
  for (const Case& c : cases) {
    Route route = ValidRoute();
    c.change(route);
    const std::string error = ValidateRoute(route);
    if (std::string(c.message_part).empty()) {
      EXPECT_EQ(error, "") << c.name;
    } else {
      EXPECT_NE(error.find(c.message_part), std::string::npos) << c.name << ": " << error;
      EXPECT_EQ(error.find('\n'), std::string::npos) << c.name;
    }
  }
}

// Issue 14: an aggregate route's parts, as `--aggregate KEY=TARGET[:PATH_PREFIX]` gives them.
void AddParts(Route& r, std::vector<std::vector<std::string>> parts) {
  r.clear_target();
  for (auto& fields : parts) {
    auto* part = r.add_aggregate();
    part->set_key(fields.at(0));
    part->set_target(fields.at(1));
    if (fields.size() > 2) part->set_path_prefix(fields[2]);
  }
}

TEST(ValidateRoute, AggregateRules) {
  const Case cases[] = {
      {"two parts",
       [](Route& r) {
         AddParts(r, {{"user", "users-svc", "/users"}, {"cart", "10.0.0.5:8080"}});
       },
       ""},
      {"one part",
       [](Route& r) {
         AddParts(r, {{"user", "users-svc"}});
       },
       ""},
      {"sixteen parts",
       [](Route& r) {
         for (int i = 0; i < 16; ++i) AddParts(r, {{"k" + std::to_string(i), "svc"}});
       },
       ""},
      {"seventeen parts",
       [](Route& r) {
         for (int i = 0; i < 17; ++i) AddParts(r, {{"k" + std::to_string(i), "svc"}});
       },
       "route '/api': an aggregate has 1 to 16 parts, not 17"},
      {"key of every allowed kind",
       [](Route& r) {
         AddParts(r, {{"User_2-x", "svc"}});
       },
       ""},
      {"key of 64",
       [](Route& r) {
         AddParts(r, {{std::string(64, 'k'), "svc"}});
       },
       ""},
      {"key of 65",
       [](Route& r) {
         AddParts(r, {{std::string(65, 'k'), "svc"}});
       },
       "must be 1 to 64 letters, digits, '_' or '-'"},
      {"key with a space",
       [](Route& r) {
         AddParts(r, {{"x y", "svc"}});
       },
       "route '/api': aggregate key 'x y' must be 1 to 64 letters, digits, '_' or '-'"},
      {"key empty",
       [](Route& r) {
         AddParts(r, {{"", "svc"}});
       },
       "aggregate key ''"},
      {"key with a dot",
       [](Route& r) {
         AddParts(r, {{"a.b", "svc"}});
       },
       "aggregate key 'a.b'"},
      {"key twice",
       [](Route& r) {
         AddParts(r, {{"user", "a"}, {"user", "b"}});
       },
       "route '/api': aggregate lists key 'user' twice"},
      {"keys differ in case",
       [](Route& r) {
         AddParts(r, {{"user", "a"}, {"User", "b"}});
       },
       ""},
      {"same target twice",
       [](Route& r) {
         AddParts(r, {{"a", "svc"}, {"b", "svc"}});
       },
       ""},
      {"target and parts",
       [](Route& r) {
         AddParts(r, {{"user", "users-svc"}});
         r.set_target("pay");
       },
       "route '/api' has both a target and aggregate parts; give one"},
      {"split and parts",
       [](Route& r) {
         AddSplit(r, {{"a", 1}, {"b", 1}});
         AddParts(r, {{"user", "users-svc"}});
       },
       "route '/api' has both a split and aggregate parts; give one"},
      {"part without target",
       [](Route& r) {
         AddParts(r, {{"user", ""}});
       },
       "aggregate part 'user' has no target"},
      {"part bad target",
       [](Route& r) {
         AddParts(r, {{"user", "a b"}});
       },
       "route '/api': aggregate part 'user': target 'a b' is neither a service name nor "
       "HOST[:PORT]"},
      {"part bad port",
       [](Route& r) {
         AddParts(r, {{"user", "h.example:99999"}});
       },
       "aggregate part 'user': target 'h.example:99999'"},
      {"part IPv6",
       [](Route& r) {
         AddParts(r, {{"user", "[::1]:8080", "/x"}});
       },
       ""},
      {"part prefix relative",
       [](Route& r) {
         AddParts(r, {{"user", "svc", "users"}});
       },
       "aggregate part 'user': path prefix: path 'users' must start with '/'"},
      {"part prefix trailing slash",
       [](Route& r) {
         AddParts(r, {{"user", "svc", "/users/"}});
       },
       "aggregate part 'user': path prefix: path '/users/' must not end with '/'"},
      {"part prefix query",
       [](Route& r) {
         AddParts(r, {{"user", "svc", "/u?x=1"}});
       },
       "must not hold a query"},
      {"GET and HEAD",
       [](Route& r) {
         AddParts(r, {{"user", "svc"}});
         r.add_methods("GET");
         r.add_methods("HEAD");
       },
       ""},
      {"POST",
       [](Route& r) {
         AddParts(r, {{"user", "svc"}});
         r.add_methods("GET");
         r.add_methods("POST");
       },
       "route '/api': an aggregate route takes GET and HEAD only, not POST"},
      {"POST on a plain route", [](Route& r) { r.add_methods("POST"); }, ""},
      {"timeout 1ms",
       [](Route& r) {
         AddParts(r, {{"user", "svc"}});
         r.set_aggregate_timeout_ms(1);
       },
       ""},
      {"timeout 1h",
       [](Route& r) {
         AddParts(r, {{"user", "svc"}});
         r.set_aggregate_timeout_ms(3'600'000);
         r.set_aggregate_partial(true);
       },
       ""},
      {"timeout over 1h",
       [](Route& r) {
         AddParts(r, {{"user", "svc"}});
         r.set_aggregate_timeout_ms(3'600'001);
       },
       "route '/api': aggregate timeout 3600001ms is outside 1ms..1h"},
      {"timeout without parts", [](Route& r) { r.set_aggregate_timeout_ms(2000); },
       "route '/api': --aggregate-timeout needs aggregate parts (--aggregate KEY=TARGET)"},
      {"partial without parts", [](Route& r) { r.set_aggregate_partial(true); },
       "route '/api': --aggregate-partial needs aggregate parts"},
      {"partial with a split",
       [](Route& r) {
         AddSplit(r, {{"a", 1}, {"b", 1}});
         r.set_aggregate_partial(true);
       },
       "--aggregate-partial needs aggregate parts"},
  };
  for (const Case& c : cases) {
    Route route = ValidRoute();
    c.change(route);
    const std::string error = ValidateRoute(route);
    if (std::string(c.message_part).empty()) {
      EXPECT_EQ(error, "") << c.name;
    } else {
      EXPECT_NE(error.find(c.message_part), std::string::npos) << c.name << ": " << error;
      EXPECT_EQ(error.find('\n'), std::string::npos) << c.name;
    }
  }
}

// A part's target follows a plain route's rules (a bare name that is no service is a DNS
// name), but never an h2c service: the part's answer is read whole as HTTP/1.1 JSON.
TEST(ValidateConfig, AggregatePartsRefuseH2cServices) {
  Config config;
  *config.add_services() = ValidService();  // "pay", HTTP/1.1
  Service grpc = ValidService();
  grpc.set_name("grpc");
  grpc.set_protocol(gateway::v1::UPSTREAM_H2C);
  *config.add_services() = grpc;
  Route route = ValidRoute();
  route.set_path("/api/home");
  AddParts(route, {{"user", "pay", "/users"}, {"dns", "not-a-service"}, {"ip", "10.0.0.5:80"}});
  *config.add_routes() = route;
  EXPECT_EQ(ValidateConfig(config), "");
  config.mutable_routes(0)->mutable_aggregate(1)->set_target("grpc");
  EXPECT_EQ(ValidateConfig(config),
            "route '/api/home': aggregate part 'dns' targets service 'grpc' which speaks h2c; a "
            "part must speak HTTP/1.1");
  EXPECT_EQ(ValidateAggregateTargets(config.routes(0), {}), "");
  EXPECT_NE(ValidateAggregateTargets(config.routes(0), {"grpc"}), "");
  // A plain route may target an h2c service (gRPC).
  Route plain = ValidRoute();
  plain.set_target("grpc");
  EXPECT_EQ(ValidateAggregateTargets(plain, {"grpc"}), "");
}

TEST(ValidateService, PolicyRules) {
  struct ServiceCase {
    const char* name;
    std::function<void(Service&)> change;
    const char* message_part;
  };
  const ServiceCase cases[] = {
      {"plain", [](Service&) {}, ""},
      {"ring hash",
       [](Service& s) {
         s.set_lb(gateway::v1::LB_RING_HASH);
         s.set_hash_header("x-user");
       },
       ""},
      {"hash without ring", [](Service& s) { s.set_hash_header("x-user"); },
       "needs --lb ring_hash"},
      {"hash bad",
       [](Service& s) {
         s.set_lb(gateway::v1::LB_RING_HASH);
         s.set_hash_header("x y");
       },
       "not a header name"},
      {"lb unknown", [](Service& s) { s.set_lb(static_cast<gateway::v1::LoadBalancing>(7)); },
       "load balancing 7"},
      {"health ok",
       [](Service& s) {
         auto* h = s.mutable_health_check();
         h->set_path("/healthz");
         h->set_interval_ms(100);
         h->set_unhealthy_threshold(1);
         h->set_healthy_threshold(100);
       },
       ""},
      {"health relative",
       [](Service& s) {
         auto* h = s.mutable_health_check();
         h->set_path("healthz");
         h->set_interval_ms(1000);
         h->set_unhealthy_threshold(1);
         h->set_healthy_threshold(1);
       },
       "must be an absolute path"},
      {"health interval",
       [](Service& s) {
         auto* h = s.mutable_health_check();
         h->set_path("/h");
         h->set_interval_ms(3600001);
         h->set_unhealthy_threshold(1);
         h->set_healthy_threshold(1);
       },
       "outside 100ms..1h"},
      {"health threshold",
       [](Service& s) {
         auto* h = s.mutable_health_check();
         h->set_path("/h");
         h->set_interval_ms(1000);
         h->set_unhealthy_threshold(101);
         h->set_healthy_threshold(1);
       },
       "unhealthy threshold 101"},
      {"eject ok",
       [](Service& s) {
         s.set_eject_after(1000);
         s.set_eject_for_ms(3600000);
       },
       ""},
      {"eject too many",
       [](Service& s) {
         s.set_eject_after(1001);
         s.set_eject_for_ms(1000);
       },
       "eject after 1001"},
      {"eject for short",
       [](Service& s) {
         s.set_eject_after(5);
         s.set_eject_for_ms(999);
       },
       "outside 1s..1h"},
      {"eject for alone", [](Service& s) { s.set_eject_for_ms(1000); }, "needs eject after"},
      {"max connections", [](Service& s) { s.set_max_connections(1000001); }, "max connections"},
      {"max pending", [](Service& s) { s.set_max_pending(1000001); }, "max pending"},
      {"connect timeout", [](Service& s) { s.set_connect_timeout_ms(60001); }, "outside 1ms..1m"},
  };
  for (const ServiceCase& c : cases) {
    Service service = ValidService();
    c.change(service);
    const std::string error = ValidateService(service);
    if (std::string(c.message_part).empty()) {
      EXPECT_EQ(error, "") << c.name;
    } else {
      EXPECT_NE(error.find(c.message_part), std::string::npos) << c.name << ": " << error;
    }
  }
}

TEST(CanonicalizeService, FillsDefaultsAndRefusesEjectForWithoutEjectAfter) {
  Service service = ValidService();
  service.mutable_health_check()->set_path("/h");
  service.set_eject_after(3);
  CanonicalizeService(&service);
  EXPECT_EQ(service.health_check().interval_ms(), kDefaultHealthIntervalMs);
  EXPECT_EQ(service.eject_for_ms(), kDefaultEjectForMs);
  EXPECT_EQ(ValidateService(service), "");
  service.set_eject_after(0);  // an eject-for alone is refused, not dropped
  CanonicalizeService(&service);
  EXPECT_EQ(service.eject_for_ms(), kDefaultEjectForMs);
  EXPECT_NE(ValidateService(service).find("eject for needs eject after"), std::string::npos);
  service.mutable_health_check()->clear_path();
  EXPECT_NE(ValidateService(service).find("needs a path to check (--health-path"),
            std::string::npos);
}

std::string PublicKeyPem(const char* type, const char* parameter, unsigned bits = 0) {
  EVP_PKEY* key = bits ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, static_cast<size_t>(bits))
                       : EVP_PKEY_Q_keygen(nullptr, nullptr, type, parameter);
  if (!key) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

TEST(ValidateConsumer, CredentialRules) {
  Consumer consumer;
  consumer.set_name("alice");
  EXPECT_NE(ValidateConsumer(consumer).find("has no credentials"), std::string::npos);
  consumer.add_api_key_sha256(ApiKeySha256Hex("a-key-that-is-long-enough"));
  EXPECT_EQ(ValidateConsumer(consumer), "");
  consumer.add_api_key_sha256("not-hex");
  EXPECT_NE(ValidateConsumer(consumer).find("not SHA-256 hex"), std::string::npos);
  consumer.mutable_api_key_sha256()->RemoveLast();
  consumer.add_api_key_sha256(consumer.api_key_sha256(0));
  EXPECT_NE(ValidateConsumer(consumer).find("same api key twice"), std::string::npos);
  consumer.mutable_api_key_sha256()->RemoveLast();

  auto* jwt = consumer.mutable_jwt();
  jwt->set_secret(std::string(32, 's'));
  EXPECT_NE(ValidateConsumer(consumer).find("jwt issuer is empty"), std::string::npos);
  jwt->set_issuer("https://idp.example");
  EXPECT_EQ(ValidateConsumer(consumer), "");
  jwt->set_secret(std::string(31, 's'));
  EXPECT_NE(ValidateConsumer(consumer), "");
  jwt->set_secret(std::string(32, 's'));
  jwt->set_public_key_pem(PublicKeyPem("EC", "P-256"));
  EXPECT_NE(ValidateConsumer(consumer).find("exactly one of"), std::string::npos);
  jwt->clear_secret();
  EXPECT_EQ(ValidateConsumer(consumer), "");  // ES256
  jwt->set_public_key_pem(PublicKeyPem("RSA", nullptr, 2048));
  EXPECT_EQ(ValidateConsumer(consumer), "");  // RS256
  jwt->set_public_key_pem(PublicKeyPem("RSA", nullptr, 1024));
  EXPECT_NE(ValidateConsumer(consumer), "");
  jwt->set_public_key_pem(PublicKeyPem("EC", "P-384"));
  EXPECT_NE(ValidateConsumer(consumer), "");
  jwt->set_public_key_pem("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n");
  const std::string error = ValidateConsumer(consumer);
  EXPECT_NE(error.find("consumer 'alice'"), std::string::npos) << error;
  consumer.set_name("Alice");
  EXPECT_NE(ValidateConsumer(consumer).find("consumer name 'Alice'"), std::string::npos);
}

TEST(ValidateConfig, IdentitiesSplitsAndConsumers) {
  Config config;
  *config.add_services() = ValidService();
  Route plain = ValidRoute();
  Route narrow = ValidRoute();
  narrow.set_host("a.example");
  *config.add_routes() = plain;
  *config.add_routes() = narrow;
  EXPECT_EQ(ValidateConfig(config), "");  // same path and kind, different identity
  *config.add_routes() = narrow;
  EXPECT_NE(ValidateConfig(config).find("defined twice"), std::string::npos);
  config.mutable_routes()->RemoveLast();

  Route split = ValidRoute();
  split.set_path("/split");
  AddSplit(split, {{"pay", 1}, {"ghost", 1}});
  *config.add_routes() = split;
  EXPECT_NE(ValidateConfig(config).find("unknown service 'ghost' in split"), std::string::npos);
  config.mutable_routes(2)->mutable_split(1)->set_target("ghost.example:8080");
  EXPECT_EQ(ValidateConfig(config), "");

  Consumer a;
  a.set_name("a");
  a.add_api_key_sha256(ApiKeySha256Hex("a-key-that-is-long-enough"));
  Consumer b = a;
  b.set_name("b");
  *config.add_consumers() = a;
  EXPECT_EQ(ValidateConfig(config), "");
  *config.add_consumers() = b;
  EXPECT_NE(ValidateConfig(config).find("another consumer has"), std::string::npos);
}

TEST(CanonicalizeRoute, SortsConditionsAndFillsTheRateLimitKey) {
  Route route = ValidRoute();
  route.set_host("API.Example.COM");
  route.add_methods("post");
  route.add_methods("GET");
  route.add_methods("Post");
  auto* h1 = route.add_headers();
  h1->set_name("X-B");
  h1->set_value("1");
  auto* h2 = route.add_headers();
  h2->set_name("x-a");
  h2->set_value("2");
  route.mutable_rate_limit()->set_requests(5);
  CanonicalizeRoute(&route);
  EXPECT_EQ(route.host(), "api.example.com");
  ASSERT_EQ(route.methods_size(), 2);
  EXPECT_EQ(route.methods(0), "GET");
  EXPECT_EQ(route.methods(1), "POST");
  EXPECT_EQ(route.headers(0).name(), "x-a");
  EXPECT_EQ(route.headers(1).name(), "x-b");
  EXPECT_EQ(route.rate_limit().key(), "ip");
  EXPECT_EQ(DescribeRouteMatch(route),
            "/api (prefix, host api.example.com, method GET,POST, header x-a=2, header x-b=1)");
}

TEST(DescribeRoutePolicies, CompactAndStable) {
  Route route = ValidRoute();
  EXPECT_EQ(DescribeRoutePolicies(route), "");
  route.set_auth(gateway::v1::AUTH_JWT);
  route.mutable_rate_limit()->set_requests(100);
  route.mutable_rate_limit()->set_period_seconds(1);
  route.mutable_rate_limit()->set_key("ip");
  route.set_retries(2);
  EXPECT_EQ(DescribeRoutePolicies(route), "auth=jwt rl=100/s retries=2");
  route.mutable_rate_limit()->set_burst(10);
  route.mutable_rate_limit()->set_period_seconds(60);
  route.mutable_rate_limit()->set_key("header:x-user");
  EXPECT_EQ(DescribeRoutePolicies(route),
            "auth=jwt rl=100/m burst=10 rl-by=header:x-user retries=2");
  route.mutable_rate_limit()->set_scope(gateway::v1::RateLimit::SCOPE_CLUSTER);
  EXPECT_EQ(DescribeRoutePolicies(route),
            "auth=jwt rl=100/m burst=10 rl-by=header:x-user rl-scope=cluster retries=2");
  EXPECT_EQ(FormatRateLimit(route.rate_limit()), "100/m burst 10 by header:x-user cluster-wide");
  EXPECT_EQ(RateLimitScopeName(gateway::v1::RateLimit::SCOPE_GATEWAY), "gateway");
  AddSplit(route, {{"a", 90}, {"b", 10}});
  EXPECT_EQ(FormatRouteTargets(route), "a=90,b=10");
  route.clear_split();
  route.clear_rate_limit();
  route.set_auth(gateway::v1::AUTH_NONE);
  AddParts(route, {{"user", "users-svc", "/users"}, {"cart", "10.0.0.5:8080"}});
  EXPECT_EQ(FormatRouteTargets(route), "aggregate(user=users-svc:/users,cart=10.0.0.5:8080)");
  EXPECT_EQ(FormatAggregateParts(route), "user=users-svc:/users,cart=10.0.0.5:8080");
  route.set_aggregate_timeout_ms(2000);
  route.set_aggregate_partial(true);
  route.set_timeout_ms(1000);
  EXPECT_EQ(DescribeRoutePolicies(route),
            "retries=2 timeout=1s aggregate-timeout=2s aggregate-partial");
  Service service = ValidService();
  service.set_lb(gateway::v1::LB_RING_HASH);
  service.set_hash_header("x-user");
  service.set_max_connections(10);
  EXPECT_EQ(DescribeServicePolicies(service), "lb=ring_hash(x-user) max-conn=10");
}

}  // namespace
}  // namespace gw
