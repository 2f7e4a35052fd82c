// The declarative document of apply/diff/export: every field kind in YAML and JSON, the errors
// (with the place they name), and export -> parse giving back the config.
#include "cli/config_document.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

namespace gw::cli {
namespace {

using gateway::v1::ApplyRequest;
using gateway::v1::Config;
using google::protobuf::util::MessageDifferencer;

ApplyRequest Parse(const std::string& text) {
  ApplyRequest request;
  const std::string error = ParseConfigDocument(text, &request);
  EXPECT_EQ(error, "") << text;
  return request;
}

std::string ErrorOf(const std::string& text) {
  ApplyRequest request;
  return ParseConfigDocument(text, &request);
}

constexpr const char* kPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
    "-----END PUBLIC KEY-----\n";

// Every field kind: strings, whole numbers, booleans, enums, lists of strings and of objects,
// nested objects.
constexpr const char* kYaml = R"(# a comment
services:
  - name: cart
    endpoints: [10.0.0.5:8080, "[::1]:9000"]
    lb: ring_hash
    hash_header: x-user
    health_check: {path: /healthz, interval_ms: 5000, unhealthy_threshold: 3, healthy_threshold: 2}
    eject_after: 5
    eject_for_ms: 30000
    max_connections: 100
    max_pending: 10
    connect_timeout_ms: 1000
routes:
  - path: /api
    match: exact
    host: "*.example.com"
    methods: [GET, POST]
    headers: [{name: x-v, value: "2"}]
    target: cart
    max_body_size: 10485760
    strip_prefix: true
    rewrite_prefix: /v2
    set_request_headers: [{name: x-a, value: b}]
    remove_request_headers: [x-debug]
    set_response_headers: [{name: x-c, value: d}]
    remove_response_headers: [server]
    timeout_ms: 5000
    retries: 2
    per_try_timeout_ms: 1000
    rate_limit: {requests: 100, period_seconds: 1, burst: 200, key: "header:x-user", scope: cluster}
    auth: jwt
    cors: {origins: ["https://a.example"], methods: [GET], headers: [x-h], max_age_seconds: 600}
    version: 17
  - path: /split
    split: [{target: cart, weight: 90}, {target: "b.example:8080", weight: 10}]
consumers:
  - name: alice
    api_keys: [alice-key-0123456789]
    api_key_sha256: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]
  - name: carol
    jwt: {issuer: "https://idp.example", secret: s3cret-0123456789abcdef0123456789}
  - name: dave
    jwt:
      issuer: dave
      public_key_pem: |
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
        -----END PUBLIC KEY-----
)";

TEST(ConfigDocument, ReadsEveryFieldKindFromYaml) {
  const ApplyRequest request = Parse(kYaml);
  ASSERT_EQ(request.services_size(), 1);
  const auto& service = request.services(0);
  EXPECT_EQ(service.name(), "cart");
  ASSERT_EQ(service.endpoints_size(), 2);
  EXPECT_EQ(service.endpoints(0).host(), "10.0.0.5");
  EXPECT_EQ(service.endpoints(0).port(), 8080u);
  EXPECT_EQ(service.endpoints(1).host(), "::1");
  EXPECT_EQ(service.lb(), gateway::v1::LB_RING_HASH);
  EXPECT_EQ(service.hash_header(), "x-user");
  EXPECT_EQ(service.health_check().path(), "/healthz");
  EXPECT_EQ(service.health_check().interval_ms(), 5000u);
  EXPECT_EQ(service.health_check().unhealthy_threshold(), 3u);
  EXPECT_EQ(service.eject_after(), 5u);
  EXPECT_EQ(service.eject_for_ms(), 30000u);
  EXPECT_EQ(service.max_connections(), 100u);
  EXPECT_EQ(service.max_pending(), 10u);
  EXPECT_EQ(service.connect_timeout_ms(), 1000u);

  ASSERT_EQ(request.routes_size(), 2);
  const auto& route = request.routes(0);
  EXPECT_EQ(route.path(), "/api");
  EXPECT_EQ(route.match(), gateway::v1::MATCH_EXACT);
  EXPECT_EQ(route.host(), "*.example.com");
  ASSERT_EQ(route.methods_size(), 2);
  EXPECT_EQ(route.methods(1), "POST");
  ASSERT_EQ(route.headers_size(), 1);
  EXPECT_EQ(route.headers(0).value(), "2");
  EXPECT_EQ(route.target(), "cart");
  EXPECT_EQ(route.max_body_size(), 10485760u);
  EXPECT_TRUE(route.strip_prefix());
  EXPECT_EQ(route.rewrite_prefix(), "/v2");
  EXPECT_EQ(route.set_request_headers(0).name(), "x-a");
  EXPECT_EQ(route.remove_request_headers(0), "x-debug");
  EXPECT_EQ(route.set_response_headers(0).value(), "d");
  EXPECT_EQ(route.remove_response_headers(0), "server");
  EXPECT_EQ(route.timeout_ms(), 5000u);
  EXPECT_EQ(route.retries(), 2u);
  EXPECT_EQ(route.per_try_timeout_ms(), 1000u);
  EXPECT_EQ(route.rate_limit().requests(), 100u);
  EXPECT_EQ(route.rate_limit().burst(), 200u);
  EXPECT_EQ(route.rate_limit().key(), "header:x-user");
  EXPECT_EQ(route.rate_limit().scope(), gateway::v1::RateLimit::SCOPE_CLUSTER);
  EXPECT_EQ(route.auth(), gateway::v1::AUTH_JWT);
  EXPECT_EQ(route.cors().origins(0), "https://a.example");
  EXPECT_EQ(route.cors().max_age_seconds(), 600u);
  EXPECT_EQ(route.version(), 0u) << "a version in the document is the control plane's to set";
  const auto& split = request.routes(1);
  EXPECT_EQ(split.match(), gateway::v1::MATCH_PREFIX) << "no match: prefix, as route add";
  ASSERT_EQ(split.split_size(), 2);
  EXPECT_EQ(split.split(1).target(), "b.example:8080");
  EXPECT_EQ(split.split(1).weight(), 10u);

  ASSERT_EQ(request.consumers_size(), 3);
  EXPECT_EQ(request.consumers(0).api_keys(0), "alice-key-0123456789");
  EXPECT_EQ(request.consumers(0).consumer().api_key_sha256(0), std::string(64, 'a'));
  EXPECT_EQ(request.consumers(1).consumer().jwt().secret(), "s3cret-0123456789abcdef0123456789");
  EXPECT_EQ(request.consumers(2).consumer().jwt().public_key_pem(), kPem);
}

