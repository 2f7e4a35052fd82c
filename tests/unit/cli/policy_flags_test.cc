// gatewayctl's issue-4 flags, from the command line to the request: what each flag sets, which
// update-mask paths an update sends, --reset, and the values refused before any call.
#include "cli/policy_flags.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "cli/command_line.h"
#include "cli/output.h"

namespace gw::cli {
namespace {

using gateway::v1::Route;
using gateway::v1::Service;

Command Parse(const std::vector<std::string>& args) {
  const CommandLine line = ParseCommandLine(args, std::nullopt);
  EXPECT_EQ(line.outcome, CommandLine::Outcome::kRun) << line.text;
  return line.command;
}

std::string UsageError(const std::vector<std::string>& args) {
  const CommandLine line = ParseCommandLine(args, std::nullopt);
  EXPECT_EQ(line.outcome, CommandLine::Outcome::kUsageError);
  return line.text;
}

std::vector<std::string> Paths(const google::protobuf::FieldMask& mask) {
  std::vector<std::string> paths(mask.paths().begin(), mask.paths().end());
  std::sort(paths.begin(), paths.end());
  return paths;
}

TEST(RouteFlags, AddSetsEveryPolicy) {
  const Command command = Parse({"route",
                                 "add",
                                 "/api",
                                 "pay=90",
                                 "pay-v2=10",
                                 "--host",
                                 "*.example.com",
                                 "--method",
                                 "GET",
                                 "--method",
                                 "post",
                                 "--header",
                                 "X-Version=2",
                                 "--strip-prefix",
                                 "--set-request-header",
                                 "X-Env=prod",
                                 "--remove-request-header",
                                 "Cookie",
                                 "--set-response-header",
                                 "Cache-Control=no-store",
                                 "--remove-response-header",
                                 "Server",
                                 "--timeout",
                                 "2s",
                                 "--retries",
                                 "2",
                                 "--per-try-timeout",
                                 "500ms",
                                 "--rate-limit",
                                 "100/m",
                                 "--burst",
                                 "20",
                                 "--rate-limit-by",
                                 "header:x-user",
                                 "--rate-limit-scope",
                                 "cluster",
                                 "--auth",
                                 "api-key",
                                 "--cors-origin",
                                 "https://a.example",
                                 "--cors-origin",
                                 "http://b.example:8080",
                                 "--cors-methods",
                                 "GET,POST",
                                 "--cors-headers",
                                 "X-A,X-B",
                                 "--cors-max-age",
                                 "10m",
                                 "--max-body-size",
                                 "1k"});
  Route route;
  ASSERT_EQ(BuildRouteMatch(command, &route), "");
  ASSERT_EQ(BuildRoutePolicies(command, &route, nullptr), "");
  EXPECT_EQ(route.match(), gateway::v1::MATCH_PREFIX);
  EXPECT_EQ(route.host(), "*.example.com");
  ASSERT_EQ(route.methods_size(), 2);
  EXPECT_EQ(route.headers(0).name(), "X-Version");
  EXPECT_EQ(route.headers(0).value(), "2");
  EXPECT_EQ(route.target(), "");
  ASSERT_EQ(route.split_size(), 2);
  EXPECT_EQ(route.split(1).target(), "pay-v2");
  EXPECT_EQ(route.split(1).weight(), 10u);
  EXPECT_TRUE(route.strip_prefix());
  EXPECT_EQ(route.set_request_headers(0).value(), "prod");
  EXPECT_EQ(route.remove_request_headers(0), "Cookie");
  EXPECT_EQ(route.set_response_headers(0).name(), "Cache-Control");
  EXPECT_EQ(route.remove_response_headers(0), "Server");
  EXPECT_EQ(route.timeout_ms(), 2000u);
  EXPECT_EQ(route.retries(), 2u);
  EXPECT_EQ(route.per_try_timeout_ms(), 500u);
  EXPECT_EQ(route.rate_limit().requests(), 100u);
  EXPECT_EQ(route.rate_limit().period_seconds(), 60u);
  EXPECT_EQ(route.rate_limit().burst(), 20u);
  EXPECT_EQ(route.rate_limit().key(), "header:x-user");
  EXPECT_EQ(route.rate_limit().scope(), gateway::v1::RateLimit::SCOPE_CLUSTER);
  EXPECT_EQ(route.auth(), gateway::v1::AUTH_API_KEY);
  EXPECT_EQ(route.cors().origins_size(), 2);
  EXPECT_EQ(route.cors().methods_size(), 2);
  EXPECT_EQ(route.cors().headers(1), "X-B");
  EXPECT_EQ(route.cors().max_age_seconds(), 600u);
  EXPECT_EQ(route.max_body_size(), 1024u);
  EXPECT_EQ(command.timeout, kDefaultTimeout);  // --timeout after `route add` is the route's
}

TEST(RouteFlags, LoneTargetAndDefaultWeight) {
  Route one;
  ASSERT_EQ(BuildRoutePolicies(Parse({"route", "add", "/a", "pay"}), &one, nullptr), "");
  EXPECT_EQ(one.target(), "pay");
  // Issue 9: a lone TARGET=WEIGHT (pay=0 was stored as a plain route to pay) is refused.
  for (const char* lone : {"pay=5", "pay=0"}) {
    Route weighted;
    EXPECT_EQ(BuildRoutePolicies(Parse({"route", "add", "/a", lone}), &weighted, nullptr),
              "a lone TARGET=WEIGHT ('" + std::string(lone) +
                  "') is no split: give the TARGET alone ('pay'), or two or more TARGET=WEIGHT");
  }
  Route split;
  ASSERT_EQ(BuildRoutePolicies(Parse({"route", "add", "/a", "pay", "pay-v2=10"}), &split, nullptr),
            "");
  ASSERT_EQ(split.split_size(), 2);
  EXPECT_EQ(split.split(0).weight(), 100u);  // a lone TARGET means weight 100
}

TEST(RouteFlags, UpdateNamesWhatIsGivenAndResets) {
  const Command command =
      Parse({"route", "update", "/api", "--host", "a.example", "--burst", "5", "--retries", "1",
             "--cors-origin", "*", "--reset", "timeout", "--reset", "rate-limit-by,auth"});
  Route route;
  google::protobuf::FieldMask mask;
  ASSERT_EQ(BuildRouteMatch(command, &route), "");
  ASSERT_EQ(BuildRoutePolicies(command, &route, &mask), "");
  EXPECT_EQ(route.host(), "a.example");  // names the route
  EXPECT_EQ(Paths(mask), (std::vector<std::string>{"auth", "cors.origins", "rate_limit.burst",
                                                   "rate_limit.key", "retries", "timeout_ms"}));
  EXPECT_EQ(route.rate_limit().key(), "");  // reset: the zero value, then the default "ip"

  google::protobuf::FieldMask split_mask;
  Route split;
  ASSERT_EQ(
      BuildRoutePolicies(Parse({"route", "update", "/api", "a=1", "b=2"}), &split, &split_mask),
      "");
  EXPECT_EQ(Paths(split_mask), std::vector<std::string>{"split"});
  google::protobuf::FieldMask rate_mask;
  ASSERT_EQ(BuildRoutePolicies(Parse({"route", "update", "/api", "--rate-limit", "5/h"}), &split,
                               &rate_mask),
            "");
  EXPECT_EQ(Paths(rate_mask),
            (std::vector<std::string>{"rate_limit.period_seconds", "rate_limit.requests"}));

  // The scope alone is one sub-field, so the stored rate and burst are kept; --reset puts it
  // back to gateway.
  for (const char* scope : {"cluster", "gateway"}) {
    google::protobuf::FieldMask scope_mask;
    Route scoped;
    ASSERT_EQ(BuildRoutePolicies(Parse({"route", "update", "/api", "--rate-limit-scope", scope}),
                                 &scoped, &scope_mask),
              "");
    EXPECT_EQ(Paths(scope_mask), std::vector<std::string>{"rate_limit.scope"});
    EXPECT_EQ(scoped.rate_limit().scope(), std::string_view(scope) == "cluster"
                                               ? gateway::v1::RateLimit::SCOPE_CLUSTER
                                               : gateway::v1::RateLimit::SCOPE_GATEWAY);
  }
  google::protobuf::FieldMask reset_mask;
  Route reset;
  ASSERT_EQ(BuildRoutePolicies(Parse({"route", "update", "/api", "--reset", "rate-limit-scope"}),
                               &reset, &reset_mask),
            "");
  EXPECT_EQ(Paths(reset_mask), std::vector<std::string>{"rate_limit.scope"});
  EXPECT_EQ(reset.rate_limit().scope(), gateway::v1::RateLimit::SCOPE_GATEWAY);
}

TEST(RouteFlags, BadValuesAreRefusedBeforeAnyCall) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--timeout", "5x"}, "bad --timeout: invalid duration '5x'"},
      {{"--retries", "two"}, "bad --retries: 'two' is not a whole number"},
      {{"--per-try-timeout", "1d"}, "bad --per-try-timeout: invalid duration '1d'"},
      {{"--rate-limit", "100"}, "bad --rate-limit: '100' is not N/s, N/m or N/h"},
      {{"--rate-limit", "100/d"}, "is not N/s, N/m or N/h"},
      {{"--rate-limit", "x/s"}, "bad --rate-limit: 'x' is not a whole number"},
      {{"--auth", "basic"}, "bad --auth: 'basic' is not api-key, jwt or none"},
      {{"--rate-limit-scope", "global"},
       "bad --rate-limit-scope: 'global' is not gateway or cluster"},
      {{"--header", "novalue"}, "bad --header: 'novalue' is not NAME=VALUE"},
      {{"--set-request-header", "=x"}, "is not NAME=VALUE"},
      {{"--cors-max-age", "1500ms"}, "is not whole seconds"},
      {{"--max-body-size", "lots"}, "bad --max-body-size"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"route", "add", "/api", "pay"};
    args.insert(args.end(), flags.begin(), flags.end());
    const Command command = Parse(args);
    Route route;
    std::string error = BuildRouteMatch(command, &route);
    if (error.empty()) error = BuildRoutePolicies(command, &route, nullptr);
    EXPECT_NE(error.find(message), std::string::npos) << flags[0] << ": " << error;
  }
  Route weight;
  EXPECT_NE(BuildRoutePolicies(Parse({"route", "add", "/a", "a=x", "b"}), &weight, nullptr)
                .find("is not a whole number"),
            std::string::npos);
}

