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
#include "cli/rollout_wait.h"
#include "gateway.pb.h"

namespace gw::cli {

// Exit statuses of gatewayctl.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // refused by the control plane, unreachable, bad value
inline constexpr int kExitUsage = 2;   // the command line itself is wrong

inline constexpr std::string_view kDefaultServer = "127.0.0.1:50051";
inline constexpr std::string_view kServerEnvironmentVariable = "GATEWAYCTL_SERVER";
inline constexpr std::string_view kTokenEnvironmentVariable = "GATEWAYCTL_TOKEN";
inline constexpr std::string_view kTlsCaEnvironmentVariable = "GATEWAYCTL_TLS_CA";
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
  kConsumerAdd,
  kConsumerGet,
  kConsumerList,
  kConsumerDelete,
  kCertAdd,
  kCertUpdate,
  kCertGet,
  kCertList,
  kCertDelete,
  kGateways,
  kGatewaysPrune,
  kStatus,
  kVersion,
  kApply,
  kDiff,
  kExport,
  kHistory,
  kHistoryShow,
  kRollback,
};

// Whether the action writes the config (and so takes --if-version and --wait).
bool IsWrite(Action action);

// What `route update --reset NAME` / `service update --reset NAME` set back to its default: the
// update-mask path sent with the field's zero value.
struct ResetField {
  std::string_view name;       // as typed after --reset
  std::string_view mask_path;  // UpdateRouteRequest / UpdateServiceRequest field
};
inline constexpr ResetField kRouteResetFields[] = {
    {"max-body-size", "max_body_size"},
    {"strip-prefix", "strip_prefix"},
    {"rewrite-prefix", "rewrite_prefix"},
    {"set-request-headers", "set_request_headers"},
    {"remove-request-headers", "remove_request_headers"},
    {"set-response-headers", "set_response_headers"},
    {"remove-response-headers", "remove_response_headers"},
    {"timeout", "timeout_ms"},
    {"retries", "retries"},
    {"per-try-timeout", "per_try_timeout_ms"},
    {"rate-limit", "rate_limit"},
    {"burst", "rate_limit.burst"},
    {"rate-limit-by", "rate_limit.key"},
    {"rate-limit-scope", "rate_limit.scope"},
    {"auth", "auth"},
    {"cors", "cors"},
    {"cors-methods", "cors.methods"},
    {"cors-headers", "cors.headers"},
    {"cors-max-age", "cors.max_age_seconds"},
    {"https-redirect", "https_redirect"},
    {"hsts", "hsts_max_age_s"},
    {"aggregate-timeout", "aggregate_timeout_ms"},
    {"aggregate-partial", "aggregate_partial"},
};
inline constexpr ResetField kServiceResetFields[] = {
    {"lb", "lb"},
    {"hash-header", "hash_header"},
    {"health", "health_check"},
    {"health-interval", "health_check.interval_ms"},
    {"unhealthy-threshold", "health_check.unhealthy_threshold"},
    {"healthy-threshold", "health_check.healthy_threshold"},
    {"eject", "eject_after"},
    {"eject-for", "eject_for_ms"},
    {"max-connections", "max_connections"},
    {"max-pending", "max_pending"},
    {"connect-timeout", "connect_timeout_ms"},
    {"protocol", "protocol"},
};

// One parsed invocation. Only the fields of its action are meaningful.
struct Command {
  Action action = Action::kStatus;
  std::string server{kDefaultServer};  // HOST:PORT[,HOST:PORT...]: the control plane's replicas
  OutputFormat output = OutputFormat::kTable;
  std::chrono::milliseconds timeout = kDefaultTimeout;  // deadline of each call
  std::string token;            // --token / $GATEWAYCTL_TOKEN: sent as "authorization: Bearer"
  std::string tls_ca;           // --tls-ca / $GATEWAYCTL_TLS_CA: TLS on, verified by this CA
  std::string tls_server_name;  // --tls-server-name: the name the certificate must carry

  std::string name;                    // service, consumer and cert commands
  std::vector<std::string> endpoints;  // service add/update, as typed (HOST:PORT each)