TEST(ConfigDocument, JsonAndYamlReadTheSame) {
  const ApplyRequest yaml = Parse(kYaml);
  Config config;
  *config.mutable_services() = yaml.services();
  *config.mutable_routes() = yaml.routes();
  for (const auto& spec : yaml.consumers()) *config.add_consumers() = spec.consumer();
  // Written as JSON and read back: the same objects (consumers' clear keys are not exported).
  const ApplyRequest json = Parse(RenderConfigDocument(config, DocumentFormat::kJson));
  ASSERT_EQ(json.services_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(json.services(0), yaml.services(0)));
  ASSERT_EQ(json.routes_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(json.routes(0), yaml.routes(0)))
      << json.routes(0).DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(json.routes(1), yaml.routes(1)));

  const ApplyRequest compact =
      Parse(R"({"routes":[{"path":"/a","match":"exact","target":"s","timeout_ms":5000,)"
            R"("strip_prefix":false,"headers":[{"name":"x","value":"1"}]}]})");
  ASSERT_EQ(compact.routes_size(), 1);
  EXPECT_EQ(compact.routes(0).timeout_ms(), 5000u);
  EXPECT_EQ(compact.routes(0).match(), gateway::v1::MATCH_EXACT);
  EXPECT_EQ(compact.routes(0).headers(0).value(), "1");
}

TEST(ConfigDocument, ExportedDocumentsReadBackAsTheConfig) {
  Config config;
  const ApplyRequest given = Parse(kYaml);
  *config.mutable_services() = given.services();
  *config.mutable_routes() = given.routes();
  config.mutable_services(0)->set_version(3);
  config.mutable_routes(0)->set_version(4);
  // Consumers as the admin API shows them: digests only.
  auto* alice = config.add_consumers();
  alice->set_name("alice");
  alice->add_api_key_sha256(std::string(64, 'a'));
  alice->add_api_key_sha256(std::string(64, 'c'));
  alice->set_version(5);
  auto* carol = config.add_consumers();
  carol->set_name("carol");
  carol->mutable_jwt()->set_issuer("https://idp.example");
  carol->mutable_jwt()->set_secret_sha256(std::string(64, 'f'));
  auto* dave = config.add_consumers();
  dave->set_name("dave");
  dave->mutable_jwt()->set_issuer("dave");
  dave->mutable_jwt()->set_public_key_pem(kPem);
  // Strings that read as something else when unquoted stay strings.
  auto* tricky = config.add_routes();
  tricky->set_path("/tricky");
  tricky->set_match(gateway::v1::MATCH_PREFIX);
  tricky->set_target("true");
  auto* header = tricky->add_set_request_headers();
  header->set_name("x-n");
  header->set_value("007");
  auto* empty = tricky->add_set_response_headers();
  empty->set_name("x-empty");

  for (const DocumentFormat format : {DocumentFormat::kYaml, DocumentFormat::kJson}) {
    const std::string text = RenderConfigDocument(config, format);
    EXPECT_EQ(text.find("version"), std::string::npos) << text;
    const ApplyRequest back = Parse(text);
    ASSERT_EQ(back.services_size(), config.services_size()) << text;
    ASSERT_EQ(back.routes_size(), config.routes_size()) << text;
    ASSERT_EQ(back.consumers_size(), config.consumers_size()) << text;
    for (int i = 0; i < config.services_size(); ++i) {
      auto expected = config.services(i);
      expected.clear_version();
      EXPECT_TRUE(MessageDifferencer::Equals(back.services(i), expected)) << text;
    }
    for (int i = 0; i < config.routes_size(); ++i) {
      auto expected = config.routes(i);
      expected.clear_version();
      EXPECT_TRUE(MessageDifferencer::Equals(back.routes(i), expected))
          << text << back.routes(i).DebugString();
    }
    for (int i = 0; i < config.consumers_size(); ++i) {
      auto expected = config.consumers(i);
      expected.clear_version();
      EXPECT_TRUE(MessageDifferencer::Equals(back.consumers(i).consumer(), expected))
          << text << back.consumers(i).DebugString();
      EXPECT_EQ(back.consumers(i).api_keys_size(), 0);
    }
  }
  EXPECT_EQ(RenderConfigDocument(Config(), DocumentFormat::kYaml),
            "services: []\nroutes: []\nconsumers: []\n");
}

