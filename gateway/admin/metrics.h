// The gateway's metrics, served as Prometheus text on the admin port's /metrics.
//
// Counting costs the data path no lock and no shared cache line: each worker owns one
// WorkerMetrics and is its only writer (single-writer relaxed atomics, no read-modify-write);
// the admin thread reads every worker's block with relaxed loads when scraped and adds them up
// (MetricsRegistry::Snapshot). Rendering is a pure function of that snapshot (RenderPrometheus).
//
// Series (all names prefixed gateway_):
//   requests_total{route,match,code}       counter  responses by route and status class 1xx..5xx;
//                                                   route="",match="none" when no route matched,
//                                                   route="other",match="other" past the cap on
//                                                   distinct routes
//   gateway_replies_total{reason,code}     counter  responses the gateway wrote itself, by
//                                                   ErrorReply::code ("unauthorized",
//                                                   "rate_limited", "circuit_open", ...) and status
//   upstream_retries_total                 counter  route retries (another attempt upstream)
//   upstream_endpoint_healthy{service,endpoint}  gauge  1 while active checks pass (or none run)
//   upstream_endpoint_ejected{service,endpoint}  gauge  1 while passive ejection holds it out
//   upstream_latency_seconds               histogram upstream exchange time, cumulative buckets
//   active_client_connections              gauge
//   active_upstream_connections            gauge
//   config_version, ready, control_plane_connected   gauges (from main, at scrape time)
//   config_applies_total, config_nacks_total         counters
//   access_log_dropped_lines_total                   counter (from AccessLog::dropped_lines())
//   rate_limit_redis_fallback_total{reason}  counter  requests of cluster-scope routes decided by
//                                                    this gateway's own bucket: "redis_down"
//                                                    (Redis does not answer) or "no_redis" (the
//                                                    gateway runs without --redis)
//   rate_limit_redis_enabled, rate_limit_redis_healthy  gauges (from main: RedisBucketClient)
//   rate_limit_redis_errors_total, rate_limit_redis_syncs_total  counters (with --redis)
//   tls_certificate_not_after_timestamp_seconds{certificate}  gauge  when each certificate
//                                                    served on --listen-tls expires (from main)
//
// Wiring (what main and the session do):
//   main, start-up, before Worker::Start: MetricsRegistry registry; one
//       `WorkerMetrics& m = registry.AddWorker();` per worker, handed to that worker.
//   session, on its worker's thread:
//       on accept:                  m.client_connections.Increment();  on close: .Decrement();
//       pool, connection opened:    m.upstream_connections.Increment(); on close: .Decrement();
//       upstream response headers:  m.ObserveUpstreamLatency(now - upstream exchange start);
//       retries made for a request: m.upstream_retries.Add(n);
//       a rate limit's decision:    m.RecordRateLimitSource(decision.source);
//       an error answered locally:  m.RecordGatewayReply(error);
//       response written (or the connection aborted after a status was chosen):
//                                   m.RecordRequest(route /* null if none matched */, status);
//       (`route` need only be valid for the call: its path is copied the first time it is seen.)
//   config side: ConfigApplier counts applied and refused versions; the admin page reads them.
//   admin handler: GatewayState::metrics = &registry; GatewayState::access_log_dropped_lines =
//       access_log ? access_log->dropped_lines() : 0; ServeAdminPage calls Snapshot() for /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway.pb.h"
#include "gateway/http/proxy_error.h"
#include "gateway/http2/connection.h"
#include "gateway/net/counters.h"
#include "gateway/router/route_table.h"

