// How changes read (apply's lines, diff's fields), the --wait verdict over gateway listings, and
// the command line of the new commands: flags, usage errors, the redacted command text.
#include "cli/config_diff.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/command_line.h"
#include "cli/rollout_wait.h"

namespace gw::cli {
namespace {

using namespace std::chrono_literals;
using gateway::v1::GatewayStatus;
using gateway::v1::ListGatewaysResponse;
using gateway::v1::ObjectChange;

ObjectChanges SampleChanges() {
  ObjectChanges changes;
  ObjectChange* created = changes.Add();
  created->set_action(ObjectChange::CREATED);
  auto* service = created->mutable_service_after();
  service->set_name("cart");
  auto* endpoint = service->add_endpoints();
  endpoint->set_host("10.0.0.5");
  endpoint->set_port(8080);
  service->set_connect_timeout_ms(1000);
  service->set_version(8);

  ObjectChange* changed = changes.Add();
  changed->set_action(ObjectChange::CHANGED);
  auto* before = changed->mutable_route_before();
  before->set_path("/api/x");
  before->set_match(gateway::v1::MATCH_PREFIX);
  before->set_target("cart");
  before->set_timeout_ms(5000);
  before->set_retries(2);
  before->set_version(3);
  auto* after = changed->mutable_route_after();
  *after = *before;
  after->set_timeout_ms(10000);
  after->clear_retries();
  after->set_max_body_size(10 << 20);
  after->set_version(8);

  ObjectChange* deleted = changes.Add();
  deleted->set_action(ObjectChange::DELETED);
  deleted->mutable_consumer_before()->set_name("bob");
  return changes;
}

TEST(ConfigDiff, ApplyPrintsOneLinePerObject) {
  EXPECT_EQ(RenderChangeLines(SampleChanges()),
            "service cart created\n"
            "route /api/x (prefix) changed\n"
            "consumer bob deleted\n");
  EXPECT_EQ(RenderChangeLines(SampleChanges(), "(dry run) ").substr(0, 31),
            "(dry run) service cart created\n");
}

TEST(ConfigDiff, DiffShowsEveryFieldThatChanges) {
  EXPECT_EQ(RenderChangeDiff(SampleChanges()),
            "+ service cart\n"
            "    name: cart\n"
            "    endpoints: [10.0.0.5:8080]\n"
            "    connect_timeout_ms: 1000 (1s)\n"
            "~ route /api/x (prefix)\n"
            "    max_body_size: (unset) -> 10485760 (10m)\n"
            "    timeout_ms: 5000 (5s) -> 10000 (10s)\n"
            "    retries: 2 -> (unset)\n"
            "- consumer bob\n");
  EXPECT_EQ(RenderChangeDiff(ObjectChanges()), "");
}

// Issue 14: a route turned into an aggregate shows its target go and its parts come.
TEST(ConfigDiff, AggregatePartsAndPolicies) {
  ObjectChanges changes;
  ObjectChange* changed = changes.Add();
  changed->set_action(ObjectChange::CHANGED);
  auto* before = changed->mutable_route_before();
  before->set_path("/api/home");
  before->set_match(gateway::v1::MATCH_PREFIX);
  before->set_target("home-svc");
  auto* after = changed->mutable_route_after();
  after->set_path("/api/home");
  after->set_match(gateway::v1::MATCH_PREFIX);
  auto* user = after->add_aggregate();
  user->set_key("user");
  user->set_target("users-svc");
  user->set_path_prefix("/users");
  auto* cart = after->add_aggregate();
  cart->set_key("cart");
  cart->set_target("cart-svc");
  after->set_aggregate_timeout_ms(2000);
  after->set_aggregate_partial(true);
  EXPECT_EQ(RenderChangeDiff(changes),
            "~ route /api/home (prefix)\n"
            "    target: home-svc -> \"\"\n"
            "    aggregate: (unset) -> [{key: user, target: users-svc, path_prefix: /users}, "
            "{key: cart, target: cart-svc}]\n"
            "    aggregate_timeout_ms: (unset) -> 2000 (2s)\n"
            "    aggregate_partial: (unset) -> true\n");
}

TEST(ConfigDiff, JsonHasBothSidesWithoutVersions) {
  JsonWriter json;
  WriteChangesJson(json, SampleChanges());
  const std::string text = json.str();
  EXPECT_NE(
      text.find(R"({"action":"created","kind":"service","name":"cart","after":{"name":"cart",)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(R"j("action":"changed","kind":"route","name":"/api/x (prefix)","before":{)j"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"({"action":"deleted","kind":"consumer","name":"bob","before":{"name":"bob"}})"),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find("version"), std::string::npos) << text;
}

GatewayStatus Gateway(const std::string& node, bool connected, uint64_t acked) {
  GatewayStatus gateway;
  gateway.set_node_id(node);
  gateway.set_address("127.0.0.1:80" + node.substr(node.size() - 2));
  gateway.set_connected(connected);
  gateway.set_acked_version(acked);
  return gateway;
}

TEST(RolloutCheck, SettlesWhenEveryConnectedGatewayAckedTheVersion) {
  ListGatewaysResponse start;
  *start.add_gateways() = Gateway("gw-01", true, 6);
  *start.add_gateways() = Gateway("gw-02", true, 6);
  *start.add_gateways() = Gateway("gw-03", false, 2);  // gone before: not waited for
  const RolloutCheck check(7, start);
  EXPECT_FALSE(check.none_connected_at_start());

  RolloutVerdict verdict = check.Check(start, 30s);
  EXPECT_FALSE(verdict.settled);
  ASSERT_EQ(verdict.pending.size(), 2u);
  EXPECT_EQ(verdict.pending[0],
            "gateway gw-01 (127.0.0.1:8001) has not applied version 7 within 30s (at version 6)");

  ListGatewaysResponse now = start;
  now.mutable_gateways(0)->set_acked_version(7);
  now.mutable_gateways(1)->set_acked_version(8);  // later still counts
  verdict = check.Check(now, 30s);
  EXPECT_TRUE(verdict.settled);
  EXPECT_EQ(verdict.live, 2u);
  EXPECT_TRUE(verdict.problems.empty());
}

TEST(RolloutCheck, NamesRefusalsLaggardsAndDepartures) {
  ListGatewaysResponse start;
  *start.add_gateways() = Gateway("gw-01", true, 6);
  *start.add_gateways() = Gateway("gw-02", true, 6);
  *start.add_gateways() = Gateway("gw-03", true, 6);
  const RolloutCheck check(7, start);

  ListGatewaysResponse now = start;
  now.mutable_gateways(0)->set_nacked_version(7);
  now.mutable_gateways(0)->set_error("route /a: bad");
  now.mutable_gateways(1)->set_behind("version 7 needs feature cors, which gateway 0.2.0 lacks");
  now.mutable_gateways(2)->set_connected(false);
  const RolloutVerdict verdict = check.Check(now, 30s);
  EXPECT_TRUE(verdict.settled);
  ASSERT_EQ(verdict.problems.size(), 3u);
  EXPECT_EQ(verdict.problems[0],
            "gateway gw-01 (127.0.0.1:8001) refused version 7: route /a: bad (at version 6)");
  EXPECT_EQ(verdict.problems[1],
            "gateway gw-02 (127.0.0.1:8002) cannot apply version 7: version 7 needs feature "
            "cors, which gateway 0.2.0 lacks (at version 6)");
  EXPECT_EQ(verdict.problems[2],
            "gateway gw-03 (127.0.0.1:8003) disconnected before it applied version 7 (at "
            "version 6)");

  // A NACK of an older version is history, not a refusal of this one.
  ListGatewaysResponse old = start;
  old.mutable_gateways(0)->set_nacked_version(5);
  old.mutable_gateways(0)->set_error("old");
  EXPECT_TRUE(check.Check(old, 1s).problems.empty());
}

TEST(RolloutCheck, NoGatewayConnected) {
  ListGatewaysResponse start;
  *start.add_gateways() = Gateway("gw-01", false, 6);
  EXPECT_TRUE(RolloutCheck(7, start).none_connected_at_start());
}

Command ParseOk(const std::vector<std::string>& args) {
  const CommandLine line = ParseCommandLine(args, std::nullopt);
  EXPECT_EQ(line.outcome, CommandLine::Outcome::kRun) << line.text;
  return line.command;
}

std::string UsageErrorOf(const std::vector<std::string>& args) {
  const CommandLine line = ParseCommandLine(args, std::nullopt);
  EXPECT_EQ(line.outcome, CommandLine::Outcome::kUsageError);
  return line.text;
}

TEST(ConfigCommandLine, ParsesApplyDiffExportHistoryRollback) {
  Command apply = ParseOk({"apply", "-f", "prod.yaml", "--prune", "--dry-run", "--if-version", "12",
                           "--wait", "--wait-timeout", "2s"});
  EXPECT_EQ(apply.action, Action::kApply);
  EXPECT_EQ(apply.file, "prod.yaml");
  EXPECT_TRUE(apply.prune);
  EXPECT_TRUE(apply.dry_run);
  EXPECT_EQ(apply.if_version, 12u);
  EXPECT_TRUE(apply.wait);
  EXPECT_EQ(apply.wait_timeout, 2s);
  EXPECT_EQ(apply.command_line,
            "gatewayctl apply -f prod.yaml --prune --dry-run --if-version 12 --wait "
            "--wait-timeout 2s");
  EXPECT_TRUE(IsWrite(apply.action));

  apply = ParseOk({"apply", "-f", "-"});
  EXPECT_EQ(apply.file, "-");
  EXPECT_FALSE(apply.if_version.has_value());
  EXPECT_FALSE(apply.wait);
  EXPECT_EQ(apply.wait_timeout, kDefaultWaitTimeout);

  const Command diff = ParseOk({"diff", "--file", "a.json", "--prune"});
  EXPECT_EQ(diff.action, Action::kDiff);
  EXPECT_TRUE(diff.prune);
  EXPECT_FALSE(IsWrite(diff.action));

  EXPECT_EQ(ParseOk({"export"}).output, OutputFormat::kYaml);
  EXPECT_EQ(ParseOk({"export", "-o", "yaml"}).output, OutputFormat::kYaml);
  EXPECT_EQ(ParseOk({"export", "-o", "json"}).output, OutputFormat::kJson);

  const Command history = ParseOk({"history", "--limit", "5", "-o", "json"});
  EXPECT_EQ(history.action, Action::kHistory);
  EXPECT_EQ(history.history_limit, 5u);
  EXPECT_EQ(history.output, OutputFormat::kJson);
  const Command show = ParseOk({"history", "show", "7"});
  EXPECT_EQ(show.action, Action::kHistoryShow);
  EXPECT_EQ(show.version, 7u);

  const Command rollback = ParseOk({"rollback", "4", "--dry-run", "--wait"});
  EXPECT_EQ(rollback.action, Action::kRollback);
  EXPECT_EQ(rollback.version, 4u);
  EXPECT_TRUE(rollback.dry_run);
  EXPECT_TRUE(rollback.wait);
}

TEST(ConfigCommandLine, EveryWriteTakesIfVersionAndWait) {
  const std::vector<std::vector<std::string>> writes = {
      {"service", "add", "s", "--endpoint", "a:1"},
      {"service", "update", "s", "--endpoint", "a:1"},
      {"service", "delete", "s"},
      {"route", "add", "/a", "s"},
      {"route", "update", "/a", "t"},
      {"route", "delete", "/a"},
      {"consumer", "add", "c", "--api-key", "k"},
      {"consumer", "delete", "c"},
      {"apply", "-f", "x"},
      {"rollback", "3"}};
  for (auto args : writes) {
    args.insert(args.end(), {"--if-version", "9", "--wait", "--wait-timeout", "500ms"});
    const Command command = ParseOk(args);
    EXPECT_TRUE(IsWrite(command.action)) << args[0];
    EXPECT_EQ(command.if_version, 9u) << args[0];
    EXPECT_TRUE(command.wait) << args[0];
    EXPECT_EQ(command.wait_timeout, 500ms) << args[0];
  }
  // Reads do not take them.
  EXPECT_NE(UsageErrorOf({"route", "list", "--wait"}).find("unknown flag '--wait'"),
            std::string::npos);
  EXPECT_NE(UsageErrorOf({"diff", "-f", "x", "--if-version", "3"}).find("--if-version"),
            std::string::npos);
}

TEST(ConfigCommandLine, UsageErrors) {
  EXPECT_EQ(UsageErrorOf({"apply"}).substr(0, 23), "gatewayctl: --file is r");
  EXPECT_EQ(UsageErrorOf({"apply", "-f", "x", "--wait-timeout", "2s"}),
            "gatewayctl: --wait-timeout needs --wait; see 'gatewayctl apply --help'");
  EXPECT_EQ(UsageErrorOf({"apply", "-f", "x", "--wait", "--wait-timeout", "2x"}).substr(0, 32),
            "gatewayctl: --wait-timeout: '2x'");
  EXPECT_EQ(UsageErrorOf({"export", "-o", "table"}),
            "gatewayctl: -o must be yaml or json for export, not 'table'; see 'gatewayctl "
            "export --help'");
  EXPECT_EQ(UsageErrorOf({"route", "list", "-o", "yaml"}),
            "gatewayctl: -o must be table or json, not 'yaml' (yaml is for export); see "
            "'gatewayctl --help'");
  UsageErrorOf({"rollback"});
  UsageErrorOf({"rollback", "x"});
  UsageErrorOf({"history", "show"});
  UsageErrorOf({"route", "add", "/a", "s", "--if-version", "x"});
}

TEST(ConfigCommandLine, SecretsAreRedactedInTheCommandText) {
  EXPECT_EQ(RedactedCommandLine({"consumer", "add", "alice", "--api-key", "k1", "--api-key=k2",
                                 "--jwt-issuer", "iss", "--jwt-secret", "s3cret"}),
            "gatewayctl consumer add alice --api-key *** --api-key=*** --jwt-issuer iss "
            "--jwt-secret ***");
  EXPECT_EQ(RedactedCommandLine({"--token", "t0ken", "route", "list", "--token=t1"}),
            "gatewayctl --token *** route list --token=***");
  EXPECT_EQ(RedactedCommandLine(
                {"route", "add", "/a", "s", "--host", "*.example.com", "--header", "x-v=it's 2"}),
            "gatewayctl route add /a s --host '*.example.com' --header 'x-v=it'\\''s 2'");
  EXPECT_EQ(RedactedCommandLine({}), "gatewayctl");
  // What a write sends.
  const Command add = ParseOk({"consumer", "add", "alice", "--api-key", "alice-key-0123456789"});
  EXPECT_EQ(add.command_line, "gatewayctl consumer add alice --api-key ***");
}

}  // namespace
}  // namespace gw::cli