// Issue 14: an aggregate route's parts, its timeout (in ms, as timeout_ms) and partial flag.
TEST(ConfigDocument, AggregateRoutesReadAndExportBack) {
  const ApplyRequest request = Parse(R"(routes:
  - path: /api/home
    methods: [GET]
    aggregate:
      - {key: user, target: users-svc, path_prefix: /users}
      - key: cart
        target: "10.0.0.5:8080"
    aggregate_timeout_ms: 2000
    aggregate_partial: true
)");
  ASSERT_EQ(request.routes_size(), 1);
  const auto& route = request.routes(0);
  EXPECT_EQ(route.target(), "");
  ASSERT_EQ(route.aggregate_size(), 2);
  EXPECT_EQ(route.aggregate(0).key(), "user");
  EXPECT_EQ(route.aggregate(0).target(), "users-svc");
  EXPECT_EQ(route.aggregate(0).path_prefix(), "/users");
  EXPECT_EQ(route.aggregate(1).key(), "cart");
  EXPECT_EQ(route.aggregate(1).target(), "10.0.0.5:8080");
  EXPECT_EQ(route.aggregate(1).path_prefix(), "");
  EXPECT_EQ(route.aggregate_timeout_ms(), 2000u);
  EXPECT_TRUE(route.aggregate_partial());

  Config config;
  *config.add_routes() = route;
  config.mutable_routes(0)->set_match(gateway::v1::MATCH_PREFIX);
  config.mutable_routes(0)->set_version(9);
  const std::string yaml = RenderConfigDocument(config, DocumentFormat::kYaml);
  EXPECT_NE(yaml.find("    aggregate:\n"
                      "      - key: user\n"
                      "        target: users-svc\n"
                      "        path_prefix: /users\n"
                      "      - key: cart\n"
                      "        target: 10.0.0.5:8080\n"
                      "    aggregate_timeout_ms: 2000\n"
                      "    aggregate_partial: true\n"),
            std::string::npos)
      << yaml;
  for (const DocumentFormat format : {DocumentFormat::kYaml, DocumentFormat::kJson}) {
    const std::string text = RenderConfigDocument(config, format);
    const ApplyRequest back = Parse(text);
    ASSERT_EQ(back.routes_size(), 1) << text;
    auto expected = config.routes(0);
    expected.clear_version();
    EXPECT_TRUE(MessageDifferencer::Equals(back.routes(0), expected))
        << text << back.routes(0).DebugString();
  }

  // The diff's flat fields.
  const DocumentFields fields = FieldsOf(config.routes(0));
  const auto field = [&fields](const std::string& key) {
    for (const auto& [name, value] : fields)
      if (name == key) return value;
    return std::string("(absent)");
  };
  EXPECT_EQ(field("aggregate"),
            "[{key: user, target: users-svc, path_prefix: /users}, "
            "{key: cart, target: 10.0.0.5:8080}]");
  EXPECT_EQ(field("aggregate_timeout_ms"), "2000");
  EXPECT_EQ(field("aggregate_partial"), "true");
}