TEST(RouteFlags, UsageErrors) {
  EXPECT_NE(UsageError({"route", "update", "/a", "--reset", "nope"})
                .find("--reset 'nope' is not a route field"),
            std::string::npos);
  EXPECT_NE(UsageError({"route", "update", "/a", "--host", "x.example"}).find("nothing to update"),
            std::string::npos);
  EXPECT_NE(UsageError({"route", "get", "/a", "--retries", "1"}).find("unknown flag '--retries'"),
            std::string::npos);
  EXPECT_EQ(Parse({"route", "delete", "/a", "--method", "GET,POST"}).methods.size(), 2u);
}

TEST(ServiceFlags, AddAndUpdate) {
  const Command add = Parse({"service",     "add",
                             "pay",         "--endpoint",
                             "127.0.0.1:1", "--lb",
                             "ring_hash",   "--hash-header",
                             "x-user",      "--health-path",
                             "/healthz",    "--health-interval",
                             "500ms",       "--unhealthy-threshold",
                             "2",           "--healthy-threshold",
                             "4",           "--eject-after",
                             "5",           "--eject-for",
                             "1m",          "--max-connections",
                             "100",         "--max-pending",
                             "10",          "--connect-timeout",
                             "250ms"});
  Service service;
  ASSERT_EQ(BuildServicePolicies(add, &service, nullptr), "");
  EXPECT_EQ(service.lb(), gateway::v1::LB_RING_HASH);
  EXPECT_EQ(service.hash_header(), "x-user");
  EXPECT_EQ(service.health_check().path(), "/healthz");
  EXPECT_EQ(service.health_check().interval_ms(), 500u);
  EXPECT_EQ(service.health_check().unhealthy_threshold(), 2u);
  EXPECT_EQ(service.health_check().healthy_threshold(), 4u);
  EXPECT_EQ(service.eject_after(), 5u);
  EXPECT_EQ(service.eject_for_ms(), 60000u);
  EXPECT_EQ(service.max_connections(), 100u);
  EXPECT_EQ(service.max_pending(), 10u);
  EXPECT_EQ(service.connect_timeout_ms(), 250u);

  Service update;
  google::protobuf::FieldMask mask;
  ASSERT_EQ(BuildServicePolicies(Parse({"service", "update", "pay", "--lb", "least-request",
                                        "--reset", "health", "--health-interval", "1s"}),
                                 &update, &mask),
            "");
  EXPECT_EQ(update.lb(), gateway::v1::LB_LEAST_REQUEST);
  EXPECT_EQ(Paths(mask),
            (std::vector<std::string>{"health_check", "health_check.interval_ms", "lb"}));
  Service bad;
  EXPECT_NE(
      BuildServicePolicies(Parse({"service", "update", "pay", "--lb", "fastest"}), &bad, nullptr)
          .find("bad --lb: 'fastest'"),
      std::string::npos);
  EXPECT_NE(BuildServicePolicies(Parse({"service", "update", "pay", "--eject-for", "soon"}), &bad,
                                 nullptr)
                .find("bad --eject-for: invalid duration 'soon'"),
            std::string::npos);
  EXPECT_EQ(BuildServicePolicies(Parse({"service", "update", "pay", "--healthy-threshold", "0"}),
                                 &bad, nullptr),
            "bad --healthy-threshold: must be at least 1");
  // Ejection switched off takes its duration with it.
  for (const auto& off : {std::vector<std::string>{"--eject-after", "0"},
                          std::vector<std::string>{"--reset", "eject"}}) {
    std::vector<std::string> args = {"service", "update", "pay"};
    args.insert(args.end(), off.begin(), off.end());
    Service eject_off;
    google::protobuf::FieldMask off_mask;
    ASSERT_EQ(BuildServicePolicies(Parse(args), &eject_off, &off_mask), "");
    EXPECT_EQ(Paths(off_mask), (std::vector<std::string>{"eject_after", "eject_for_ms"}));
  }
  EXPECT_NE(UsageError({"service", "update", "pay", "--reset", "endpoints"})
                .find("is not a service field"),
            std::string::npos);
  EXPECT_NE(UsageError({"service", "add", "pay"}).find("--endpoint is required"),
            std::string::npos);
}

