#include "cli/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <utility>

#include "common/duration.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

constexpr std::string_view kFooter =
    "Every request goes to the control plane's AdminService; it validates names, paths, "
    "targets and policies.\n"
    "Exit status: 0 done; 1 the control plane refused the request or could not be reached, or a\n"
    "value is invalid (e.g. an --endpoint that is not HOST:PORT with a port in 1-65535, a\n"
    "--max-body-size that is not a size, a duration like 5x, a rate like 10/d);\n"
    "2 usage error: unknown command or flag, missing argument, --exact with --prefix, an unknown\n"
    "--reset name, nothing to update, or a malformed --server, -o or --timeout.\n"
    "diff: 0 nothing to change, 1 changes, 2 any error (kubectl's convention).\n"
    "Every command that writes the config takes --if-version N (refused unless the config is at\n"
    "version N) and --wait [--wait-timeout DURATION] (return once every connected gateway runs\n"
    "the new version).";

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
    "--timeout DURATION, --token TOKEN, --tls-ca FILE, --tls-server-name NAME.";

// --exact / --prefix on one route subcommand; they exclude each other.
void AddMatchFlags(CLI::App* sub, bool* exact, bool* prefix, std::string_view exact_help,
                   std::string_view prefix_help) {
  CLI::Option* exact_flag = sub->add_flag("--exact", *exact, std::string(exact_help));
  CLI::Option* prefix_flag = sub->add_flag("--prefix", *prefix, std::string(prefix_help));
  exact_flag->excludes(prefix_flag);
  prefix_flag->excludes(exact_flag);
}

template <size_t N>
std::string ResetNames(const ResetField (&fields)[N]) {
  std::string out;
  for (const ResetField& field : fields) out += (out.empty() ? "" : ", ") + std::string(field.name);
  return out;
}

template <size_t N>
bool IsResetName(const ResetField (&fields)[N], std::string_view name) {
  for (const ResetField& field : fields)
    if (field.name == name) return true;
  return false;
}

// Whether any flag that changes a route's policies was given.
bool HasRoutePolicyFlag(const Command& c) {
  return c.max_body_size || c.strip_prefix || c.rewrite_prefix || !c.set_request_headers.empty() ||
         !c.remove_request_headers.empty() || !c.set_response_headers.empty() ||
         !c.remove_response_headers.empty() || c.route_timeout || c.retries || c.per_try_timeout ||
         c.rate_limit || c.burst || c.rate_limit_by || c.rate_limit_scope || c.auth ||
         !c.cors_origins.empty() || c.cors_methods || c.cors_headers || c.cors_max_age ||
         c.https_redirect || c.hsts || !c.aggregate_parts.empty() || c.aggregate_timeout ||
         c.aggregate_partial;
}

bool HasServicePolicyFlag(const Command& c) {
  return !c.endpoints.empty() || c.lb || c.hash_header || c.health_path || c.health_interval ||
         c.unhealthy_threshold || c.healthy_threshold || c.eject_after || c.eject_for ||
         c.max_connections || c.max_pending || c.connect_timeout || c.protocol;
}

}  // namespace

bool IsWrite(Action action) {
  switch (action) {
    case Action::kServiceAdd:
    case Action::kServiceUpdate:
    case Action::kServiceDelete:
    case Action::kRouteAdd:
    case Action::kRouteUpdate:
    case Action::kRouteDelete:
    case Action::kConsumerAdd:
    case Action::kConsumerDelete:
    case Action::kCertAdd:
    case Action::kCertUpdate:
    case Action::kCertDelete:
    case Action::kApply:
    case Action::kRollback:
      return true;
    default:
      return false;
  }
}

std::string RedactedCommandLine(const std::vector<std::string>& args) {
  static constexpr std::string_view kSecretFlags[] = {"--api-key", "--jwt-secret", "--token"};
  auto is_secret = [](std::string_view arg) {
    return std::find(std::begin(kSecretFlags), std::end(kSecretFlags), arg) !=
           std::end(kSecretFlags);
  };
  // 'it'\''s' for a shell; plain words stay as they are.
  auto shell_word = [](const std::string& arg) {
    const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             (c != 0 && std::strchr("-_./:=,@%+", c));
    });
    if (plain) return arg;
    std::string quoted = "'";
    for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
  };
  std::string line = "gatewayctl";
  bool secret_next = false;
  for (const std::string& arg : args) {
    std::string word;
    if (secret_next) {
      word = "***";
      secret_next = false;
    } else if (const size_t eq = arg.find('='); eq != std::string::npos && arg.starts_with("--") &&
                                                is_secret(std::string_view(arg).substr(0, eq))) {
      word = arg.substr(0, eq) + "=***";
    } else {
      secret_next = is_secret(arg);
      word = shell_word(arg);
    }
    line += " " + word;
  }
  return line;
}

