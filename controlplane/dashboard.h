// Dashboard: the control plane's read-only web page on its admin port (--admin).
//
//   GET /, /index.html        the page; /dashboard.js, /dashboard.css, /favicon.svg: static,
//                             public
//                             (controlplane/dashboard_page.h)
//   GET /api/dashboard        what the page shows, as JSON (DashboardJson below); the page
//                             polls it every second and redraws without a reload
//
// With a token file, /api/dashboard needs "Authorization: Bearer TOKEN" of role viewer or admin
// (ReadRefusal: 401 without a known token, 403 for a gateway token), as the admin page's /config
// does; without one it is open, like the admin gRPC API. Every answer carries a strict
// Content-Security-Policy (scripts, styles and fetches from the page's own origin only, no
// frames, no forms) and Referrer-Policy: no-referrer; the page builds its DOM with textContent
// only, since names in the config and gateways' errors are attacker-influenced.
//
// Threading: Serve runs on the admin HTTP thread. The store's parts (history, the cluster's
// gateways and replicas) are read on the StoreWorker; the admin thread waits for a read at most
// `store_wait`, and when the store is slower it answers with the last read it has and says so in
// "errors" (while that read is pending, later requests do not wait for it again). This replica's
// gateways (the registry, in memory) and the current version (the publisher) are always live.
// Owned by the ControlPlane; it must outlive the StoreWorker's queue (the ControlPlane stops the
// worker before destroying it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/admin_http.h"
#include "controlplane/auth.h"
#include "controlplane/cluster.h"
#include "controlplane/gateway_registry.h"
#include "controlplane/snapshot_publisher.h"
#include "controlplane/store/config_store.h"
#include "controlplane/store_worker.h"
#include "gateway.pb.h"

namespace gw {

struct DashboardOptions {
  // How long the admin thread waits for the store's part of an answer.
  std::chrono::milliseconds store_wait{1000};
  // A store read younger than this, of the current version, is reused: any number of open pages
  // cost the store a couple of reads a second at most.
  std::chrono::milliseconds reuse_read_for{500};
  size_t max_rows = 1000;      // per table (gateways, routes, services); the totals are given
  uint32_t history_rows = 20;  // the newest versions shown
};

// Everything one answer of /api/dashboard shows.
struct DashboardData {
  int64_t now_unix_ms = 0;
  std::string replica_id;     // this replica
  std::string build_version;  // this control plane's
  std::string store;          // "database /path/cp.db", "database postgresql://..."
  ConfigPtr config;           // the current version (never null)
  std::vector<gateway::v1::GatewayStatus> gateways;  // by node id
  std::vector<gateway::v1::ReplicaStatus> replicas;  // by id
  std::vector<gateway::v1::HistoryRecord> history;   // newest first
  uint64_t oldest_history_version = 0;
  int64_t store_read_unix_ms = 0;   // when the store's part was read (0: never)
  std::vector<std::string> errors;  // for the operator: the store unreachable, slow, ...
};

// The JSON of /api/dashboard:
// {"replica","build_version","store","now_unix_ms","store_read_unix_ms",
//  "config_version","config_bytes","errors":[...],
//  "gateways_total","gateways_connected","gateways":[{"node_id","address","replica",
//    "build_version","connected","state","acked_version","lag","error","nacked_version",
//    "stream_error","cache_error","behind","conflict","last_seen_unix_ms",
//    "disconnected_unix_ms"}],
//  "replicas":[{"id","address","loaded_version","gateways_connected","alive","self",
//    "heartbeat_unix_ms"}],
//  "routes_total","routes":[{"match","path","kind","host","methods":[],"headers":[],"targets",
//    "policies","version"}],
//  "services_total","services":[{"name","endpoints":["host:port"],"policies","version"}],
//  "consumers_total","oldest_history_version",
//  "history":[{"version","at_unix_ms","actor","action","summary","command"}]}
// A gateway's "state": "disconnected", "nacked" (it refused a newer version than it runs),
// "behind" (it lacks a feature the current version needs), "syncing" (lag > 0) or "in-sync";
// "lag" is the current version minus its ACKed one (0 when it is ahead). Tables longer than
// `max_rows` are cut (the *_total fields count them all).
std::string DashboardJson(const DashboardData& data, size_t max_rows);

// A gateway's "state" as DashboardJson spells it.
std::string_view GatewayState(const gateway::v1::GatewayStatus& gateway, uint64_t current_version);

// The answer that refuses `request` a read of the admin page's protected data (`what`, e.g.
// "read the dashboard"): 401 with WWW-Authenticate when it carries no known token, 403 for a
// token whose role may not read; {"error":"..."} either way. nullopt when it may read.
std::optional<AdminResponse> ReadRefusal(const Authorizer& authorizer, const AdminRequest& request,
                                         std::string_view what);

class Dashboard {
 public:
  Dashboard(ConfigStore& store, StoreWorker& worker, SnapshotPublisher& publisher,
            GatewayRegistry& registry, Cluster& cluster, const Authorizer& authorizer,
            std::string replica_id, DashboardOptions options = {});

  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // The answer to `request` when its path is one of the dashboard's, nullopt for any other
  // path. Methods other than GET and HEAD are refused (405).
  std::optional<AdminResponse> Serve(const AdminRequest& request);

 private:
  // One read of the store's part, on the StoreWorker.
  struct StoreRead {
    ClusterView cluster;
    std::vector<gateway::v1::HistoryRecord> history;
    uint64_t oldest_history_version = 0;
    std::string history_error;
    uint64_t config_version = 0;  // current when it was read
    int64_t read_unix_ms = 0;
    std::chrono::steady_clock::time_point read_at;
  };

  AdminResponse Api();
  // The newest store read (null before the first), after waiting for a new one when the last
  // is stale; *error says why it may be older than wanted.
  std::shared_ptr<const StoreRead> ReadStore(std::string* error);

  ConfigStore& store_;
  StoreWorker& worker_;
  SnapshotPublisher& publisher_;
  GatewayRegistry& registry_;
  Cluster& cluster_;
  const Authorizer& authorizer_;
  const std::string replica_id_;
  const DashboardOptions options_;

  std::mutex mu_;
  std::condition_variable read_done_;
  std::shared_ptr<const StoreRead> last_read_;  // guarded by mu_
  bool reading_ = false;                        // a read is queued or running
  std::chrono::steady_clock::time_point reading_since_;
  uint64_t reads_finished_ = 0;
};

}  // namespace gw