TEST(ConsumerFlags, CredentialsAreChecked) {
  const Command add = Parse({"consumer", "add", "alice", "--api-key", "k1-0123456789abcdef",
                             "--api-key", "k2-0123456789abcdef"});
  EXPECT_EQ(add.action, Action::kConsumerAdd);
  EXPECT_EQ(add.api_keys.size(), 2u);
  const Command jwt =
      Parse({"consumer", "add", "bob", "--jwt-issuer", "iss", "--jwt-public-key", "bob.pem"});
  EXPECT_EQ(jwt.jwt_public_key_file, "bob.pem");
  EXPECT_NE(UsageError({"consumer", "add", "c", "--jwt-issuer", "iss"}).find("needs --jwt-secret"),
            std::string::npos);
  EXPECT_NE(UsageError({"consumer", "add", "c", "--jwt-secret", "s"}).find("need --jwt-issuer"),
            std::string::npos);
  EXPECT_NE(UsageError({"consumer", "add", "c"}).find("give the consumer's credentials"),
            std::string::npos);
  EXPECT_NE(UsageError({"consumer", "add", "c", "--jwt-issuer", "i", "--jwt-secret", "s",
                        "--jwt-public-key", "f"})
                .find("cannot be used together"),
            std::string::npos);
  EXPECT_EQ(Parse({"consumer", "list"}).action, Action::kConsumerList);
  EXPECT_EQ(Parse({"consumer", "get", "alice"}).action, Action::kConsumerGet);
  EXPECT_EQ(Parse({"consumer", "delete", "alice"}).action, Action::kConsumerDelete);
}

