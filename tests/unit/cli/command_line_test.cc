#include "cli/command_line.h"

#include <gtest/gtest.h>

namespace gw::cli {
namespace {

using gateway::v1::MATCH_EXACT;
using gateway::v1::MATCH_PREFIX;
using gateway::v1::MATCH_UNSPECIFIED;

Command Parse(const std::vector<std::string>& args,
              std::optional<std::string_view> env = std::nullopt) {
  const CommandLine line = ParseCommandLine(args, env);
  EXPECT_EQ(line.outcome, CommandLine::Outcome::kRun) << line.text;
  return line.command;
}

// Asserts a usage error and returns its one line.
std::string UsageError(const std::vector<std::string>& args,
                       std::optional<std::string_view> env = std::nullopt) {
  const CommandLine line = ParseCommandLine(args, env);
  EXPECT_EQ(line.outcome, CommandLine::Outcome::kUsageError);
  EXPECT_EQ(line.text.find('\n'), std::string::npos) << line.text;
  EXPECT_EQ(line.text.rfind("gatewayctl: ", 0), 0u) << line.text;
  EXPECT_NE(line.text.find("; see 'gatewayctl"), std::string::npos) << line.text;
  EXPECT_NE(line.text.find(" --help'"), std::string::npos) << line.text;
  return line.text;
}

TEST(ParseCommandLine, Defaults) {
  const Command command = Parse({"status"});
  EXPECT_EQ(command.action, Action::kStatus);
  EXPECT_EQ(command.server, "127.0.0.1:50051");
  EXPECT_EQ(command.output, OutputFormat::kTable);
  EXPECT_EQ(command.timeout, std::chrono::seconds(5));
  EXPECT_EQ(Parse({"gateways"}).action, Action::kGateways);
}

TEST(ParseCommandLine, ServiceCommands) {
  Command add = Parse({"service", "add", "payment-svc", "--endpoint", "127.0.0.1:9102"});
  EXPECT_EQ(add.action, Action::kServiceAdd);
  EXPECT_EQ(add.name, "payment-svc");
  EXPECT_EQ(add.endpoints, std::vector<std::string>{"127.0.0.1:9102"});

  // Repeated flags, commas, and the flag before NAME.
  Command update =
      Parse({"service", "update", "--endpoint", "a:1,[::1]:2", "order-svc", "--endpoint", "b:3"});
  EXPECT_EQ(update.action, Action::kServiceUpdate);
  EXPECT_EQ(update.name, "order-svc");
  EXPECT_EQ(update.endpoints, (std::vector<std::string>{"a:1", "[::1]:2", "b:3"}));

  EXPECT_EQ(Parse({"service", "list"}).action, Action::kServiceList);
  Command get = Parse({"service", "get", "order-svc"});
  EXPECT_EQ(get.action, Action::kServiceGet);
  EXPECT_EQ(get.name, "order-svc");
  Command remove = Parse({"service", "delete", "order-svc"});
  EXPECT_EQ(remove.action, Action::kServiceDelete);
  EXPECT_EQ(remove.name, "order-svc");
}

TEST(ParseCommandLine, RouteAddIsPrefixUnlessExact) {
  Command add = Parse({"route", "add", "/api/payment", "payment-svc"});
  EXPECT_EQ(add.action, Action::kRouteAdd);
  EXPECT_EQ(add.path, "/api/payment");
  EXPECT_EQ(add.target, "payment-svc");
  EXPECT_EQ(add.match, MATCH_PREFIX);
  EXPECT_EQ(Parse({"route", "add", "/health", "order-svc", "--exact"}).match, MATCH_EXACT);
  EXPECT_EQ(Parse({"route", "add", "--exact", "/health", "order-svc"}).match, MATCH_EXACT);
  EXPECT_EQ(Parse({"route", "add", "/a", "b", "--prefix"}).match, MATCH_PREFIX);
}

TEST(ParseCommandLine, RouteKeyCommandsLeaveMatchUnspecifiedUnlessTold) {
  Command update = Parse({"route", "update", "/api", "order-svc"});
  EXPECT_EQ(update.action, Action::kRouteUpdate);
  EXPECT_EQ(update.path, "/api");
  EXPECT_EQ(update.target, "order-svc");
  EXPECT_EQ(update.match, MATCH_UNSPECIFIED);
  EXPECT_EQ(Parse({"route", "update", "/api", "x", "--exact"}).match, MATCH_EXACT);
  EXPECT_EQ(Parse({"route", "update", "/api", "x", "--prefix"}).match, MATCH_PREFIX);

  for (const std::string verb : {"get", "delete"}) {
    Command command = Parse({"route", verb, "/api"});
    EXPECT_EQ(command.action, verb == "get" ? Action::kRouteGet : Action::kRouteDelete);
    EXPECT_EQ(command.path, "/api");
    EXPECT_EQ(command.match, MATCH_UNSPECIFIED);
    EXPECT_EQ(Parse({"route", verb, "/api", "--exact"}).match, MATCH_EXACT);
    EXPECT_EQ(Parse({"route", verb, "--prefix", "/api"}).match, MATCH_PREFIX);
  }
  EXPECT_EQ(Parse({"route", "list"}).action, Action::kRouteList);
}

TEST(ParseCommandLine, RouteBodyLimitIsKeptAsTypedAndOnlyWhenGiven) {
  EXPECT_FALSE(Parse({"route", "add", "/upload", "files"}).max_body_size);
  Command add = Parse({"route", "add", "/upload", "files", "--max-body-size", "10m"});
  EXPECT_EQ(add.max_body_size, "10m");
  EXPECT_EQ(add.target, "files");
  EXPECT_EQ(Parse({"route", "add", "--max-body-size=512k", "/upload", "files"}).max_body_size,
            "512k");
  // Checked by the route command (exit 1), not as usage: whatever was typed is kept.
  EXPECT_EQ(Parse({"route", "add", "/upload", "files", "--max-body-size", "10x"}).max_body_size,
            "10x");
  EXPECT_EQ(Parse({"route", "add", "/upload", "files", "--max-body-size", ""}).max_body_size, "");
  EXPECT_NE(UsageError({"route", "add", "/upload", "files", "--max-body-size="})
                .find("--max-body-size needs a value (SIZE)"),
            std::string::npos);
  EXPECT_EQ(Parse({"route", "add", "/a", "b", "--max-body-size", "1k", "--max-body-size", "2k"})
                .max_body_size,
            "2k");
}

TEST(ParseCommandLine, RouteUpdateChangesWhatIsGiven) {
  Command limit = Parse({"route", "update", "/upload", "--max-body-size", "20m"});
  EXPECT_EQ(limit.action, Action::kRouteUpdate);
  EXPECT_EQ(limit.target, "");  // kept
  EXPECT_EQ(limit.max_body_size, "20m");
  Command clear = Parse({"route", "update", "/upload", "--max-body-size", "0", "--exact"});
  EXPECT_EQ(clear.max_body_size, "0");
  EXPECT_EQ(clear.match, MATCH_EXACT);
  Command both = Parse({"route", "update", "/upload", "files-v2", "--max-body-size", "1g"});
  EXPECT_EQ(both.target, "files-v2");
  EXPECT_EQ(both.max_body_size, "1g");
  Command target = Parse({"route", "update", "/upload", "files-v2"});
  EXPECT_EQ(target.target, "files-v2");
  EXPECT_FALSE(target.max_body_size);  // kept

  EXPECT_EQ(UsageError({"route", "update", "/upload"}),
            "gatewayctl: nothing to update: give a new TARGET, a policy flag or --reset; see "
            "'gatewayctl route update --help'");
  EXPECT_NE(UsageError({"route", "update", "/upload", "--max-body-size"}).find("needs a value"),
            std::string::npos);
  EXPECT_NE(UsageError({"route", "get", "/upload", "--max-body-size", "1k"})
                .find("unknown flag '--max-body-size'"),
            std::string::npos);
}

TEST(ParseCommandLine, ArgumentsThatLookLikeCommandNames) {
  EXPECT_EQ(Parse({"service", "get", "list"}).name, "list");
  EXPECT_EQ(Parse({"service", "add", "delete", "--endpoint", "a:1"}).name, "delete");
  EXPECT_EQ(Parse({"route", "add", "/api", "status"}).target, "status");
}

TEST(ParseCommandLine, GlobalOptionsBeforeOrAfterTheCommand) {
  EXPECT_EQ(Parse({"-o", "json", "route", "list"}).output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"route", "-o", "json", "list"}).output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"route", "list", "-o", "json"}).output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"route", "list", "--output=json"}).output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"route", "get", "/a", "-ojson"}).output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"-o", "json", "status", "-o", "table"}).output, OutputFormat::kTable);

  Command command = Parse(
      {"route", "add", "/a", "b", "--server", "10.0.0.1:7000", "--timeout", "250ms", "--exact"});
  EXPECT_EQ(command.server, "10.0.0.1:7000");
  // After `route add|update`, --timeout is the route's upstream timeout, not the call's.
  EXPECT_EQ(command.timeout, kDefaultTimeout);
  EXPECT_EQ(command.route_timeout, "250ms");
  EXPECT_EQ(Parse({"--timeout", "250ms", "route", "add", "/a", "b"}).timeout,
            std::chrono::milliseconds(250));
  EXPECT_EQ(command.match, MATCH_EXACT);
  EXPECT_EQ(Parse({"--timeout", "1m", "status"}).timeout, std::chrono::minutes(1));
}

