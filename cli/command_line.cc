#include "cli/command_line.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <string>
#include <utility>

#include "common/duration.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

constexpr std::string_view kFooter =
    "Every request goes to the control plane's AdminService; it validates names, paths and "
    "targets.\n"
    "Exit status: 0 done; 1 the control plane refused the request or could not be reached, or a\n"
    "value is invalid (e.g. an --endpoint that is not HOST:PORT with a port in 1-65535, or a\n"
    "--max-body-size that is not a size);\n"
    "2 usage error: unknown command or flag, missing argument, --exact with --prefix, or a\n"
    "malformed --server, -o or --timeout.";

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// The deepest subcommand the parser entered, e.g. `route add`.
CLI::App* DeepestCommand(CLI::App& app) {
  CLI::App* command = &app;
  while (!command->get_subcommands().empty()) command = command->get_subcommands().front();
  return command;
}

std::string CommandPath(const CLI::App* command) {
  std::string path = command->get_name();
  for (const CLI::App* parent = command->get_parent(); parent != nullptr;
       parent = parent->get_parent())
    path = parent->get_name() + " " + path;
  return path;
}

std::string ListSubcommands(CLI::App* command) {
  std::string names;
  const auto subcommands = command->get_subcommands([](CLI::App*) { return true; });
  for (size_t i = 0; i < subcommands.size(); ++i) {
    if (i > 0) names += i + 1 == subcommands.size() ? " or " : ", ";
    names += subcommands[i]->get_name();
  }
  return names;
}

// CLI11's messages, reworded into one short lower-case clause.
std::string DescribeParseError(CLI::App& app, const CLI::ParseError& error) {
  CLI::App* command = DeepestCommand(app);
  const bool needs_subcommand = !command->get_subcommands([](CLI::App*) { return true; }).empty();
  const std::vector<std::string> extras = app.remaining(true);
  if (!extras.empty()) {
    const std::string& first = extras.front();
    if (first.size() > 1 && first.front() == '-')
      return "unknown flag " + Quote(first) + " for '" + CommandPath(command) + "'";
    if (needs_subcommand)
      return "unknown command " + Quote(first) + " (expected " + ListSubcommands(command) + ")";
    return "unexpected argument " + Quote(first);
  }
  if (error.get_name() == "RequiredError" && needs_subcommand && command->get_subcommands().empty())
    return "missing command after '" + CommandPath(command) + "' (expected " +
           ListSubcommands(command) + ")";
  std::string message = error.what();
  if (error.get_name() == "ArgumentMismatch") {  // "--server: 1 required HOST:PORT missing"
    const size_t colon = message.find(": ");
    const size_t required = message.find(" required ");
    if (colon != std::string::npos && required != std::string::npos &&
        message.ends_with(" missing")) {
      const size_t type = required + 10;
      return message.substr(0, colon) + " needs a value (" +
             message.substr(type, message.size() - 8 - type) + ")";
    }
  }
  if (error.get_name() == "ExcludesError") {
    const size_t at = message.find(" excludes ");
    if (at != std::string::npos)
      return message.substr(0, at) + " and " + message.substr(at + 10) + " cannot be used together";
  }
  if (message.size() > 1 && std::isupper(static_cast<unsigned char>(message[0])) &&
      std::islower(static_cast<unsigned char>(message[1])))
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  return message;
}

CommandLine UsageError(const std::string& what, const std::string& command_path) {
  CommandLine result;
  result.outcome = CommandLine::Outcome::kUsageError;
  std::string line = "gatewayctl: " + what + "; see '" + command_path + " --help'";
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  result.text = std::move(line);
  return result;
}

// Subcommand help lists only the subcommand's own options; the root ones work there too.
constexpr std::string_view kGlobalOptions =
    "Global options (see 'gatewayctl --help'): --server HOST:PORT, -o table|json, "
    "--timeout DURATION.";

// --exact / --prefix on one route subcommand; they exclude each other.
void AddMatchFlags(CLI::App* sub, bool* exact, bool* prefix, std::string_view exact_help,
                   std::string_view prefix_help) {
  CLI::Option* exact_flag = sub->add_flag("--exact", *exact, std::string(exact_help));
  CLI::Option* prefix_flag = sub->add_flag("--prefix", *prefix, std::string(prefix_help));
  exact_flag->excludes(prefix_flag);
  prefix_flag->excludes(exact_flag);
}

}  // namespace