TEST(ConsumerOutput, NeverShowsKeysOrSecrets) {
  gateway::v1::Consumer consumer;
  consumer.set_name("alice");
  consumer.add_api_key_sha256(std::string(64, 'a'));
  consumer.mutable_jwt()->set_issuer("https://idp");
  consumer.mutable_jwt()->set_secret_sha256(std::string(64, 'b'));  // as admin answers have it
  consumer.set_version(3);
  ProtoList<gateway::v1::Consumer> list;
  *list.Add() = consumer;
  EXPECT_EQ(RenderConsumers(list, OutputFormat::kTable),
            "NAME   API KEYS  JWT                  VERSION\n"
            "alice  1         https://idp (HS256)  3\n");
  EXPECT_EQ(RenderConsumer(consumer, OutputFormat::kJson),
            R"({"name":"alice","api_key_sha256":[")" + std::string(64, 'a') +
                R"("],"jwt":{"issuer":"https://idp","secret_sha256":")" + std::string(64, 'b') +
                R"("},"version":3})"
                "\n");
  EXPECT_EQ(RenderConsumerWrite(consumer, "created", 3, OutputFormat::kTable),
            "consumer alice (1 api key, jwt https://idp (HS256)) created at version 3\n");
}

TEST(RouteOutput, GetShowsEveryPolicy) {
  Route route;
  route.set_path("/api");
  route.set_match(gateway::v1::MATCH_PREFIX);
  route.set_host("a.example");
  auto* split = route.add_split();
  split->set_target("a");
  split->set_weight(90);
  split = route.add_split();
  split->set_target("b");
  split->set_weight(10);
  route.set_retries(2);
  route.mutable_rate_limit()->set_requests(100);
  route.mutable_rate_limit()->set_period_seconds(1);
  route.mutable_rate_limit()->set_key("ip");
  route.set_auth(gateway::v1::AUTH_JWT);
  route.set_version(4);
  EXPECT_EQ(RenderRoute(route, OutputFormat::kTable),
            "PATH  MATCH   CONDITIONS      TARGET     MAX BODY  POLICIES                     "
            "VERSION\n"
            "/api  prefix  host=a.example  a=90,b=10  default   auth=jwt rl=100/s retries=2  4\n"
            "\n"
            "split:       a weight 90\n"
            "split:       b weight 10\n"
            "retries:     2\n"
            "rate limit:  100/s burst 100 by ip (per gateway)\n"
            "auth:        jwt\n");
  EXPECT_EQ(RenderRoute(route, OutputFormat::kJson),
            R"({"path":"/api","match":"prefix","host":"a.example","target":"",)"
            R"("split":[{"target":"a","weight":90},{"target":"b","weight":10}],"retries":2,)"
            R"("rate_limit":{"requests":100,"period_seconds":1,"key":"ip","scope":"gateway"},)"
            R"("auth":"jwt","version":4})"
            "\n");

  route.mutable_rate_limit()->set_scope(gateway::v1::RateLimit::SCOPE_CLUSTER);
  const std::string table = RenderRoute(route, OutputFormat::kTable);
  EXPECT_NE(table.find("auth=jwt rl=100/s rl-scope=cluster retries=2"), std::string::npos) << table;
  EXPECT_NE(table.find("rate limit:  100/s burst 100 by ip (cluster-wide)\n"), std::string::npos)
      << table;
  EXPECT_NE(RenderRoute(route, OutputFormat::kJson)
                .find(R"("rate_limit":{"requests":100,"period_seconds":1,"key":"ip",)"
                      R"("scope":"cluster"})"),
            std::string::npos);
}