TEST(ParseCommandLine, ServerFromFlagThenEnvironmentThenDefault) {
  EXPECT_EQ(Parse({"status"}, "cp.internal:6000").server, "cp.internal:6000");
  EXPECT_EQ(Parse({"--server", "127.0.0.1:1", "status"}, "cp.internal:6000").server, "127.0.0.1:1");
  EXPECT_EQ(Parse({"status"}, "").server, "127.0.0.1:50051");  // set but empty: unset
  EXPECT_EQ(Parse({"status"}, "[::1]:6000").server, "[::1]:6000");
  EXPECT_EQ(Parse({"status", "--server", "localhost:9"}).server, "localhost:9");
}

TEST(ParseCommandLine, HelpIsNotAnError) {
  CommandLine root = ParseCommandLine({"--help"}, std::nullopt);
  EXPECT_EQ(root.outcome, CommandLine::Outcome::kHelp);
  EXPECT_NE(root.text.find("Usage: gatewayctl"), std::string::npos);
  EXPECT_NE(root.text.find("GATEWAYCTL_SERVER"), std::string::npos);
  EXPECT_NE(root.text.find("Exit status"), std::string::npos);

  CommandLine add = ParseCommandLine({"route", "add", "-h"}, std::nullopt);
  EXPECT_EQ(add.outcome, CommandLine::Outcome::kHelp);
  EXPECT_NE(add.text.find("gatewayctl route add"), std::string::npos);
  EXPECT_NE(add.text.find("--exact"), std::string::npos);

  // Help wins over what is still missing.
  EXPECT_EQ(ParseCommandLine({"service", "add", "--help"}, std::nullopt).outcome,
            CommandLine::Outcome::kHelp);
}