namespace gw {

inline constexpr size_t kStatusClasses = 5;  // 1xx..5xx

// Index 0..4 for 1xx..5xx; a status below 100 counts as 1xx, above 599 as 5xx.
constexpr size_t StatusClassIndex(unsigned status) {
  if (status < 200) return 0;
  if (status >= 500) return 4;
  return status / 100 - 1;
}

// Upper bounds of the upstream latency buckets, in microseconds (rendered in seconds:
// 0.001 .. 10); one more bucket, +Inf, follows.
inline constexpr std::array<uint64_t, 13> kUpstreamLatencyBucketsUs = {
    1'000,   2'500,   5'000,     10'000,    25'000,    50'000,    100'000,
    250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};
inline constexpr size_t kUpstreamLatencyBuckets = kUpstreamLatencyBucketsUs.size() + 1;

// The requests of one route on one worker, by status class.
struct RouteCounters {
  void Record(unsigned status) { by_class[StatusClassIndex(status)].Add(); }
  std::array<SingleWriterCounter, kStatusClasses> by_class;
};

// Default cap on distinct (route, match) label pairs per worker; past it, requests count as
// route="other". Route sets change with config versions, and old routes stay counted.
inline constexpr size_t kDefaultMaxRouteLabels = 10'000;

// One worker's counters. Written only by that worker's thread; read by the admin thread.
// The outcome label of gateway_aggregate_parts_total, in aggregate/aggregator.h's PartOutcome
// order.
inline constexpr std::array<std::string_view, 5> kAggregatePartOutcomes = {"ok", "status", "failed",
                                                                           "timeout", "busy"};

class WorkerMetrics {
 public:
  explicit WorkerMetrics(size_t max_route_labels = kDefaultMaxRouteLabels);

  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // The counters of a route (null: no route matched). The first request of a route allocates
  // its entry under a mutex shared only with scrapes; later ones find it without locking.
  // The reference stays valid as long as this object.
  RouteCounters& ForRoute(const RouteEntry* route);
  RouteCounters& ForRoute(std::string_view path, gateway::v1::MatchKind match);

  // A response with `status` was sent (or chosen before the connection was aborted).
  void RecordRequest(const RouteEntry* route, unsigned status) { ForRoute(route).Record(status); }

  // Time from the start of an upstream exchange to its response headers.
  void ObserveUpstreamLatency(std::chrono::nanoseconds elapsed);

  // The gateway answered `error` itself (a 4xx/5xx of its own, not an upstream's).
  void RecordGatewayReply(ProxyError error) { gateway_replies_[static_cast<size_t>(error)].Add(); }

  // A rate limit decided a request: counts the cluster-scope ones decided locally.
  void RecordRateLimitSource(RateLimitSource source) {
    if (source == RateLimitSource::kRedisDown) rate_limit_redis_fallback_down.Add();
    if (source == RateLimitSource::kRedisNotEnabled) rate_limit_redis_fallback_no_redis.Add();
  }

  SingleWriterGauge client_connections;
  SingleWriterGauge upstream_connections;
  SingleWriterCounter upstream_retries;
  // Request header fields with '_' in their name (--underscore-headers): dropped, or refused.
  SingleWriterCounter underscore_headers_dropped;
  SingleWriterCounter underscore_headers_rejected;
  // Parts of aggregate routes, by how they ended (gateway/aggregate: PartOutcome's order).
  std::array<SingleWriterCounter, kAggregatePartOutcomes.size()> aggregate_parts;
  // Requests of cluster-scope routes decided by this gateway's own bucket, by why.
  SingleWriterCounter rate_limit_redis_fallback_down;
  SingleWriterCounter rate_limit_redis_fallback_no_redis;
  // TLS handshakes on --listen-tls: completed (of which resumed with a ticket), failed (a
  // client that left, timed out, or offered nothing the gateway accepts).
  void RecordTlsHandshake(bool ok, bool resumed) {
    if (!ok) return tls_handshakes_failed.Add();
    (resumed ? tls_handshakes_resumed : tls_handshakes_full).Add();
  }
  SingleWriterCounter tls_handshakes_full;
  SingleWriterCounter tls_handshakes_resumed;
  SingleWriterCounter tls_handshakes_failed;
  // The worker's HTTP/2 connections (set by Worker::Observe; null: none counted).
  const http2::Http2Counters* http2 = nullptr;

 private:
  friend class MetricsRegistry;

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using RouteMap = std::unordered_map<std::string, RouteCounters, Hash, std::equal_to<>>;

  RouteMap& MapFor(gateway::v1::MatchKind match) {
    return match == gateway::v1::MATCH_EXACT ? exact_ : prefix_;
  }

  const size_t max_route_labels_;
  // Inserted into by the worker under routes_mutex_; looked up by the worker without it (it
  // is the only writer); iterated by the admin thread under it. Nodes never move, so the
  // counters inside may be read while the worker adds a route.
  mutable std::mutex routes_mutex_;
  RouteMap prefix_;
  RouteMap exact_;
  size_t route_labels_ = 0;  // prefix_.size() + exact_.size(), worker thread only
  RouteCounters no_route_;
  RouteCounters other_route_;  // past max_route_labels_