// Issue 14: `--aggregate KEY=TARGET[:PATH_PREFIX]`; the PATH_PREFIX starts at the first ":/".
TEST(AggregateFlags, KeyTargetAndPathPrefix) {
  struct Case {
    std::string text, key, target, prefix;
  };
  const Case cases[] = {
      {"user=users-svc:/users", "user", "users-svc", "/users"},
      {"user=users-svc", "user", "users-svc", ""},
      {"cart=10.0.0.5:8080:/carts", "cart", "10.0.0.5:8080", "/carts"},
      {"cart=10.0.0.5:8080", "cart", "10.0.0.5:8080", ""},
      {"v6=[::1]:8080:/x", "v6", "[::1]:8080", "/x"},
      {"v6=[::1]:8080", "v6", "[::1]:8080", ""},
      {"dns=api.example.com:/v1/a:b", "dns", "api.example.com", "/v1/a:b"},
      {"a=b=c", "a", "b=c",
       ""},  // the KEY ends at the first '='; the control plane judges the rest
  };
  for (const Case& c : cases) {
    gateway::v1::AggregatePart part;
    EXPECT_EQ(ParseAggregatePart(c.text, &part), "") << c.text;
    EXPECT_EQ(part.key(), c.key) << c.text;
    EXPECT_EQ(part.target(), c.target) << c.text;
    EXPECT_EQ(part.path_prefix(), c.prefix) << c.text;
  }
  const std::pair<std::string, std::string> bad[] = {
      {"user", "bad --aggregate: 'user' has no '=' (expected KEY=TARGET[:PATH_PREFIX])"},
      {"=users-svc",
       "bad --aggregate: '=users-svc' has no KEY before '=' (expected "
       "KEY=TARGET[:PATH_PREFIX])"},
      {"user=", "bad --aggregate: 'user=' has no TARGET (expected KEY=TARGET[:PATH_PREFIX])"},
      {"user=:/users", "bad --aggregate: 'user=:/users' has no TARGET"},
      {"user=http://users-svc/users",
       "bad --aggregate: 'user=http://users-svc/users': TARGET is a service or HOST:PORT, not a "
       "URL"},
  };
  for (const auto& [text, message] : bad) {
    gateway::v1::AggregatePart part;
    EXPECT_EQ(ParseAggregatePart(text, &part).find(message), 0u)
        << text << ": " << ParseAggregatePart(text, &part);
  }
}