TEST(ConfigDocument, AggregateErrorsNameThePlace) {
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    aggregate: [{key: u, target: s, prefix: /x}]\n"),
            "routes[0].aggregate[0].prefix: unknown field (line 3)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    aggregate:\n      - target: s\n"),
            "routes[0].aggregate[0].key: missing (line 4)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    aggregate:\n      - key: u\n"),
            "routes[0].aggregate[0].target: missing (line 4)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    aggregate: user=users-svc\n"),
            "routes[0].aggregate: expected a list, got the string 'user=users-svc' (line 3)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    aggregate: [{key: 5, target: s}]\n"),
            "routes[0].aggregate[0].key: expected a string, got a number (5) (quote it to make it "
            "a string) (line 3)");
  EXPECT_EQ(
      ErrorOf("routes:\n  - path: /a\n    aggregate_timeout_ms: 2s\n"),
      "routes[0].aggregate_timeout_ms: expected a whole number, got the string '2s' (line 3)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    aggregate_partial: yes\n"),
            "routes[0].aggregate_partial: expected true or false, got the string 'yes' (line 3)");
}

TEST(ConfigDocument, ErrorsNameThePlace) {
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    target: s\n  - path: /b\n    timeot: 5\n"),
            "routes[1].timeot: unknown field (line 5)");
  EXPECT_EQ(ErrorOf(R"({"routes":[{"path":"/a"},{"path":"/b"},{"path":"/c","timeot":5}]})"),
            "routes[2].timeot: unknown field (line 1)");
  EXPECT_EQ(
      ErrorOf("servics: []\n"),
      "servics: unknown field (expected services, routes, consumers or certificates) (line 1)");
  EXPECT_EQ(ErrorOf("services:\n  - name: a\n    endpoints: [a:1]\n    health_check: {pth: /}\n"),
            "services[0].health_check.pth: unknown field (line 4)");
  // Types.
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    timeout_ms: 5s\n"),
            "routes[0].timeout_ms: expected a whole number, got the string '5s' (line 3)");
  EXPECT_EQ(ErrorOf(R"({"routes":[{"path":"/a","retries":"2"}]})"),
            "routes[0].retries: expected a whole number, got the string '2' (line 1)");
  EXPECT_EQ(ErrorOf(R"({"routes":[{"path":"/a","host":5}]})"),
            "routes[0].host: expected a string, got a number (5) (quote it to make it a string) "
            "(line 1)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    strip_prefix: yes\n"),
            "routes[0].strip_prefix: expected true or false, got the string 'yes' (line 3)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    methods: GET\n"),
            "routes[0].methods: expected a list, got the string 'GET' (line 3)");
  EXPECT_EQ(ErrorOf("routes:\n  - /a\n"),
            "routes[0]: expected an object, got the string '/a' (line 2)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    match: fuzzy\n"),
            "routes[0].match: 'fuzzy' is not one of prefix, exact (line 3)");
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    retries: 4294967296\n"),
            "routes[0].retries: '4294967296' is more than 4294967295 (line 3)");
  EXPECT_EQ(ErrorOf("services:\n  - name: a\n    endpoints: [nope]\n").substr(0, 26),
            "services[0].endpoints[0]: ");
  // Missing names.
  EXPECT_EQ(ErrorOf("services:\n  - endpoints: [a:1]\n"), "services[0].name: missing (line 2)");
  EXPECT_EQ(ErrorOf("routes:\n  - target: s\n"), "routes[0].path: missing (line 2)");
  // Keys given twice, in either format.
  EXPECT_EQ(ErrorOf("routes:\n  - path: /a\n    path: /b\n"),
            "routes[0].path: given twice (line 3)");
  EXPECT_EQ(ErrorOf(R"({"services":[],"services":[]})"), "services: given twice (line 1)");
  // Not a document.
  EXPECT_EQ(ErrorOf("   \n"),
            "the document is empty (expected services:, routes:, consumers: or certificates:)");
  EXPECT_EQ(ErrorOf("- a\n- b\n"),
            "the document must be a mapping with services:, routes:, consumers: or certificates: "
            "(line 1)");
  EXPECT_EQ(ErrorOf("services: []\n---\nroutes: []\n"), "expected one document, found 2");
  EXPECT_EQ(ErrorOf("routes: [\n").substr(0, 21), "not valid YAML: line ");
  // Nesting deep enough to exhaust a recursive parser's stack is refused in words.
  EXPECT_EQ(ErrorOf("routes: " + std::string(100000, '[') + "\n"),
            "not valid YAML: nested too deep at line 2");
  EXPECT_EQ(ErrorOf("{\"routes\": " + std::string(100000, '[') + std::string(100000, ']') + "}"),
            "not valid JSON: nested too deep at line 1");
  // JSON is strict: trailing garbage, a trailing comma, a comment.
  for (const char* bad : {R"({"services":[]} x)", R"({"services":[],})", "{\"services\":[]} // c",
                          R"({"services":[]}{"routes":[]})"})
    EXPECT_EQ(ErrorOf(bad).substr(0, 14), "not valid JSON") << bad;
}

}  // namespace
}  // namespace gw::cli