  std::array<SingleWriterCounter, kUpstreamLatencyBuckets> latency_buckets_;  // not cumulative
  SingleWriterCounter latency_sum_us_;
  std::array<SingleWriterCounter, kProxyErrorCount> gateway_replies_;  // by ProxyError
};

// The requests of one (route, match) label pair, summed over workers.
struct RouteRequestCounts {
  std::string route;
  std::string match;  // "prefix", "exact", "none" or "other"
  std::array<uint64_t, kStatusClasses> by_class{};
};

// One endpoint of a service the live routes use, as the balancer sees it.
struct EndpointStatus {
  std::string service;
  std::string endpoint;  // host:port
  bool healthy = true;   // active health checks pass (or none are configured)
  bool ejected = false;  // passive ejection holds it out of rotation
};

// Everything /metrics shows, at one instant. Plain data: RenderPrometheus is pure over it.
struct MetricsSnapshot {
  std::vector<RouteRequestCounts> requests;                         // sorted by (route, match)
  std::array<uint64_t, kUpstreamLatencyBuckets> latency_buckets{};  // per bucket, not cumulative
  uint64_t latency_sum_us = 0;
  std::array<uint64_t, kProxyErrorCount> gateway_replies{};  // by ProxyError
  uint64_t upstream_retries = 0;
  uint64_t http2_streams = 0;
  uint64_t http2_resets_by_client = 0;
  uint64_t http2_resets_by_gateway = 0;
  std::array<uint64_t, http2::kGoawayReasonCount> http2_goaways{};  // by http2::GoawayReason
  int64_t client_connections = 0;
  int64_t upstream_connections = 0;
  uint64_t config_version = 0;
  bool ready = false;
  bool control_plane_connected = false;
  uint64_t config_applies = 0;
  uint64_t config_nacks = 0;
  uint64_t access_log_dropped_lines = 0;
  uint64_t underscore_headers_dropped = 0;
  std::array<uint64_t, kAggregatePartOutcomes.size()> aggregate_parts{};
  uint64_t tls_handshakes_full = 0;
  uint64_t tls_handshakes_resumed = 0;
  uint64_t tls_handshakes_failed = 0;
  uint64_t underscore_headers_rejected = 0;
  uint64_t rate_limit_redis_fallback_down = 0;
  uint64_t rate_limit_redis_fallback_no_redis = 0;
  bool redis_enabled = false;  // --redis given; then:
  bool redis_healthy = false;  // Redis answers (RedisBucketClient::available())
  uint64_t redis_errors = 0;   // failed connects, commands and error replies
  uint64_t redis_syncs = 0;    // bucket syncs answered
  // Failed config streams and attempts by gRPC status code (ConfigSubscriber).
  std::map<std::string, uint64_t> control_plane_stream_failures;
  bool cache_enabled = false;  // --cache given
  bool cache_healthy = true;   // the newest cache write succeeded (or none yet)
  uint64_t cache_version = 0;  // the version the cache file holds
  uint64_t cache_write_failures = 0;
  std::vector<EndpointStatus> endpoints;  // sorted by (service, configured order)
  // With --listen-tls: each certificate served and its leaf's notAfter (Unix ms), by name.
  std::vector<std::pair<std::string, int64_t>> certificates_not_after;
};

// The Prometheus text exposition format (version 0.0.4) of `snapshot`, with HELP and TYPE
// lines; series with no count yet are left out of gateway_requests_total.
std::string RenderPrometheus(const MetricsSnapshot& snapshot);

// Label value escaping of the text format: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

// The gateway's metrics: one WorkerMetrics per worker plus the process-wide counters. Owned by
// main; outlives the workers and the admin server.
class MetricsRegistry {
 public:
  explicit MetricsRegistry(size_t max_route_labels_per_worker = kDefaultMaxRouteLabels);

  // Start-up, before the worker runs: a new block for one worker, owned by the registry.
  WorkerMetrics& AddWorker();

  // From any thread (the admin thread): every worker summed. The process-wide fields (config
  // version and counters, readiness, access log) are left for the caller to fill in.
  MetricsSnapshot Snapshot() const;

 private:
  const size_t max_route_labels_;
  mutable std::mutex workers_mutex_;  // AddWorker vs Snapshot only
  std::vector<std::unique_ptr<WorkerMetrics>> workers_;
};

}  // namespace gw