TEST(AggregateFlags, AddKeepsThePartsInOrderWithTheirPolicies) {
  const Command command =
      Parse({"route", "add", "/api/home", "--aggregate", "user=users-svc:/users", "--aggregate",
             "cart=10.0.0.5:8080", "--aggregate-timeout", "2s", "--aggregate-partial", "--method",
             "GET"});
  EXPECT_TRUE(command.targets.empty());
  Route route;
  ASSERT_EQ(BuildRouteMatch(command, &route), "");
  ASSERT_EQ(BuildRoutePolicies(command, &route, nullptr), "");
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

  Route bad;
  EXPECT_EQ(BuildRoutePolicies(Parse({"route", "add", "/a", "--aggregate", "user"}), &bad, nullptr),
            "bad --aggregate: 'user' has no '=' (expected KEY=TARGET[:PATH_PREFIX])");
  Route bad_timeout;
  EXPECT_EQ(BuildRoutePolicies(
                Parse({"route", "add", "/a", "--aggregate", "u=s", "--aggregate-timeout", "2x"}),
                &bad_timeout, nullptr),
            "bad --aggregate-timeout: invalid duration '2x' (write e.g. 250ms, 2s, 1m, 1h)");
}

TEST(AggregateFlags, UpdateReplacesThePartsAndResetsThePolicies) {
  google::protobuf::FieldMask mask;
  Route route;
  ASSERT_EQ(BuildRoutePolicies(Parse({"route", "update", "/api/home", "--aggregate", "user=u",
                                      "--aggregate-timeout", "500ms"}),
                               &route, &mask),
            "");
  EXPECT_EQ(Paths(mask), (std::vector<std::string>{"aggregate", "aggregate_timeout_ms"}));
  EXPECT_EQ(route.aggregate_size(), 1);

  google::protobuf::FieldMask partial_mask;
  Route partial;
  ASSERT_EQ(BuildRoutePolicies(Parse({"route", "update", "/api/home", "--aggregate-partial"}),
                               &partial, &partial_mask),
            "");
  EXPECT_EQ(Paths(partial_mask), std::vector<std::string>{"aggregate_partial"});
  EXPECT_EQ(partial.aggregate_size(), 0);  // the parts are kept: not named

  google::protobuf::FieldMask reset_mask;
  Route reset;
  ASSERT_EQ(BuildRoutePolicies(Parse({"route", "update", "/api/home", "--reset",
                                      "aggregate-timeout", "--reset", "aggregate-partial"}),
                               &reset, &reset_mask),
            "");
  EXPECT_EQ(Paths(reset_mask),
            (std::vector<std::string>{"aggregate_partial", "aggregate_timeout_ms"}));
  EXPECT_EQ(reset.aggregate_timeout_ms(), 0u);
  EXPECT_FALSE(reset.aggregate_partial());
}

