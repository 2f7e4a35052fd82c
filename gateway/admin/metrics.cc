#include "gateway/admin/metrics.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <utility>

namespace gw {
namespace {

constexpr std::array<std::string_view, kStatusClasses> kStatusClassNames = {"1xx", "2xx", "3xx",
                                                                            "4xx", "5xx"};

void AppendUnsigned(std::string& out, uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void AppendSigned(std::string& out, int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// Microseconds as seconds, shortest exact decimal: 2500 -> "0.0025", 10000000 -> "10".
void AppendMicrosAsSeconds(std::string& out, uint64_t micros) {
  AppendUnsigned(out, micros / 1'000'000);
  uint64_t fraction = micros % 1'000'000;
  if (fraction == 0) return;
  char digits[6];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  size_t length = 6;
  while (digits[length - 1] == '0') --length;
  out.push_back('.');
  out.append(digits, length);
}

void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  out += help;
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += type;
  out.push_back('\n');
}

void AppendGauge(std::string& out, std::string_view name, std::string_view help, int64_t value) {
  AppendHeader(out, name, "gauge", help);
  out += name;
  out.push_back(' ');
  AppendSigned(out, value);
  out.push_back('\n');
}

void AppendCounter(std::string& out, std::string_view name, std::string_view help, uint64_t value) {
  AppendHeader(out, name, "counter", help);
  out += name;
  out.push_back(' ');
  AppendUnsigned(out, value);
  out.push_back('\n');
}

void AddCounts(RouteRequestCounts& into, const RouteCounters& counters) {
  for (size_t i = 0; i < kStatusClasses; ++i) into.by_class[i] += counters.by_class[i].Load();
}

}  // namespace

// ---- WorkerMetrics ----

WorkerMetrics::WorkerMetrics(size_t max_route_labels) : max_route_labels_(max_route_labels) {}

RouteCounters& WorkerMetrics::ForRoute(const RouteEntry* route) {
  if (route == nullptr) return no_route_;
  return ForRoute(route->path, route->match);
}

RouteCounters& WorkerMetrics::ForRoute(std::string_view path, gateway::v1::MatchKind match) {
  RouteMap& map = MapFor(match);
  if (auto it = map.find(path); it != map.end()) return it->second;
  if (route_labels_ >= max_route_labels_) return other_route_;
  std::lock_guard lock(routes_mutex_);
  ++route_labels_;
  return map.try_emplace(std::string(path)).first->second;
}

void WorkerMetrics::ObserveUpstreamLatency(std::chrono::nanoseconds elapsed) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  const uint64_t us = micros > 0 ? static_cast<uint64_t>(micros) : 0;
  const auto bound =
      std::lower_bound(kUpstreamLatencyBucketsUs.begin(), kUpstreamLatencyBucketsUs.end(), us);
  latency_buckets_[static_cast<size_t>(bound - kUpstreamLatencyBucketsUs.begin())].Add();
  latency_sum_us_.Add(us);
}

// ---- MetricsRegistry ----

MetricsRegistry::MetricsRegistry(size_t max_route_labels_per_worker)
    : max_route_labels_(max_route_labels_per_worker) {}

WorkerMetrics& MetricsRegistry::AddWorker() {
  std::lock_guard lock(workers_mutex_);
  workers_.push_back(std::make_unique<WorkerMetrics>(max_route_labels_));
  return *workers_.back();
}

MetricsSnapshot MetricsRegistry::Snapshot() const {
  MetricsSnapshot snapshot;

  // (route, match) -> counts, ordered so the output is stable from scrape to scrape.
  std::map<std::pair<std::string_view, std::string_view>, RouteRequestCounts> requests;
  auto counts_for = [&](std::string_view route, std::string_view match) -> RouteRequestCounts& {
    auto [it, inserted] = requests.try_emplace({route, match});
    if (inserted) {
      it->second.route = route;
      it->second.match = match;
    }
    return it->second;
  };

  std::lock_guard workers_lock(workers_mutex_);
  for (const auto& worker : workers_) {
    {
      // The keys are only read under the lock; the string_views into them are used after it,
      // which is safe because a worker never erases or renames a key.
      std::lock_guard routes_lock(worker->routes_mutex_);
      for (const auto& [path, counters] : worker->prefix_) {
        AddCounts(counts_for(path, "prefix"), counters);
      }
      for (const auto& [path, counters] : worker->exact_) {
        AddCounts(counts_for(path, "exact"), counters);
      }
    }
    AddCounts(counts_for("", "none"), worker->no_route_);
    AddCounts(counts_for("other", "other"), worker->other_route_);
    for (size_t i = 0; i < kUpstreamLatencyBuckets; ++i) {
      snapshot.latency_buckets[i] += worker->latency_buckets_[i].Load();
    }
    snapshot.latency_sum_us += worker->latency_sum_us_.Load();
    for (size_t i = 0; i < kProxyErrorCount; ++i) {
      snapshot.gateway_replies[i] += worker->gateway_replies_[i].Load();
    }
    snapshot.upstream_retries += worker->upstream_retries.Load();
    if (const http2::Http2Counters* h2 = worker->http2) {
      snapshot.http2_streams += h2->streams;
      snapshot.http2_resets_by_client += h2->resets_by_client;
      snapshot.http2_resets_by_gateway += h2->resets_by_gateway;
      for (size_t i = 0; i < http2::kGoawayReasonCount; ++i) {
        snapshot.http2_goaways[i] += h2->goaways[i];
      }
    }
    snapshot.underscore_headers_dropped += worker->underscore_headers_dropped.Load();
    for (size_t i = 0; i < kAggregatePartOutcomes.size(); ++i) {
      snapshot.aggregate_parts[i] += worker->aggregate_parts[i].Load();
    }
    snapshot.tls_handshakes_full += worker->tls_handshakes_full.Load();
    snapshot.tls_handshakes_resumed += worker->tls_handshakes_resumed.Load();
    snapshot.tls_handshakes_failed += worker->tls_handshakes_failed.Load();
    snapshot.underscore_headers_rejected += worker->underscore_headers_rejected.Load();
    snapshot.rate_limit_redis_fallback_down += worker->rate_limit_redis_fallback_down.Load();
    snapshot.rate_limit_redis_fallback_no_redis +=
        worker->rate_limit_redis_fallback_no_redis.Load();
    snapshot.client_connections += worker->client_connections.Load();
    snapshot.upstream_connections += worker->upstream_connections.Load();
  }

  snapshot.requests.reserve(requests.size());
  for (auto& [key, counts] : requests) {
    const bool any = std::any_of(counts.by_class.begin(), counts.by_class.end(),
                                 [](uint64_t n) { return n != 0; });
    if (any) snapshot.requests.push_back(std::move(counts));
  }
  return snapshot;
}

// ---- Rendering ----

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string RenderPrometheus(const MetricsSnapshot& snapshot) {
  std::string out;
  out.reserve(2048 + snapshot.requests.size() * 96);

  AppendHeader(out, "gateway_requests_total", "counter",
               "Responses sent, by route and status class.");
  for (const RouteRequestCounts& counts : snapshot.requests) {
    for (size_t i = 0; i < kStatusClasses; ++i) {
      if (counts.by_class[i] == 0) continue;
      out += "gateway_requests_total{route=\"";
      out += EscapeLabelValue(counts.route);
      out += "\",match=\"";
      out += EscapeLabelValue(counts.match);
      out += "\",code=\"";
      out += kStatusClassNames[i];
      out += "\"} ";
      AppendUnsigned(out, counts.by_class[i]);
      out.push_back('\n');
    }
  }

  AppendHeader(out, "gateway_replies_total", "counter",
               "Responses the gateway wrote itself instead of an upstream, by reason.");
  for (size_t i = 0; i < kProxyErrorCount; ++i) {
    if (snapshot.gateway_replies[i] == 0) continue;
    const ErrorReply reply = ReplyFor(static_cast<ProxyError>(i));
    out += "gateway_replies_total{reason=\"";
    out += reply.code;
    out += "\",code=\"";
    AppendUnsigned(out, reply.status);
    out += "\"} ";
    AppendUnsigned(out, snapshot.gateway_replies[i]);
    out.push_back('\n');
  }
  AppendCounter(out, "gateway_upstream_retries_total",
                "Route retries: requests sent again to an upstream after a failed attempt.",
                snapshot.upstream_retries);
  AppendCounter(out, "gateway_http2_streams_total",
                "HTTP/2 streams opened by clients (each one request).", snapshot.http2_streams);
  AppendHeader(out, "gateway_http2_resets_total", "counter",
               "HTTP/2 streams reset (RST_STREAM), by the side that reset them.");
  for (const auto& [by, count] : {std::pair{"client", snapshot.http2_resets_by_client},
                                  std::pair{"gateway", snapshot.http2_resets_by_gateway}}) {
    out += "gateway_http2_resets_total{by=\"";
    out += by;
    out += "\"} ";
    AppendUnsigned(out, count);
    out.push_back('\n');
  }
  AppendHeader(out, "gateway_http2_goaway_total", "counter",
               "HTTP/2 connections the gateway sent GOAWAY, by why.");
  for (size_t i = 0; i < http2::kGoawayReasonCount; ++i) {
    out += "gateway_http2_goaway_total{reason=\"";
    out += http2::GoawayReasonName(static_cast<http2::GoawayReason>(i));
    out += "\"} ";
    AppendUnsigned(out, snapshot.http2_goaways[i]);
    out.push_back('\n');
  }

  AppendHeader(out, "gateway_upstream_latency_seconds", "histogram",
               "Time from the start of an upstream exchange to its response headers.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kUpstreamLatencyBuckets; ++i) {
    cumulative += snapshot.latency_buckets[i];
    out += "gateway_upstream_latency_seconds_bucket{le=\"";
    if (i < kUpstreamLatencyBucketsUs.size()) {
      AppendMicrosAsSeconds(out, kUpstreamLatencyBucketsUs[i]);
    } else {
      out += "+Inf";
    }
    out += "\"} ";
    AppendUnsigned(out, cumulative);
    out.push_back('\n');
  }
  out += "gateway_upstream_latency_seconds_sum ";
  AppendMicrosAsSeconds(out, snapshot.latency_sum_us);
  out += "\ngateway_upstream_latency_seconds_count ";
  AppendUnsigned(out, cumulative);
  out.push_back('\n');

  const auto append_endpoints = [&](std::string_view name, std::string_view help, auto value) {
    if (snapshot.endpoints.empty()) return;
    AppendHeader(out, name, "gauge", help);
    for (const EndpointStatus& status : snapshot.endpoints) {
      out += name;
      out += "{service=\"";
      out += EscapeLabelValue(status.service);
      out += "\",endpoint=\"";
      out += EscapeLabelValue(status.endpoint);
      out += "\"} ";
      out += value(status) ? '1' : '0';
      out.push_back('\n');
    }
  };
  append_endpoints("gateway_upstream_endpoint_healthy",
                   "1 while the endpoint passes its service's active health checks (or has none).",
                   [](const EndpointStatus& s) { return s.healthy; });
  append_endpoints("gateway_upstream_endpoint_ejected",
                   "1 while passive ejection keeps the endpoint out of rotation.",
                   [](const EndpointStatus& s) { return s.ejected; });

  AppendGauge(out, "gateway_active_client_connections", "Client connections open.",
              snapshot.client_connections);
  AppendGauge(out, "gateway_active_upstream_connections",
              "Upstream connections open, in use or pooled.", snapshot.upstream_connections);
  AppendGauge(out, "gateway_config_version", "Config version being served (0: none).",
              static_cast<int64_t>(snapshot.config_version));
  AppendGauge(out, "gateway_ready", "1 once a config is loaded, from the stream or the cache.",
              snapshot.ready ? 1 : 0);
  AppendGauge(out, "gateway_control_plane_connected",
              "1 while the config stream to the control plane is up.",
              snapshot.control_plane_connected ? 1 : 0);
  AppendCounter(out, "gateway_config_applies_total", "Config versions applied.",
                snapshot.config_applies);
  AppendCounter(out, "gateway_config_nacks_total",
                "Config versions refused by this gateway (NACKed).", snapshot.config_nacks);
  AppendCounter(out, "gateway_access_log_dropped_lines_total",
                "Access log lines dropped because the log could not keep up.",
                snapshot.access_log_dropped_lines);
  AppendHeader(out, "gateway_underscore_headers_total", "counter",
               "Request header fields with '_' in their name, by what --underscore-headers did.");
  for (const auto& [action, count] :
       {std::pair{"dropped", snapshot.underscore_headers_dropped},
        std::pair{"rejected", snapshot.underscore_headers_rejected}}) {
    out += "gateway_underscore_headers_total{action=\"";
    out += action;
    out += "\"} ";
    AppendUnsigned(out, count);
    out.push_back('\n');
  }
  AppendHeader(out, "gateway_aggregate_parts_total", "counter",
               "Parts of aggregate routes, by how they ended: ok (2xx JSON), status (3xx or 4xx, "
               "kept), failed, timeout, busy (over --aggregate-buffer).");
  for (size_t i = 0; i < kAggregatePartOutcomes.size(); ++i) {
    out += "gateway_aggregate_parts_total{outcome=\"";
    out += kAggregatePartOutcomes[i];
    out += "\"} ";
    AppendUnsigned(out, snapshot.aggregate_parts[i]);
    out.push_back('\n');
  }
  AppendHeader(out, "gateway_tls_handshakes_total", "counter",
               "TLS handshakes on --listen-tls: completed (resumed with a session ticket or "
               "not) and failed.");
  for (const auto& [labels, count] :
       {std::pair{"result=\"ok\",resumed=\"false\"", snapshot.tls_handshakes_full},
        std::pair{"result=\"ok\",resumed=\"true\"", snapshot.tls_handshakes_resumed},
        std::pair{"result=\"failed\",resumed=\"false\"", snapshot.tls_handshakes_failed}}) {
    out += "gateway_tls_handshakes_total{";
    out += labels;
    out += "} ";
    AppendUnsigned(out, count);
    out.push_back('\n');
  }
  if (!snapshot.certificates_not_after.empty()) {
    AppendHeader(out, "gateway_tls_certificate_not_after_timestamp_seconds", "gauge",
                 "When each certificate served on --listen-tls expires (its leaf's notAfter, "
                 "Unix seconds).");
    for (const auto& [name, not_after_ms] : snapshot.certificates_not_after) {
      out += "gateway_tls_certificate_not_after_timestamp_seconds{certificate=\"";
      out += EscapeLabelValue(name);
      out += "\"} ";
      AppendUnsigned(out, static_cast<uint64_t>(std::max<int64_t>(not_after_ms, 0) / 1000));
      out.push_back('\n');
    }
  }
  AppendHeader(out, "gateway_rate_limit_redis_fallback_total", "counter",
               "Requests of cluster-scope rate-limited routes decided by this gateway's own "
               "bucket: Redis does not answer (redis_down) or the gateway runs without --redis "
               "(no_redis).");
  for (const auto& [reason, count] :
       {std::pair{"redis_down", snapshot.rate_limit_redis_fallback_down},
        std::pair{"no_redis", snapshot.rate_limit_redis_fallback_no_redis}}) {
    out += "gateway_rate_limit_redis_fallback_total{reason=\"";
    out += reason;
    out += "\"} ";
    AppendUnsigned(out, count);
    out.push_back('\n');
  }
  AppendGauge(out, "gateway_rate_limit_redis_enabled",
              "1 when the gateway was started with --redis (cluster-scope rate limits).",
              snapshot.redis_enabled ? 1 : 0);
  AppendGauge(out, "gateway_rate_limit_redis_healthy",
              "1 while Redis answers: cluster-scope rate limits are counted there; 0 while they "
              "are counted by this gateway alone.",
              snapshot.redis_healthy ? 1 : 0);
  if (snapshot.redis_enabled) {
    AppendCounter(out, "gateway_rate_limit_redis_errors_total",
                  "Connects to Redis, commands and replies that failed or timed out.",
                  snapshot.redis_errors);
    AppendCounter(out, "gateway_rate_limit_redis_syncs_total",
                  "Syncs of a key's lease with its bucket in Redis that were answered.",
                  snapshot.redis_syncs);
  }
  AppendHeader(out, "gateway_control_plane_stream_failures_total", "counter",
               "Config streams (and attempts) to the control plane that failed, by gRPC status "
               "code (OK: closed by the control plane).");
  for (const auto& [code, count] : snapshot.control_plane_stream_failures) {
    out += "gateway_control_plane_stream_failures_total{code=\"";
    out += EscapeLabelValue(code);
    out += "\"} ";
    AppendUnsigned(out, count);
    out.push_back('\n');
  }
  if (snapshot.cache_enabled) {
    AppendGauge(out, "gateway_config_cache_healthy",
                "1 while the newest write of the cache file succeeded (or none was needed); 0: "
                "the gateway serves a version its cache does not hold.",
                snapshot.cache_healthy ? 1 : 0);
    AppendGauge(out, "gateway_config_cache_version",
                "Config version the cache file holds (0: none).",
                static_cast<int64_t>(snapshot.cache_version));
    AppendCounter(out, "gateway_config_cache_write_failures_total",
                  "Cache file writes that failed.", snapshot.cache_write_failures);
  }
  return out;
}

}  // namespace gw
