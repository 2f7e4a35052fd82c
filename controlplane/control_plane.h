// ControlPlane: the whole control plane process minus flags and signals, so tests can run it
// in-process. It owns the ConfigStore, the StoreWorker, the SnapshotPublisher, the
// GatewayRegistry, the Cluster (change feed and heartbeat), the gRPC server (AdminService +
// DiscoveryService) and the admin HTTP page with its dashboard. Any number of ControlPlanes may
// share one PostgreSQL database; a SQLite file has one.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/admin_http.h"
#include "common/tls_files.h"
#include "common/validation.h"
#include "common/wire_limits.h"
#include "controlplane/admin_service.h"
#include "controlplane/auth.h"
#include "controlplane/cluster.h"
#include "controlplane/dashboard.h"
#include "controlplane/discovery_service.h"
#include "controlplane/gateway_registry.h"
#include "controlplane/snapshot_publisher.h"
#include "controlplane/store/config_store.h"
#include "controlplane/store_worker.h"

namespace gw {

struct ControlPlaneOptions {
  HostPort grpc_listen{"127.0.0.1", 50051};  // port 0 picks one
  std::string db = "controlplane.db";  // a SQLite file, or a postgres:// URI (store_backend.h)
  std::string replica_id;              // "": "<hostname>:<grpc port>"
  uint64_t max_config_bytes = kMaxConfigBytes;  // --max-config-size
  uint64_t history_keep = kDefaultHistoryKeep;  // --history-keep (config_store.h)
  // The admin page (/healthz, /ready, /config, the dashboard at /); none when unset; port 0
  // picks one.
  std::optional<HostPort> admin_listen;
  // --tls-cert/--tls-key (gRPC over TLS) and --client-ca (gateways' client certificates);
  // re-read when they change.
  TlsFilePaths tls;
  std::string token_file;  // --auth-token-file (controlplane/auth.h); "" for none
  // A --listen address that is not loopback needs TLS and a token file, unless this is set.
  bool insecure = false;
  // On Shutdown, calls still running after this are cancelled (gateway streams always are).
  std::chrono::milliseconds shutdown_grace{250};
};

class ControlPlane {
 public:
  // Checks the security settings (a non-loopback --listen needs TLS and a token file unless
  // `insecure`; certificate and token files are read) and that its addresses are free
  // (before anything is created), opens and migrates the
  // database, publishes the stored config, starts serving and logs "grpc listening on
  // HOST:PORT" (and "admin listening on HOST:PORT"). Throws std::runtime_error /
  // std::system_error with one sentence when any of that fails.
  explicit ControlPlane(const ControlPlaneOptions& options);
  ~ControlPlane();  // Shutdown()

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // SIGHUP: re-reads the token file and the certificate files now.
  void Reload();

  // Stops the gRPC server (streams cancelled after the grace period), finishes the store work
  // already queued, and stops the admin page. Idempotent.
  void Shutdown();

  const std::string& grpc_address() const { return grpc_address_; }  // the bound address
  std::string admin_address() const;                                 // "" without an admin page

  SnapshotPublisher& publisher() { return *publisher_; }
  GatewayRegistry& registry() { return registry_; }
  const std::string& replica_id() const { return replica_id_; }

 private:
  // The admin page: /healthz and /ready (public), /config (needs a viewer or admin token when
  // there is a token file), the dashboard (controlplane/dashboard.h).
  AdminResponse ServeAdmin(const AdminRequest& request);

  const ControlPlaneOptions options_;
  std::unique_ptr<WatchedTlsFiles> tls_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<ConfigStore> store_;
  StoreWorker worker_;
  std::unique_ptr<SnapshotPublisher> publisher_;
  GatewayRegistry registry_;
  std::unique_ptr<Cluster> cluster_;
  std::string replica_id_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<DiscoveryService> discovery_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string grpc_address_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<AdminHttpServer> admin_http_;
  std::atomic<bool> ready_{false};
  bool stopped_ = false;
};

}  // namespace gw
