// controlplane: the source of truth for routes and services. Stores them in SQLite (one
// replica) or PostgreSQL (any number of replicas on one database), serves the admin API to
// gatewayctl and streams every config version to the gateways.
//
//   controlplane --listen HOST:PORT --db PATH|postgres://... [--replica-id ID] [--admin HOST:PORT]
//                [--tls-cert FILE --tls-key FILE [--client-ca FILE]] [--auth-token-file FILE]
//                [--insecure] [--max-config-size SIZE] [--history-keep N] [--log-level LEVEL]
//                | --version
//
// SIGHUP re-reads the token file and the certificates (both are also re-read when they change).
// Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot start (database, address, security
// settings, certificate or token files), 2 on bad flags.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include "common/byte_size.h"
#include "common/log.h"
#include "common/tls_files.h"
#include "common/validation.h"
#include "common/wire_limits.h"
#include "controlplane/control_plane.h"

namespace {

gw::LogLevel ToLogLevel(const std::string& name) {
  if (name == "debug") return gw::LogLevel::kDebug;
  if (name == "warn") return gw::LogLevel::kWarn;
  if (name == "error") return gw::LogLevel::kError;
  return gw::LogLevel::kInfo;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "controlplane: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "controlplane: stores routes and services (SQLite, or PostgreSQL for a cluster of "
      "replicas) and streams them to gateways"};
  std::string listen = "127.0.0.1:50051";
  std::string db = "controlplane.db";
  std::string admin;
  std::string replica_id;
  std::string log_level = "info";
  std::string max_config_size;
  gw::ControlPlaneOptions options;
  app.set_version_flag("--version", std::string("controlplane ") + GATEWAY_BUILD_VERSION);
  app.add_option("--listen", listen,
                 "gRPC address HOST:PORT for gatewayctl and gateways (port 0 "
                 "picks one)")
      ->capture_default_str();
  app.add_option("--db", db,
                 "SQLite database file (created if missing), or a PostgreSQL connection URI "
                 "postgres://USER:PASS@HOST:PORT/DB?... (multi-host URIs too) shared by replicas")
      ->envname("CONTROLPLANE_DB")
      ->capture_default_str();
  app.add_option("--replica-id", replica_id,
                 "this replica's name in `gatewayctl status` (default HOSTNAME:PORT)");
  app.add_option("--admin", admin,
                 "admin HTTP address HOST:PORT: a live read-only dashboard at / (version, "
                 "gateways, routes, services, history), /healthz, /ready, /config; with "
                 "--auth-token-file the dashboard's data and /config need a viewer or admin "
                 "token. Plain HTTP: keep it on loopback or an internal network");
  app.add_option("--tls-cert", options.tls.cert,
                 "serve gRPC over TLS with this certificate chain (PEM; re-read when it changes)");
  app.add_option("--tls-key", options.tls.key, "the private key of --tls-cert (PEM)");
  app.add_option("--client-ca", options.tls.ca,
                 "CA certificates (PEM) that sign gateways' client certificates; a gateway with "
                 "one subscribes as its certificate's CN or a DNS SAN");
  app.add_option("--auth-token-file", options.token_file,
                 "every call needs a bearer token from FILE: lines TOKEN,NAME,ROLE (admin, viewer "
                 "or gateway); re-read on change and on SIGHUP");
  app.add_flag("--insecure", options.insecure,
               "allow a --listen address that is not loopback without TLS and a token file");
  app.add_option("--max-config-size", max_config_size,
                 "refuse a write that would make the config larger than SIZE (512k, 10m; "
                 "default and most: " +
                     gw::FormatByteSize(gw::kMaxConfigBytes) + ", what gateways accept)");
  app.add_option("--history-keep", options.history_keep,
                 "keep the history (and rollback) of the newest N versions; older ones are "
                 "forgotten, oldest first")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return UsageError(e.what());
  }

  options.db = db;
  options.replica_id = replica_id;
  std::string error;
  auto grpc_listen = gw::ParseListenAddress(listen, &error);
  if (!grpc_listen) return UsageError("--listen: " + error);
  options.grpc_listen = *grpc_listen;
  if (!admin.empty()) {
    auto admin_listen = gw::ParseListenAddress(admin, &error);
    if (!admin_listen) return UsageError("--admin: " + error);
    options.admin_listen = *admin_listen;
  }
  if (db.empty()) return UsageError("--db: the path is empty");
  if (options.tls.cert.empty() != options.tls.key.empty())
    return UsageError("--tls-cert and --tls-key go together");
  if (replica_id.size() > 200 || std::any_of(replica_id.begin(), replica_id.end(),
                                             [](char c) { return c <= ' ' || c == 127; }))
    return UsageError("--replica-id: at most 200 visible characters, no spaces");
  if (!max_config_size.empty()) {
    const auto bytes = gw::ParseByteSize(max_config_size, &error);
    if (!bytes) return UsageError("--max-config-size: " + error);
    if (*bytes == 0 || *bytes > gw::kMaxConfigBytes)
      return UsageError("--max-config-size must be 1 to " +
                        gw::FormatByteSize(gw::kMaxConfigBytes) + " (what gateways accept)");
    options.max_config_bytes = *bytes;
  }
  gw::SetLogLevel(ToLogLevel(log_level));

  // Signals are taken synchronously by sigwait() below; block them before any thread starts
  // so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  gw::QuietGrpcLogs();

  std::optional<gw::ControlPlane> control_plane;
  try {
    control_plane.emplace(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "controlplane: %s\n", e.what());
    return 1;
  }

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    gw::LogInfo("received SIGHUP, reloading the token file and certificates");
    control_plane->Reload();
  }
  gw::LogInfo(std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
              ", shutting down");
  control_plane->Shutdown();
  control_plane.reset();
  gw::LogInfo("stopped");
  return 0;
}
