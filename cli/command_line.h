// gatewayctl's command-line grammar (built with CLI11). ParseCommandLine turns the arguments into a
// plain Command, help text or a one-line usage error, without touching the network, so every
// command and flag can be tested without a control plane. Owned by cli/.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/output.h"
#include "gateway.pb.h"

namespace gw::cli {

// Exit statuses of gatewayctl.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // refused by the control plane, unreachable, bad value
inline constexpr int kExitUsage = 2;   // the command line itself is wrong

inline constexpr std::string_view kDefaultServer = "127.0.0.1:50051";
inline constexpr std::string_view kServerEnvironmentVariable = "GATEWAYCTL_SERVER";
inline constexpr std::chrono::milliseconds kDefaultTimeout{5000};

enum class Action {
  kServiceAdd,
  kServiceUpdate,
  kServiceGet,
  kServiceList,
  kServiceDelete,
  kRouteAdd,
  kRouteUpdate,
  kRouteGet,
  kRouteList,
  kRouteDelete,
  kGateways,
  kStatus,
};

// One parsed invocation. Only the fields of its action are meaningful.
struct Command {
  Action action = Action::kStatus;
  std::string server{kDefaultServer};  // HOST:PORT of the control plane's gRPC listener
  OutputFormat output = OutputFormat::kTable;
  std::chrono::milliseconds timeout = kDefaultTimeout;  // deadline of each call

  std::string name;                    // service add/update/get/delete
  std::vector<std::string> endpoints;  // service add/update, as typed (HOST:PORT each)

  std::string path;    // route commands
  std::string target;  // route add; route update: "" keeps the route's target
  gateway::v1::MatchKind match = gateway::v1::MATCH_UNSPECIFIED;  // --exact / --prefix
  // route add/update --max-body-size, as typed (parsed by the route commands: a bad size is an
  // invalid value, exit 1); nullopt when the flag is absent, which on update keeps the limit.
  std::optional<std::string> max_body_size;
};

struct CommandLine {
  enum class Outcome { kRun, kHelp, kUsageError };
  Outcome outcome = Outcome::kUsageError;
  Command command;   // kRun
  std::string text;  // kHelp: the help to print; kUsageError: the one line to print on stderr
};

// `args` excludes the program name. `server_from_environment` is $GATEWAYCTL_SERVER (nullopt or
// empty when unset); --server wins over it, and it over 127.0.0.1:50051.
CommandLine ParseCommandLine(const std::vector<std::string>& args,
                             std::optional<std::string_view> server_from_environment);

}  // namespace gw::cli