CommandLine ParseCommandLine(const std::vector<std::string>& args,
                             std::optional<std::string_view> server_from_environment) {
  CLI::App app(
      "gatewayctl edits the routes and services of the API gateway on its control plane and shows "
      "which gateway runs which config version.",
      "gatewayctl");
  // Root options are also accepted after a subcommand (`gatewayctl route list -o json`);
  // fallthrough is inherited by every subcommand created below.
  app.fallthrough();
  app.require_subcommand(1);

  std::string server_text;
  std::string output_text = "table";
  std::string timeout_text;
  app.add_option("--server", server_text,
                 "control plane's gRPC address (default: $GATEWAYCTL_SERVER, else " +
                     std::string(kDefaultServer) + ")")
      ->type_name("HOST:PORT")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("-o,--output", output_text, "output format: table (default) or json")
      ->type_name("table|json")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--timeout", timeout_text,
                 "deadline of each call to the control plane, e.g. 500ms, 5s, 1m (default " +
                     FormatDuration(kDefaultTimeout) + ")")
      ->type_name("DURATION")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  Command command;
  bool exact = false;
  bool prefix = false;
  std::string max_body_size_text;
  std::vector<CLI::Option*> max_body_size_flags;  // one per route subcommand that has it
  // A leaf command: its action is recorded when the parser completes it.
  auto leaf = [&command](CLI::App* parent, const char* name, const char* description, Action action,
                         std::string_view notes = "") {
    CLI::App* sub = parent->add_subcommand(name, description);
    sub->callback([&command, action] { command.action = action; });
    sub->footer(notes.empty() ? std::string(kGlobalOptions)
                              : std::string(notes) + "\n" + std::string(kGlobalOptions));
    return sub;
  };
  auto positional = [](CLI::App* sub, const char* name, std::string& value,
                       const char* description) {
    sub->add_option(name, value, description)->required()->type_name("");
  };
  auto max_body_size = [&max_body_size_text, &max_body_size_flags](CLI::App* sub,
                                                                   const std::string& help) {
    max_body_size_flags.push_back(sub->add_option("--max-body-size", max_body_size_text, help)
                                      ->type_name("SIZE")
                                      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast));
  };
  auto endpoints = [&command](CLI::App* sub) {
    sub->add_option("--endpoint", command.endpoints,
                    "an address of the service; repeat the flag or separate "
                    "addresses with commas")
        ->type_name("HOST:PORT")
        ->required()
        ->allow_extra_args(false)
        ->delimiter(',');
  };

  CLI::App* service = app.add_subcommand("service", "register, change, show or remove services");
  service->require_subcommand(1);
  service->footer(std::string(kGlobalOptions));
  {
    CLI::App* add =
        leaf(service, "add", "register a service (a named set of endpoints)", Action::kServiceAdd);
    positional(add, "NAME", command.name, "service name, a DNS label such as payment-svc");
    endpoints(add);

    CLI::App* update =
        leaf(service, "update", "replace the endpoints of a service", Action::kServiceUpdate);
    positional(update, "NAME", command.name, "service name");
    endpoints(update);

    leaf(service, "list", "list every service", Action::kServiceList);

    CLI::App* get = leaf(service, "get", "show one service", Action::kServiceGet);
    positional(get, "NAME", command.name, "service name");

    CLI::App* remove = leaf(service, "delete", "remove a service (refused while a route uses it)",
                            Action::kServiceDelete);
    positional(remove, "NAME", command.name, "service name");
  }

  CLI::App* route = app.add_subcommand("route", "add, change, show or remove routes");
  route->require_subcommand(1);
  route->footer(std::string(kGlobalOptions));
  {
    constexpr std::string_view kWhich =
        "Without --exact or --prefix, PATH names the only route with that path; when both an "
        "exact and a prefix route exist, say which.";
    constexpr std::string_view kExact = "the exact route for PATH";
    constexpr std::string_view kPrefix = "the prefix route for PATH";

    constexpr std::string_view kSize =
        "SIZE is a number of bytes or a whole number of KiB, MiB or GiB: 1048576, 512k, 10m, 1g.";
    CLI::App* add =
        leaf(route, "add", "route requests for PATH (and below it) to TARGET", Action::kRouteAdd,
             "A prefix route matches PATH and every path below it, segment by "
             "segment (/api matches /api/x, never /apix); the longest prefix wins.\n" +
                 std::string(kSize));
    positional(add, "PATH", command.path, "absolute path such as /api/payment");
    positional(add, "TARGET", command.target,
               "a service name, or else HOST[:PORT] resolved by DNS on the gateway (port 80)");
    AddMatchFlags(add, &exact, &prefix, "match PATH only, not the paths below it",
                  "match PATH and the paths below it (the default)");
    max_body_size(add,
                  "request bodies larger than SIZE get 413 (default: the gateway's "
                  "--max-body-size)");

    CLI::App* update =
        leaf(route, "update",
             "change an existing route: a new TARGET, or the flags given (the others are kept)",
             Action::kRouteUpdate, std::string(kWhich) + "\n" + std::string(kSize));
    positional(update, "PATH", command.path, "the route's path");
    update->add_option("TARGET", command.target, "new service name or HOST[:PORT] (optional)")
        ->type_name("");
    AddMatchFlags(update, &exact, &prefix, kExact, kPrefix);
    max_body_size(update,
                  "request bodies larger than SIZE get 413; 0 goes back to the gateway's "
                  "--max-body-size");

    CLI::App* get = leaf(route, "get", "show one route", Action::kRouteGet, kWhich);
    positional(get, "PATH", command.path, "the route's path");
    AddMatchFlags(get, &exact, &prefix, kExact, kPrefix);

    leaf(route, "list", "list every route", Action::kRouteList);

    CLI::App* remove = leaf(route, "delete", "remove a route", Action::kRouteDelete, kWhich);
    positional(remove, "PATH", command.path, "the route's path");
    AddMatchFlags(remove, &exact, &prefix, kExact, kPrefix);
  }

  leaf(&app, "gateways",
       "list every gateway that subscribed: node id, address, ACKed version, connected, last "
       "NACK error",
       Action::kGateways);
  leaf(&app, "status", "show the control plane's config version and counts", Action::kStatus);

  app.footer(std::string(kFooter));

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    CommandLine result;
    result.outcome = CommandLine::Outcome::kHelp;
    result.text = app.help();  // the help of the deepest subcommand given
    return result;
  } catch (const CLI::ParseError& error) {
    const std::string what = DescribeParseError(app, error);
    // Mistakes with a root option are explained by the root help.
    const bool root_option = what.starts_with("--server") || what.starts_with("--output") ||
                             what.starts_with("--timeout");
    return UsageError(what, root_option ? "gatewayctl" : CommandPath(DeepestCommand(app)));
  }
  // The root options are explained by the root help.
  const std::string command_path = "gatewayctl";

  if (output_text == "table") {
    command.output = OutputFormat::kTable;
  } else if (output_text == "json") {
    command.output = OutputFormat::kJson;
  } else {
    return UsageError("-o must be table or json, not " + Quote(output_text), command_path);
  }

  if (!timeout_text.empty()) {
    std::string error;
    const auto timeout = ParseDuration(timeout_text, &error);
    if (!timeout) return UsageError("--timeout: " + error, command_path);
    command.timeout = *timeout;
  }

  std::string server_origin = "--server";
  if (server_text.empty()) {
    if (server_from_environment && !server_from_environment->empty()) {
      server_text = std::string(*server_from_environment);
      server_origin = "$" + std::string(kServerEnvironmentVariable);
    } else {
      server_text = std::string(kDefaultServer);
    }
  }
  std::string error;
  const auto server = ParseHostPort(server_text, &error);
  if (!server) return UsageError(server_origin + ": " + error, command_path);
  command.server = FormatHostPort(server->host, server->port);

  for (const CLI::Option* flag : max_body_size_flags)
    if (flag->count() > 0) command.max_body_size = max_body_size_text;
  if (command.action == Action::kRouteUpdate && command.target.empty() && !command.max_body_size) {
    return UsageError("nothing to update: give a new TARGET or --max-body-size",
                      "gatewayctl route update");
  }

  if (exact) command.match = gateway::v1::MATCH_EXACT;
  if (prefix) command.match = gateway::v1::MATCH_PREFIX;
  if (command.action == Action::kRouteAdd && !exact) command.match = gateway::v1::MATCH_PREFIX;

  CommandLine result;
  result.outcome = CommandLine::Outcome::kRun;
  result.command = std::move(command);
  return result;
}

}  // namespace gw::cli