TEST(ParseCommandLine, UnknownFlagsAndCommands) {
  EXPECT_NE(UsageError({"route", "list", "--verbose"}).find("unknown flag '--verbose'"),
            std::string::npos);
  EXPECT_NE(UsageError({"--frob", "status"}).find("'--frob'"), std::string::npos);
  EXPECT_NE(UsageError({"route", "add", "/a", "b", "-x"}).find("'-x'"), std::string::npos);
  EXPECT_NE(UsageError({"routes", "list"}).find("unknown command 'routes'"), std::string::npos);
  EXPECT_NE(UsageError({"route", "show", "/a"}).find("unknown command 'show'"), std::string::npos);
  EXPECT_NE(UsageError({"status", "now"}).find("unexpected argument 'now'"), std::string::npos);
  // --exact belongs to route commands only.
  EXPECT_NE(UsageError({"route", "list", "--exact"}).find("'--exact'"), std::string::npos);
}

TEST(ParseCommandLine, MissingCommandsAndArguments) {
  EXPECT_NE(UsageError({}).find("missing command"), std::string::npos);
  EXPECT_NE(UsageError({"route"}).find("add, update, get, list or delete"), std::string::npos);
  EXPECT_NE(UsageError({"service"}).find("see 'gatewayctl service --help'"), std::string::npos);
  EXPECT_NE(UsageError({"route", "add", "/a"}).find("TARGET is required"), std::string::npos);
  EXPECT_NE(UsageError({"route", "add"}).find("is required"), std::string::npos);
  EXPECT_NE(UsageError({"route", "get"}).find("PATH is required"), std::string::npos);
  EXPECT_NE(UsageError({"service", "get"}).find("NAME is required"), std::string::npos);
  EXPECT_NE(UsageError({"service", "add", "x"}).find("--endpoint is required"), std::string::npos);
  EXPECT_NE(UsageError({"service", "update", "x"}).find("nothing to update"), std::string::npos);
  EXPECT_NE(UsageError({"status", "--server"}).find("--server needs a value"), std::string::npos);
  EXPECT_NE(UsageError({"route", "list", "-o"}).find("needs a value"), std::string::npos);
  // One --endpoint takes one value; a second needs its own flag (or a comma).
  EXPECT_NE(UsageError({"service", "add", "x", "--endpoint", "a:1", "b:2"})
                .find("unexpected argument 'b:2'"),
            std::string::npos);
}

TEST(ParseCommandLine, ExactExcludesPrefix) {
  for (const std::string verb : {"get", "delete"}) {
    const std::string error = UsageError({"route", verb, "/a", "--exact", "--prefix"});
    EXPECT_NE(error.find("--exact and --prefix cannot be used together"), std::string::npos)
        << error;
  }
  UsageError({"route", "add", "/a", "b", "--prefix", "--exact"});
  UsageError({"route", "update", "/a", "b", "--exact", "--prefix"});
}

TEST(ParseCommandLine, MalformedGlobalOptionValues) {
  EXPECT_EQ(UsageError({"-o", "yaml", "route", "list"}),
            "gatewayctl: -o must be table or json, not 'yaml' (yaml is for export); see "
            "'gatewayctl --help'");
  EXPECT_NE(UsageError({"--timeout", "5x", "status"}).find("--timeout: '5x' is not a duration"),
            std::string::npos);
  UsageError({"--timeout", "0s", "status"});
  EXPECT_NE(UsageError({"--server", "nope", "status"}).find("--server: 'nope'"), std::string::npos);
  EXPECT_NE(UsageError({"--server", "h:99999", "status"}).find("outside 1-65535"),
            std::string::npos);
  EXPECT_NE(UsageError({"status"}, "no-port").find("$GATEWAYCTL_SERVER: 'no-port'"),
            std::string::npos);
}

}  // namespace
}  // namespace gw::cli