  std::string path;    // route commands
  std::string target;  // route add; route update: "" keeps the route's target (first of targets)
  // route add/update: every TARGET or TARGET=WEIGHT as typed (two or more make a split).
  std::vector<std::string> targets;
  // route add/update --aggregate KEY=TARGET[:PATH_PREFIX] as typed, in order (instead of
  // TARGETs: an aggregate route).
  std::vector<std::string> aggregate_parts;
  gateway::v1::MatchKind match = gateway::v1::MATCH_UNSPECIFIED;  // --exact / --prefix
  // Match conditions: on add they are the new route's; on get/update/delete they name a route.
  std::string host;
  std::vector<std::string> methods;
  std::vector<std::string> headers;  // NAME=VALUE as typed

  // Values as typed, parsed by the command groups (a bad value is an invalid value, exit 1);
  // nullopt or empty when the flag is absent, which on update keeps the stored value.
  std::optional<std::string> max_body_size;
  // Route policies.
  bool strip_prefix = false;
  std::optional<std::string> rewrite_prefix;
  std::vector<std::string> set_request_headers;  // NAME=VALUE
  std::vector<std::string> remove_request_headers;
  std::vector<std::string> set_response_headers;  // NAME=VALUE
  std::vector<std::string> remove_response_headers;
  std::optional<std::string> route_timeout;  // route add/update --timeout
  std::optional<std::string> retries;
  std::optional<std::string> per_try_timeout;
  std::optional<std::string> rate_limit;  // N/s, N/m, N/h
  std::optional<std::string> burst;
  std::optional<std::string> rate_limit_by;     // ip | header:NAME | consumer
  std::optional<std::string> rate_limit_scope;  // gateway | cluster
  std::optional<std::string> auth;              // api-key | jwt | none
  std::vector<std::string> cors_origins;
  std::optional<std::string> cors_methods;  // A,B
  std::optional<std::string> cors_headers;  // A,B
  std::optional<std::string> cors_max_age;
  bool https_redirect = false;      // --https-redirect (cleared by --reset https-redirect)
  std::optional<std::string> hsts;  // --hsts DURATION (0 clears)
  std::optional<std::string> aggregate_timeout;  // --aggregate-timeout DURATION
  bool aggregate_partial = false;  // --aggregate-partial (cleared by --reset aggregate-partial)
  // Service policies.
  std::optional<std::string> lb;
  std::optional<std::string> hash_header;
  std::optional<std::string> health_path;
  std::optional<std::string> health_interval;
  std::optional<std::string> unhealthy_threshold;
  std::optional<std::string> healthy_threshold;
  std::optional<std::string> eject_after;
  std::optional<std::string> eject_for;
  std::optional<std::string> max_connections;
  std::optional<std::string> max_pending;
  std::optional<std::string> connect_timeout;
  std::optional<std::string> protocol;  // http1 | h2c
  // route/service update --reset NAME (repeatable): fields set back to their defaults.
  std::vector<std::string> resets;
  // Consumers.
  std::vector<std::string> api_keys;
  std::optional<std::string> jwt_issuer;
  std::optional<std::string> jwt_secret;
  std::optional<std::string> jwt_public_key_file;
  // Certificates: cert add|update NAME --cert FILE --key FILE, --default / --no-default
  // (update: nullopt keeps the flag as it is).
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  std::optional<bool> make_default;
  // gateways prune --older-than DURATION: only those disconnected at least this long.
  std::optional<std::string> older_than;

  // Every write (IsWrite): --if-version N, --wait [--wait-timeout DURATION], and the command
  // line as typed with secret values as *** (WriteOptions.command, kept in the history).
  std::optional<uint64_t> if_version;
  bool wait = false;
  std::chrono::milliseconds wait_timeout = kDefaultWaitTimeout;
  std::string command_line;
  // apply / diff -f FILE ("-": stdin) [--prune]; apply and rollback --dry-run.
  std::string file;
  bool prune = false;
  bool dry_run = false;
  uint64_t version = 0;                   // rollback VERSION, history show VERSION
  std::optional<uint32_t> history_limit;  // history --limit N
};

// "gatewayctl route add /api svc": `args` as typed, each quoted for a shell when it needs it,
// the values of --api-key, --jwt-secret and --token (and any NAME=VALUE of theirs) as ***.
std::string RedactedCommandLine(const std::vector<std::string>& args);

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