TEST(AggregateFlags, UsageErrors) {
  EXPECT_EQ(UsageError({"route", "add", "/a", "pay", "--aggregate", "user=u"}),
            "gatewayctl: give either TARGETs or --aggregate parts, not both; see 'gatewayctl "
            "route add --help'");
  EXPECT_EQ(UsageError({"route", "update", "/a", "pay", "--aggregate", "user=u"}),
            "gatewayctl: give either TARGETs or --aggregate parts, not both; see 'gatewayctl "
            "route update --help'");
  EXPECT_EQ(UsageError({"route", "add", "/a", "--aggregate-timeout", "2s"}),
            "gatewayctl: TARGET is required (or --aggregate KEY=TARGET[:PATH_PREFIX] parts); see "
            "'gatewayctl route add --help'");
  EXPECT_EQ(UsageError({"route", "update", "/a", "--reset", "aggregate"}),
            "gatewayctl: --reset aggregate: a route needs a target, a split or aggregate parts; "
            "give a TARGET instead, which replaces the parts; see 'gatewayctl route update "
            "--help'");
  EXPECT_NE(UsageError({"route", "get", "/a", "--aggregate", "u=s"}).find("unknown flag"),
            std::string::npos);
  // The help shows the flags with an example.
  const CommandLine help = ParseCommandLine({"route", "add", "--help"}, std::nullopt);
  ASSERT_EQ(help.outcome, CommandLine::Outcome::kHelp);
  for (const char* text :
       {"--aggregate KEY=TARGET[:PATH_PREFIX]", "--aggregate-timeout", "--aggregate-partial",
        "gatewayctl route add /api/home --aggregate user=users-svc:/users"})
    EXPECT_NE(help.text.find(text), std::string::npos) << text << "\n" << help.text;
}

TEST(AggregateOutput, TableJsonAndGetLines) {
  Route route;
  route.set_path("/api/home");
  route.set_match(gateway::v1::MATCH_PREFIX);
  auto* user = route.add_aggregate();
  user->set_key("user");
  user->set_target("users-svc");
  user->set_path_prefix("/users");
  auto* cart = route.add_aggregate();
  cart->set_key("cart");
  cart->set_target("10.0.0.5:8080");
  route.set_aggregate_timeout_ms(2000);
  route.set_aggregate_partial(true);
  route.set_version(7);
  EXPECT_EQ(RenderRoute(route, OutputFormat::kTable),
            "PATH       MATCH   CONDITIONS  TARGET                MAX BODY  POLICIES              "
            "                  VERSION\n"
            "/api/home  prefix  -           aggregate(user,cart)  default   aggregate-timeout=2s "
            "aggregate-partial  7\n"
            "\n"
            "aggregate:          user from users-svc (path prefix /users)\n"
            "aggregate:          cart from 10.0.0.5:8080\n"
            "aggregate timeout:  2s\n"
            "aggregate partial:  yes (a failed part is null in a 200)\n");
  EXPECT_EQ(RenderRoute(route, OutputFormat::kJson),
            R"({"path":"/api/home","match":"prefix","target":"",)"
            R"("aggregate":[{"key":"user","target":"users-svc","path_prefix":"/users"},)"
            R"({"key":"cart","target":"10.0.0.5:8080"}],"aggregate_timeout_ms":2000,)"
            R"("aggregate_partial":true,"version":7})"
            "\n");
  EXPECT_EQ(RenderRouteWrite(route, "created", 7, OutputFormat::kTable),
            "route /api/home (prefix) -> aggregate(user=users-svc:/users,cart=10.0.0.5:8080) "
            "[aggregate-timeout=2s aggregate-partial] created at version 7\n");
}

}  // namespace
}  // namespace gw::cli