CommandLine ParseCommandLine(const std::vector<std::string>& args,
                             std::optional<std::string_view> server_from_environment) {
  CLI::App app(
      "gatewayctl edits the routes, services, consumers and TLS certificates of the API gateway on "
      "its control plane and shows which gateway runs which config version.",
      "gatewayctl");
  // Root options are also accepted after a subcommand (`gatewayctl route list -o json`);
  // fallthrough is inherited by every subcommand created below.
  app.fallthrough();
  app.require_subcommand(1);

  std::string server_text;
  std::string output_text;  // "": table, or yaml for export
  std::string timeout_text;
  app.add_option("--server", server_text,
                 "control plane's gRPC address, or a comma-separated list of its replicas, tried "
                 "in order while one cannot be reached (default: $GATEWAYCTL_SERVER, else " +
                     std::string(kDefaultServer) + ")")
      ->type_name("HOST:PORT[,...]")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("-o,--output", output_text,
                 "output format: table (default) or json; export: yaml (default) or json")
      ->type_name("table|json|yaml")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--timeout", timeout_text,
                 "deadline of each call to the control plane, e.g. 500ms, 5s, 1m (default " +
                     FormatDuration(kDefaultTimeout) + ")")
      ->type_name("DURATION")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  Command command;
  app.add_option("--token", command.token,
                 "bearer token for a control plane with a token file (default: $" +
                     std::string(kTokenEnvironmentVariable) + ")")
      ->envname(std::string(kTokenEnvironmentVariable))
      ->type_name("TOKEN")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--tls-ca", command.tls_ca,
                 "speak TLS and verify the control plane's certificate with these CA "
                 "certificates (PEM; default: $" +
                     std::string(kTlsCaEnvironmentVariable) + ")")
      ->envname(std::string(kTlsCaEnvironmentVariable))
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--tls-server-name", command.tls_server_name,
                 "the name the control plane's certificate must carry, when it is not the host "
                 "of --server")
      ->type_name("NAME")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
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
    return sub
        ->add_option("--endpoint", command.endpoints,
                     "an address of the service; repeat the flag or separate "
                     "addresses with commas")
        ->type_name("HOST:PORT")
        ->allow_extra_args(false)
        ->delimiter(',');
  };

  // A flag whose value is kept as typed; given or not is what matters on update.
  auto value = [](CLI::App* sub, const std::string& name, std::optional<std::string>& target,
                  const std::string& type, const std::string& help) {
    return sub
        ->add_option_function<std::string>(
            name, [&target](const std::string& text) { target = text; }, help)
        ->type_name(type)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  };
  auto repeated = [](CLI::App* sub, const std::string& name, std::vector<std::string>& target,
                     const std::string& type, const std::string& help, bool commas) {
    CLI::Option* option = sub->add_option(name, target, help)->type_name(type);
    option->allow_extra_args(false);
    if (commas) option->delimiter(',');
    return option;
  };
  auto match_conditions = [&](CLI::App* sub, bool naming) {
    sub->add_option("--host", command.host,
                    naming ? "the route's host condition"
                           : "match only this Host: exact, or *.example.com for any subdomain")
        ->type_name("HOST")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    repeated(sub, "--method", command.methods, "METHOD",
             naming ? "the route's method condition (repeatable)"
                    : "match only this method (repeatable, or GET,POST)",
             true);
    repeated(sub, "--header", command.headers, "NAME=VALUE",
             naming ? "the route's header condition (repeatable)"
                    : "match only requests with this header value, exactly (repeatable)",
             false);
  };
  auto route_policies = [&](CLI::App* sub, bool update) {
    const std::string replaces = update ? " (replaces the route's)" : "";
    sub->add_flag("--strip-prefix", command.strip_prefix,
                  "remove the matched prefix before forwarding (keeping at least /)");
    value(sub, "--rewrite-prefix", command.rewrite_prefix, "PATH",
          "replace the matched prefix with PATH");
    repeated(sub, "--set-request-header", command.set_request_headers, "NAME=VALUE",
             "set a request header sent upstream (repeatable)" + replaces, false);
    repeated(sub, "--remove-request-header", command.remove_request_headers, "NAME",
             "remove a request header before forwarding (repeatable)" + replaces, false);
    repeated(sub, "--set-response-header", command.set_response_headers, "NAME=VALUE",
             "set a response header sent to the client (repeatable)" + replaces, false);
    repeated(sub, "--remove-response-header", command.remove_response_headers, "NAME",
             "remove a response header (repeatable)" + replaces, false);
    value(sub, "--timeout", command.route_timeout, "DURATION",
          "deadline of the whole upstream exchange, 504 past it (1ms..1h; after the route "
          "command this is the route's, not the call's --timeout)");
    value(sub, "--retries", command.retries, "N",
          "extra attempts of a failed idempotent request on another endpoint (0..10)");
    value(sub, "--per-try-timeout", command.per_try_timeout, "DURATION",
          "each attempt's wait for the response header; past it the attempt fails and is "
          "retried (default: the gateway's --upstream-timeout; at most --timeout)");
    value(sub, "--rate-limit", command.rate_limit, "N/s|N/m|N/h",
          "requests allowed per second, minute or hour per key (429 beyond), counted by each "
          "gateway unless --rate-limit-scope cluster");
    value(sub, "--burst", command.burst, "N", "token bucket size (default: the rate's N)");
    value(sub, "--rate-limit-by", command.rate_limit_by, "ip|header:NAME|consumer",
          "what a rate limit counts by (default ip; consumer needs --auth)");
    value(sub, "--rate-limit-scope", command.rate_limit_scope, "gateway|cluster",
          "gateway (default): each gateway has its own buckets; cluster: one bucket per key "
          "shared by every gateway, counted in Redis (gateway --redis)");
    value(sub, "--auth", command.auth, "api-key|jwt",
          "require a consumer's credentials: X-API-Key, or Authorization: Bearer JWT");
    repeated(sub, "--cors-origin", command.cors_origins, "ORIGIN",
             "allow this origin, scheme://host[:port], or * (repeatable)", false);
    value(sub, "--cors-methods", command.cors_methods, "A,B",
          "methods allowed in CORS (default GET, HEAD, POST)");
    value(sub, "--cors-headers", command.cors_headers, "A,B",
          "request headers allowed in a CORS preflight");
    value(sub, "--cors-max-age", command.cors_max_age, "DURATION",
          "how long browsers may cache a preflight (at most 24h)");
    sub->add_flag("--https-redirect", command.https_redirect,
                  "answer a cleartext request 308 to https:// (the gateway's --listen-tls)" +
                      std::string(update ? "; --reset https-redirect turns it off" : ""));
    value(sub, "--hsts", command.hsts, "DURATION",
          "send Strict-Transport-Security with this max-age over TLS, e.g. 8760h (at most 2 "
          "years; 0: none)");
    repeated(sub, "--aggregate", command.aggregate_parts, "KEY=TARGET[:PATH_PREFIX]",
             "instead of TARGETs: one part of an aggregate route (repeatable, 1..16, in the "
             "answer's key order): GET TARGET (a service or HOST[:PORT]) at PATH_PREFIX plus "
             "what follows the route's PATH, its JSON answer under KEY" +
                 std::string(update ? " (replaces every part, or the route's target)" : ""),
             false);
    value(sub, "--aggregate-timeout", command.aggregate_timeout, "DURATION",
          "deadline of the whole aggregate answer (1ms..1h; default: each part's --timeout)");
    sub->add_flag("--aggregate-partial", command.aggregate_partial,
                  "answer 200 with null for a failed part (default: 502, or 504 when it timed "
                  "out)" +
                      std::string(update ? "; --reset aggregate-partial turns it off" : ""));
  };
  auto service_policies = [&](CLI::App* sub) {
    value(sub, "--lb", command.lb, "round_robin|least_request|random|ring_hash",
          "how requests are spread over the endpoints (default round_robin)");
    value(sub, "--hash-header", command.hash_header, "NAME",
          "ring_hash: the request header whose value picks the endpoint");
    value(sub, "--health-path", command.health_path, "PATH",
          "check every endpoint with GET PATH; 2xx is healthy");
    value(sub, "--health-interval", command.health_interval, "DURATION",
          "time between checks (100ms..1h, default 10s)");
    value(sub, "--unhealthy-threshold", command.unhealthy_threshold, "N",
          "failed checks in a row that mark an endpoint unhealthy (1..100, default 3)");
    value(sub, "--healthy-threshold", command.healthy_threshold, "N",
          "passed checks in a row that mark it healthy again (1..100, default 2)");
    value(sub, "--eject-after", command.eject_after, "N",
          "consecutive failures (connect errors, 5xx) that eject an endpoint (0..1000)");
    value(sub, "--eject-for", command.eject_for, "DURATION",
          "how long an ejected endpoint gets no traffic (1s..1h, default 30s)");
    value(sub, "--max-connections", command.max_connections, "N",
          "upstream connections in use at once per gateway (idle pooled ones not counted); "
          "beyond, 503 at once (0: no limit)");
    value(sub, "--max-pending", command.max_pending, "N",
          "requests waiting for a connection per gateway: being connected, or queued at "
          "--max-connections until one is free (up to the connect timeout); beyond, 503 at "
          "once (0: no limit, and no queue)");
    value(sub, "--connect-timeout", command.connect_timeout, "DURATION",
          "connect deadline to an endpoint (1ms..1m; default the gateway's)");
    value(sub, "--protocol", command.protocol, "http1|h2c",
          "what the gateway speaks to the endpoints: HTTP/1.1 (default), or HTTP/2 without TLS "
          "(gRPC services; health checks go over HTTP/2 too)");
  };
  const std::string kRouteResets = ResetNames(kRouteResetFields);
  const std::string kServiceResets = ResetNames(kServiceResetFields);
  // --if-version, --wait and --wait-timeout, on every command that writes the config.
  std::optional<std::string> wait_timeout_text;
  auto write_flags = [&](CLI::App* sub) {
    sub->add_option_function<uint64_t>(
           "--if-version", [&command](const uint64_t& version) { command.if_version = version; },
           "write only if the config is still at version N (else exit 1, nothing written)")
        ->type_name("N")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    sub->add_flag("--wait", command.wait,
                  "return only once every connected gateway runs the new version (exit 1 "
                  "naming each gateway that refused it, left or was late)");
    value(sub, "--wait-timeout", wait_timeout_text, "DURATION",
          "how long --wait waits (default " + FormatDuration(kDefaultWaitTimeout) + ")");
  };
  auto resets = [&](CLI::App* sub, std::string_view names) {
    repeated(sub, "--reset", command.resets, "NAME",
             "set a field back to its default (repeatable): " + std::string(names), true);
  };

  CLI::App* service = app.add_subcommand("service", "register, change, show or remove services");
  service->require_subcommand(1);
  service->footer(std::string(kGlobalOptions));
  {
    constexpr std::string_view kDurations = "DURATION is written 250ms, 2s, 1m or 1h.";
    CLI::App* add = leaf(service, "add", "register a service (a named set of endpoints)",
                         Action::kServiceAdd, kDurations);
    positional(add, "NAME", command.name, "service name, a DNS label such as payment-svc");
    endpoints(add)->required();
    service_policies(add);
    write_flags(add);

    CLI::App* update =
        leaf(service, "update", "change a service: the flags given replace those fields",
             Action::kServiceUpdate, kDurations);
    positional(update, "NAME", command.name, "service name");
    endpoints(update);
    service_policies(update);
    resets(update, kServiceResets);
    write_flags(update);

    leaf(service, "list", "list every service", Action::kServiceList);

    CLI::App* get = leaf(service, "get", "show one service", Action::kServiceGet);
    positional(get, "NAME", command.name, "service name");

    CLI::App* remove = leaf(service, "delete", "remove a service (refused while a route uses it)",
                            Action::kServiceDelete);
    positional(remove, "NAME", command.name, "service name");
    write_flags(remove);
  }

  CLI::App* route = app.add_subcommand("route", "add, change, show or remove routes");
  route->require_subcommand(1);
  route->footer(std::string(kGlobalOptions));
  {
    constexpr std::string_view kWhich =
        "PATH with --exact/--prefix, --host, --method and --header names a route: the one with "
        "exactly those conditions, else the only one that has them all; when several do, say "
        "which.";
    constexpr std::string_view kExact = "the exact route for PATH";
    constexpr std::string_view kPrefix = "the prefix route for PATH";

    const std::string kSize =
        "SIZE is a number of bytes or a whole number of KiB, MiB or GiB: 1048576, 512k, 10m, 1g. "
        "DURATION is written 250ms, 2s, 1m or 1h.";
    CLI::App* add =
        leaf(route, "add", "route requests for PATH (and below it) to TARGET", Action::kRouteAdd,
             "A prefix route matches PATH and every path below it, segment by "
             "segment (/api matches /api/x, never /apix); the longest prefix wins, then, among "
             "routes on one path, the most specific whose conditions hold: an exact host, then a "
             "wildcard host, then more header conditions, then a method list.\n"
             "Several TARGET=WEIGHT split the traffic by weight (a lone TARGET: 100).\n"
             "An aggregate route has --aggregate parts instead of a TARGET and takes GET and "
             "HEAD only: every part is called at once and the answer is one JSON object, "
             "{\"KEY\": <the part's JSON>, ...}, e.g.\n"
             "  gatewayctl route add /api/home --aggregate user=users-svc:/users "
             "--aggregate cart=cart-svc:/carts --aggregate-timeout 2s\n"
             "(PATH_PREFIX starts at the first ':/', so cart=10.0.0.5:8080:/carts works).\n" +
                 kSize);
    positional(add, "PATH", command.path, "absolute path such as /api/payment");
    add->add_option("TARGET", command.targets,
                    "a service name, or else HOST[:PORT] resolved by DNS on the gateway (port "
                    "80); TARGET=WEIGHT (1..10000) for each target of a split; none with "
                    "--aggregate")
        ->type_name("");
    AddMatchFlags(add, &exact, &prefix, "match PATH only, not the paths below it",
                  "match PATH and the paths below it (the default)");
    match_conditions(add, false);
    max_body_size(add,
                  "request bodies larger than SIZE get 413 (default: the gateway's "
                  "--max-body-size)");
    route_policies(add, false);
    write_flags(add);

    CLI::App* update =
        leaf(route, "update",
             "change an existing route: new TARGETs, or the flags given (the others are kept)",
             Action::kRouteUpdate, std::string(kWhich) + "\n" + kSize);
    positional(update, "PATH", command.path, "the route's path");
    update
        ->add_option("TARGET", command.targets,
                     "new service name or HOST[:PORT], or TARGET=WEIGHT of a new split "
                     "(optional; replaces the split or the aggregate parts)")
        ->type_name("");
    AddMatchFlags(update, &exact, &prefix, kExact, kPrefix);
    match_conditions(update, true);
    max_body_size(update,
                  "request bodies larger than SIZE get 413; 0 goes back to the gateway's "
                  "--max-body-size");
    route_policies(update, true);
    resets(update, kRouteResets);
    write_flags(update);

    CLI::App* get =
        leaf(route, "get", "show one route and every policy it has", Action::kRouteGet, kWhich);
    positional(get, "PATH", command.path, "the route's path");
    AddMatchFlags(get, &exact, &prefix, kExact, kPrefix);
    match_conditions(get, true);

    leaf(route, "list", "list every route", Action::kRouteList);

    CLI::App* remove = leaf(route, "delete", "remove a route", Action::kRouteDelete, kWhich);
    positional(remove, "PATH", command.path, "the route's path");
    AddMatchFlags(remove, &exact, &prefix, kExact, kPrefix);
    match_conditions(remove, true);
    write_flags(remove);
  }

  CLI::App* consumer =
      app.add_subcommand("consumer", "add, show or remove consumers (API callers and their keys)");
  consumer->require_subcommand(1);
  consumer->footer(std::string(kGlobalOptions));
  {
    CLI::App* add =
        leaf(consumer, "add", "add a consumer with its credentials", Action::kConsumerAdd,
             "API keys are stored as SHA-256 digests only and never shown again. "
             "A route with --auth api-key|jwt accepts a consumer's credentials and "
             "sends X-Consumer: NAME upstream.");
    positional(add, "NAME", command.name, "consumer name, a DNS label such as mobile-app");
    repeated(add, "--api-key", command.api_keys, "KEY",
             "an API key (16..256 printable characters), sent as X-API-Key (repeatable)", false);
    value(add, "--jwt-issuer", command.jwt_issuer, "ISS", "the iss of this consumer's JWTs");
    CLI::Option* secret = value(add, "--jwt-secret", command.jwt_secret, "SECRET",
                                "HS256 secret (at least 32 bytes)");
    CLI::Option* key = value(add, "--jwt-public-key", command.jwt_public_key_file, "FILE",
                             "PEM public key: RSA >= 2048 bits (RS256) or P-256 (ES256)");
    secret->excludes(key);
    key->excludes(secret);
    write_flags(add);

    leaf(consumer, "list", "list every consumer (never their keys)", Action::kConsumerList);
    CLI::App* get = leaf(consumer, "get", "show one consumer", Action::kConsumerGet);
    positional(get, "NAME", command.name, "consumer name");
    CLI::App* remove =
        leaf(consumer, "delete", "remove a consumer and its credentials", Action::kConsumerDelete);
    positional(remove, "NAME", command.name, "consumer name");
    write_flags(remove);
  }

  CLI::App* cert = app.add_subcommand(
      "cert", "add, change, show or remove the TLS certificates gateways serve to clients");
  cert->require_subcommand(1);
  cert->footer(std::string(kGlobalOptions));
  {
    constexpr std::string_view kCertNotes =
        "FILE is PEM: the certificate chain (leaf first) and its unencrypted private key. The "
        "key is sent to the control plane once and never shown again (answers show its "
        "SHA-256). A gateway serves the certificate whose DNS names hold the client's SNI name, "
        "else the --default one.";
    auto files = [&](CLI::App* sub, bool required) {
      CLI::Option* chain = value(sub, "--cert", command.cert_file, "FILE",
                                 "the certificate chain in PEM, leaf first");
      CLI::Option* key =
          value(sub, "--key", command.key_file, "FILE", "the certificate's private key in PEM");
      if (required) {
        chain->required();
        key->required();
      }
    };
    CLI::App* add = leaf(cert, "add", "add a certificate for the gateways to serve",
                         Action::kCertAdd, kCertNotes);
    positional(add, "NAME", command.name, "certificate name, a DNS label such as api");
    files(add, true);
    add->add_flag_callback(
        "--default", [&command] { command.make_default = true; },
        "serve it to clients whose SNI name no certificate has (moves the flag from the "
        "certificate that has it)");
    write_flags(add);

    CLI::App* update = leaf(cert, "update", "replace a certificate's chain or key, or its flag",
                            Action::kCertUpdate, kCertNotes);
    positional(update, "NAME", command.name, "certificate name");
    files(update, false);
    CLI::Option* on = update->add_flag_callback(
        "--default", [&command] { command.make_default = true; },
        "make it the default (moves the flag from the certificate that has it)");
    CLI::Option* off = update->add_flag_callback(
        "--no-default", [&command] { command.make_default = false; },
        "it is no longer the default");
    on->excludes(off);
    off->excludes(on);
    write_flags(update);

    leaf(cert, "list", "list every certificate (never their keys)", Action::kCertList);
    CLI::App* get = leaf(cert, "get", "show one certificate", Action::kCertGet);
    positional(get, "NAME", command.name, "certificate name");
    CLI::App* remove = leaf(cert, "delete", "remove a certificate", Action::kCertDelete);
    positional(remove, "NAME", command.name, "certificate name");
    write_flags(remove);
  }

  CLI::App* gateways =
      leaf(&app, "gateways",
           "list every gateway that subscribed: node id, address, ACKed version, connected (or "
           "since when it is gone), and what is wrong: a refused version, a failed stream or "
           "cache, another gateway claiming its node id",
           Action::kGateways);
  gateways->require_subcommand(0, 1);
  CLI::App* prune =
      leaf(gateways, "prune", "forget gateways that are disconnected", Action::kGatewaysPrune);
  value(prune, "--older-than", command.older_than, "DURATION",
        "only those gone at least this long, e.g. 1h (default: every disconnected one)");
  // The parent's callback runs after the subcommand's: keep prune's action.
  gateways->callback([&command, prune] {
    if (!*prune) command.action = Action::kGateways;
  });
  {
    constexpr std::string_view kDocument =
        "FILE is YAML or JSON (JSON when it starts with '{'): services:, routes: and consumers: "
        "lists whose items have the fields of 'service|route|consumer get -o json' (see "
        "'gatewayctl export' and the README). The whole file is checked first and applied as "
        "one new config version, or not at all.";
    auto file = [&command](CLI::App* sub, const std::string& what) {
      sub->add_option("-f,--file", command.file, what + "; - reads stdin")
          ->required()
          ->type_name("FILE");
      sub->add_flag("--prune", command.prune,
                    "also delete the services, routes and consumers the file does not name");
    };
    CLI::App* apply =
        leaf(&app, "apply",
             "make the config what a file declares, as one version: prints each object "
             "created, changed or deleted and the new version, or 'no changes'",
             Action::kApply, kDocument);
    file(apply, "the document to apply");
    apply->add_flag("--dry-run", command.dry_run,
                    "check everything and print what would change; write nothing");
    write_flags(apply);

    CLI::App* diff = leaf(&app, "diff",
                          "show field by field what 'apply' would change; exit 0 when nothing, "
                          "1 when something, 2 on any error",
                          Action::kDiff, kDocument);
    file(diff, "the document to compare with the config");

    leaf(&app, "export",
         "print the whole config in the apply format (-o yaml, the default, or -o json); API "
         "keys and JWT secrets only as their digests, which apply keeps",
         Action::kExport);

    CLI::App* history = leaf(&app, "history",
                             "list the latest config versions: when, who, what command, what "
                             "changed (newest first)",
                             Action::kHistory);
    history->require_subcommand(0, 1);
    history
        ->add_option_function<uint32_t>(
            "--limit", [&command](const uint32_t& limit) { command.history_limit = limit; },
            "how many versions (default 20)")
        ->type_name("N");
    CLI::App* show = leaf(history, "show", "show one version and its change, field by field",
                          Action::kHistoryShow);
    show->add_option("VERSION", command.version, "the config version")->required()->type_name("");
    // The parent's callback runs after the subcommand's: keep show's action.
    history->callback([&command, show] {
      if (!*show) command.action = Action::kHistory;
    });

    CLI::App* rollback =
        leaf(&app, "rollback",
             "make the config exactly what it was at VERSION, as a new version (history is "
             "kept); prints what changes like apply",
             Action::kRollback);
    rollback->add_option("VERSION", command.version, "the config version to go back to")
        ->required()
        ->type_name("");
    rollback->add_flag("--dry-run", command.dry_run, "print what would change; write nothing");
    write_flags(rollback);
  }
  leaf(&app, "status", "show the control plane's config version, counts and config size",
       Action::kStatus);
  leaf(&app, "version", "show gatewayctl's version and the control plane's", Action::kVersion);
  app.set_version_flag("--version", "gatewayctl " + std::string(GATEWAY_BUILD_VERSION),
                       "show gatewayctl's version and exit");

  app.footer(std::string(kFooter));

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    CommandLine result;
    result.outcome = CommandLine::Outcome::kHelp;
    result.text = app.help();  // the help of the deepest subcommand given
    return result;
  } catch (const CLI::CallForVersion&) {
    CommandLine result;
    result.outcome = CommandLine::Outcome::kHelp;
    result.text = "gatewayctl " + std::string(GATEWAY_BUILD_VERSION) + "\n";
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

  const bool exporting = command.action == Action::kExport;
  if (output_text == "json") {
    command.output = OutputFormat::kJson;
  } else if (exporting && (output_text.empty() || output_text == "yaml")) {
    command.output = OutputFormat::kYaml;
  } else if (!exporting && (output_text.empty() || output_text == "table")) {
    command.output = OutputFormat::kTable;
  } else if (exporting) {
    return UsageError("-o must be yaml or json for export, not " + Quote(output_text),
                      "gatewayctl export");
  } else {
    return UsageError("-o must be table or json, not " + Quote(output_text) +
                          (output_text == "yaml" ? " (yaml is for export)" : ""),
                      command_path);
  }

  if (wait_timeout_text) {
    const std::string path = CommandPath(DeepestCommand(app));
    if (!command.wait) return UsageError("--wait-timeout needs --wait", path);
    std::string error;
    const auto timeout = ParseDuration(*wait_timeout_text, &error);
    if (!timeout) return UsageError("--wait-timeout: " + error, path);
    command.wait_timeout = *timeout;
  }
  command.command_line = RedactedCommandLine(args);

  if (!timeout_text.empty()) {
    std::string error;
    const auto timeout = ParseDuration(timeout_text, &error);
    if (!timeout) return UsageError("--timeout: " + error, command_path);
    command.timeout = *timeout;
  }

  if (!std::all_of(command.token.begin(), command.token.end(),
                   [](char c) { return c > ' ' && c < 127; }))
    return UsageError("--token: a token is visible ASCII without spaces", command_path);
  if (!command.tls_server_name.empty() && command.tls_ca.empty())
    return UsageError("--tls-server-name needs --tls-ca (it names the server TLS verifies)",
                      command_path);

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
  const auto servers = ParseAddressList(server_text, &error);
  if (!servers) return UsageError(server_origin + ": " + error, command_path);
  command.server.clear();
  for (const std::string& server : *servers)
    command.server += (command.server.empty() ? "" : ",") + server;

  for (const CLI::Option* flag : max_body_size_flags)
    if (flag->count() > 0) command.max_body_size = max_body_size_text;
  if (command.targets.size() == 1) command.target = command.targets.front();

  if ((command.action == Action::kRouteAdd || command.action == Action::kRouteUpdate) &&
      !command.targets.empty() && !command.aggregate_parts.empty())
    return UsageError("give either TARGETs or --aggregate parts, not both",
                      CommandPath(DeepestCommand(app)));
  if (command.action == Action::kRouteAdd && command.targets.empty() &&
      command.aggregate_parts.empty())
    return UsageError("TARGET is required (or --aggregate KEY=TARGET[:PATH_PREFIX] parts)",
                      "gatewayctl route add");
  if (command.action == Action::kRouteUpdate) {
    for (const std::string& name : command.resets)
      if (name == "aggregate")
        return UsageError(
            "--reset aggregate: a route needs a target, a split or aggregate parts; give a "
            "TARGET instead, which replaces the parts",
            "gatewayctl route update");
    for (const std::string& name : command.resets)
      if (!IsResetName(kRouteResetFields, name))
        return UsageError(
            "--reset " + Quote(name) + " is not a route field (one of " + kRouteResets + ")",
            "gatewayctl route update");
    if (command.targets.empty() && !HasRoutePolicyFlag(command) && command.resets.empty())
      return UsageError("nothing to update: give a new TARGET, a policy flag or --reset",
                        "gatewayctl route update");
  }
  if (command.action == Action::kServiceUpdate) {
    for (const std::string& name : command.resets)
      if (!IsResetName(kServiceResetFields, name))
        return UsageError(
            "--reset " + Quote(name) + " is not a service field (one of " + kServiceResets + ")",
            "gatewayctl service update");
    if (!HasServicePolicyFlag(command) && command.resets.empty())
      return UsageError("nothing to update: give --endpoint, a policy flag or --reset",
                        "gatewayctl service update");
  }
  if (command.action == Action::kConsumerAdd) {
    const bool key = command.jwt_secret || command.jwt_public_key_file;
    if (command.jwt_issuer && !key)
      return UsageError("--jwt-issuer needs --jwt-secret or --jwt-public-key",
                        "gatewayctl consumer add");
    if (key && !command.jwt_issuer)
      return UsageError("--jwt-secret and --jwt-public-key need --jwt-issuer",
                        "gatewayctl consumer add");
    if (!command.jwt_issuer && command.api_keys.empty())
      return UsageError(
          "give the consumer's credentials: --api-key, or --jwt-issuer with "
          "--jwt-secret or --jwt-public-key",
          "gatewayctl consumer add");
  }

  if (command.action == Action::kCertUpdate && !command.cert_file && !command.key_file &&
      !command.make_default)
    return UsageError("nothing to update: give --cert, --key, --default or --no-default",
                      "gatewayctl cert update");

  if (exact) command.match = gateway::v1::MATCH_EXACT;
  if (prefix) command.match = gateway::v1::MATCH_PREFIX;
  if (command.action == Action::kRouteAdd && !exact) command.match = gateway::v1::MATCH_PREFIX;

  CommandLine result;
  result.outcome = CommandLine::Outcome::kRun;
  result.command = std::move(command);
  return result;
}

}  // namespace gw::cli
