#include "gateway/admin/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace gw {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// The lines of `text` that start with `prefix`, joined with '\n'.
std::string LinesStartingWith(const std::string& text, std::string_view prefix) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    if (line.starts_with(prefix)) {
      out += line;
      out.push_back('\n');
    }
    start = end + 1;
  }
  return out;
}

TEST(Metrics, StatusClassIndex) {
  EXPECT_EQ(StatusClassIndex(100), 0u);
  EXPECT_EQ(StatusClassIndex(101), 0u);
  EXPECT_EQ(StatusClassIndex(200), 1u);
  EXPECT_EQ(StatusClassIndex(304), 2u);
  EXPECT_EQ(StatusClassIndex(404), 3u);
  EXPECT_EQ(StatusClassIndex(499), 3u);
  EXPECT_EQ(StatusClassIndex(503), 4u);
  EXPECT_EQ(StatusClassIndex(0), 0u);
  EXPECT_EQ(StatusClassIndex(999), 4u);
}

TEST(Metrics, RendersASmallSnapshotExactly) {
  MetricsSnapshot snapshot;
  snapshot.requests.push_back({"/api", "prefix", {0, 7, 0, 1, 2}});
  snapshot.requests.push_back({"", "none", {0, 0, 0, 3, 0}});
  snapshot.tls_handshakes_full = 4;
  snapshot.tls_handshakes_resumed = 1;
  snapshot.latency_buckets[0] = 2;   // <= 1 ms
  snapshot.latency_buckets[4] = 1;   // <= 25 ms
  snapshot.latency_buckets[13] = 1;  // > 10 s
  snapshot.latency_sum_us = 12'020'500;
  snapshot.gateway_replies[static_cast<size_t>(ProxyError::kNoRoute)] = 3;
  snapshot.gateway_replies[static_cast<size_t>(ProxyError::kCircuitOpen)] = 2;
  snapshot.upstream_retries = 4;
  snapshot.http2_streams = 9;
  snapshot.http2_resets_by_client = 2;
  snapshot.http2_goaways[static_cast<size_t>(http2::GoawayReason::kAbuse)] = 1;
  snapshot.client_connections = 3;
  snapshot.upstream_connections = 2;
  snapshot.config_version = 42;
  snapshot.ready = true;
  snapshot.control_plane_connected = true;
  snapshot.config_applies = 5;
  snapshot.config_nacks = 1;
  snapshot.access_log_dropped_lines = 0;
  snapshot.underscore_headers_dropped = 6;
  snapshot.aggregate_parts = {30, 2, 1, 3, 0};
  snapshot.control_plane_stream_failures = {{"RESOURCE_EXHAUSTED", 3}, {"UNAVAILABLE", 1}};
  snapshot.cache_enabled = true;
  snapshot.cache_healthy = false;
  snapshot.cache_version = 41;
  snapshot.cache_write_failures = 2;

  EXPECT_EQ(RenderPrometheus(snapshot),
            "# HELP gateway_requests_total Responses sent, by route and status class.\n"
            "# TYPE gateway_requests_total counter\n"
            "gateway_requests_total{route=\"/api\",match=\"prefix\",code=\"2xx\"} 7\n"
            "gateway_requests_total{route=\"/api\",match=\"prefix\",code=\"4xx\"} 1\n"
            "gateway_requests_total{route=\"/api\",match=\"prefix\",code=\"5xx\"} 2\n"
            "gateway_requests_total{route=\"\",match=\"none\",code=\"4xx\"} 3\n"
            "# HELP gateway_replies_total Responses the gateway wrote itself instead of an "
            "upstream, by reason.\n"
            "# TYPE gateway_replies_total counter\n"
            "gateway_replies_total{reason=\"no_route\",code=\"404\"} 3\n"
            "gateway_replies_total{reason=\"circuit_open\",code=\"503\"} 2\n"
            "# HELP gateway_upstream_retries_total Route retries: requests sent again to an "
            "upstream after a failed attempt.\n"
            "# TYPE gateway_upstream_retries_total counter\n"
            "gateway_upstream_retries_total 4\n"
            "# HELP gateway_http2_streams_total HTTP/2 streams opened by clients (each one "
            "request).\n"
            "# TYPE gateway_http2_streams_total counter\n"
            "gateway_http2_streams_total 9\n"
            "# HELP gateway_http2_resets_total HTTP/2 streams reset (RST_STREAM), by the side "
            "that reset them.\n"
            "# TYPE gateway_http2_resets_total counter\n"
            "gateway_http2_resets_total{by=\"client\"} 2\n"
            "gateway_http2_resets_total{by=\"gateway\"} 0\n"
            "# HELP gateway_http2_goaway_total HTTP/2 connections the gateway sent GOAWAY, by "
            "why.\n"
            "# TYPE gateway_http2_goaway_total counter\n"
            "gateway_http2_goaway_total{reason=\"idle\"} 0\n"
            "gateway_http2_goaway_total{reason=\"drain\"} 0\n"
            "gateway_http2_goaway_total{reason=\"abuse\"} 1\n"
            "gateway_http2_goaway_total{reason=\"protocol_error\"} 0\n"
            "gateway_http2_goaway_total{reason=\"settings_timeout\"} 0\n"
            "# HELP gateway_upstream_latency_seconds Time from the start of an upstream exchange "
            "to its response headers.\n"
            "# TYPE gateway_upstream_latency_seconds histogram\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.001\"} 2\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.0025\"} 2\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.005\"} 2\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.01\"} 2\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.025\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.05\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.1\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.25\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.5\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"1\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"2.5\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"5\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"10\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "gateway_upstream_latency_seconds_sum 12.0205\n"
            "gateway_upstream_latency_seconds_count 4\n"
            "# HELP gateway_active_client_connections Client connections open.\n"
            "# TYPE gateway_active_client_connections gauge\n"
            "gateway_active_client_connections 3\n"
            "# HELP gateway_active_upstream_connections Upstream connections open, in use or "
            "pooled.\n"
            "# TYPE gateway_active_upstream_connections gauge\n"
            "gateway_active_upstream_connections 2\n"
            "# HELP gateway_config_version Config version being served (0: none).\n"
            "# TYPE gateway_config_version gauge\n"
            "gateway_config_version 42\n"
            "# HELP gateway_ready 1 once a config is loaded, from the stream or the cache.\n"
            "# TYPE gateway_ready gauge\n"
            "gateway_ready 1\n"
            "# HELP gateway_control_plane_connected 1 while the config stream to the control "
            "plane is up.\n"
            "# TYPE gateway_control_plane_connected gauge\n"
            "gateway_control_plane_connected 1\n"
            "# HELP gateway_config_applies_total Config versions applied.\n"
            "# TYPE gateway_config_applies_total counter\n"
            "gateway_config_applies_total 5\n"
            "# HELP gateway_config_nacks_total Config versions refused by this gateway "
            "(NACKed).\n"
            "# TYPE gateway_config_nacks_total counter\n"
            "gateway_config_nacks_total 1\n"
            "# HELP gateway_access_log_dropped_lines_total Access log lines dropped because the "
            "log could not keep up.\n"
            "# TYPE gateway_access_log_dropped_lines_total counter\n"
            "gateway_access_log_dropped_lines_total 0\n"
            "# HELP gateway_underscore_headers_total Request header fields with '_' in their "
            "name, by what --underscore-headers did.\n"
            "# TYPE gateway_underscore_headers_total counter\n"
            "gateway_underscore_headers_total{action=\"dropped\"} 6\n"
            "gateway_underscore_headers_total{action=\"rejected\"} 0\n"
            "# HELP gateway_aggregate_parts_total Parts of aggregate routes, by how they ended: "
            "ok (2xx JSON), status (3xx or 4xx, kept), failed, timeout, busy (over "
            "--aggregate-buffer).\n"
            "# TYPE gateway_aggregate_parts_total counter\n"
            "gateway_aggregate_parts_total{outcome=\"ok\"} 30\n"
            "gateway_aggregate_parts_total{outcome=\"status\"} 2\n"
            "gateway_aggregate_parts_total{outcome=\"failed\"} 1\n"
            "gateway_aggregate_parts_total{outcome=\"timeout\"} 3\n"
            "gateway_aggregate_parts_total{outcome=\"busy\"} 0\n"
            "# HELP gateway_tls_handshakes_total TLS handshakes on --listen-tls: completed "
            "(resumed with a session ticket or not) and failed.\n"
            "# TYPE gateway_tls_handshakes_total counter\n"
            "gateway_tls_handshakes_total{result=\"ok\",resumed=\"false\"} 4\n"
            "gateway_tls_handshakes_total{result=\"ok\",resumed=\"true\"} 1\n"
            "gateway_tls_handshakes_total{result=\"failed\",resumed=\"false\"} 0\n"
            "# HELP gateway_rate_limit_redis_fallback_total Requests of cluster-scope "
            "rate-limited routes decided by this gateway's own bucket: Redis does not answer "
            "(redis_down) or the gateway runs without --redis (no_redis).\n"
            "# TYPE gateway_rate_limit_redis_fallback_total counter\n"
            "gateway_rate_limit_redis_fallback_total{reason=\"redis_down\"} 0\n"
            "gateway_rate_limit_redis_fallback_total{reason=\"no_redis\"} 0\n"
            "# HELP gateway_rate_limit_redis_enabled 1 when the gateway was started with --redis "
            "(cluster-scope rate limits).\n"
            "# TYPE gateway_rate_limit_redis_enabled gauge\n"
            "gateway_rate_limit_redis_enabled 0\n"
            "# HELP gateway_rate_limit_redis_healthy 1 while Redis answers: cluster-scope rate "
            "limits are counted there; 0 while they are counted by this gateway alone.\n"
            "# TYPE gateway_rate_limit_redis_healthy gauge\n"
            "gateway_rate_limit_redis_healthy 0\n"
            "# HELP gateway_control_plane_stream_failures_total Config streams (and attempts) "
            "to the control plane that failed, by gRPC status code (OK: closed by the control "
            "plane).\n"
            "# TYPE gateway_control_plane_stream_failures_total counter\n"
            "gateway_control_plane_stream_failures_total{code=\"RESOURCE_EXHAUSTED\"} 3\n"
            "gateway_control_plane_stream_failures_total{code=\"UNAVAILABLE\"} 1\n"
            "# HELP gateway_config_cache_healthy 1 while the newest write of the cache file "
            "succeeded (or none was needed); 0: the gateway serves a version its cache does "
            "not hold.\n"
            "# TYPE gateway_config_cache_healthy gauge\n"
            "gateway_config_cache_healthy 0\n"
            "# HELP gateway_config_cache_version Config version the cache file holds (0: "
            "none).\n"
            "# TYPE gateway_config_cache_version gauge\n"
            "gateway_config_cache_version 41\n"
            "# HELP gateway_config_cache_write_failures_total Cache file writes that failed.\n"
            "# TYPE gateway_config_cache_write_failures_total counter\n"
            "gateway_config_cache_write_failures_total 2\n");
}

TEST(Metrics, CertificateExpiryGaugesOnlyWithCertificates) {
  MetricsSnapshot snapshot;
  EXPECT_EQ(RenderPrometheus(snapshot).find("gateway_tls_certificate"), std::string::npos);
  snapshot.certificates_not_after = {{"api", 1798761600123}, {"web", 1767225600000}};
  const std::string text = RenderPrometheus(snapshot);
  EXPECT_NE(text.find("# TYPE gateway_tls_certificate_not_after_timestamp_seconds gauge\n"
                      "gateway_tls_certificate_not_after_timestamp_seconds{certificate=\"api\"} "
                      "1798761600\n"
                      "gateway_tls_certificate_not_after_timestamp_seconds{certificate=\"web\"} "
                      "1767225600\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, RateLimitFallbacksAndRedisHealth) {
  MetricsRegistry registry;
  WorkerMetrics& first = registry.AddWorker();
  WorkerMetrics& second = registry.AddWorker();
  first.RecordRateLimitSource(RateLimitSource::kRedisDown);
  first.RecordRateLimitSource(RateLimitSource::kCluster);  // counted in Redis: not a fallback
  first.RecordRateLimitSource(RateLimitSource::kGateway);  // scope gateway: not a fallback
  second.RecordRateLimitSource(RateLimitSource::kRedisDown);
  second.RecordRateLimitSource(RateLimitSource::kRedisNotEnabled);
  MetricsSnapshot snapshot = registry.Snapshot();
  EXPECT_EQ(snapshot.rate_limit_redis_fallback_down, 2u);
  EXPECT_EQ(snapshot.rate_limit_redis_fallback_no_redis, 1u);
  std::string text = RenderPrometheus(snapshot);
  EXPECT_EQ(LinesStartingWith(text, "gateway_rate_limit_redis"),
            "gateway_rate_limit_redis_fallback_total{reason=\"redis_down\"} 2\n"
            "gateway_rate_limit_redis_fallback_total{reason=\"no_redis\"} 1\n"
            "gateway_rate_limit_redis_enabled 0\n"
            "gateway_rate_limit_redis_healthy 0\n");
  snapshot.redis_enabled = true;
  snapshot.redis_healthy = true;
  snapshot.redis_errors = 3;
  snapshot.redis_syncs = 40;
  text = RenderPrometheus(snapshot);
  EXPECT_EQ(LinesStartingWith(text, "gateway_rate_limit_redis"),
            "gateway_rate_limit_redis_fallback_total{reason=\"redis_down\"} 2\n"
            "gateway_rate_limit_redis_fallback_total{reason=\"no_redis\"} 1\n"
            "gateway_rate_limit_redis_enabled 1\n"
            "gateway_rate_limit_redis_healthy 1\n"
            "gateway_rate_limit_redis_errors_total 3\n"
            "gateway_rate_limit_redis_syncs_total 40\n");
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue(R"(/a"b\c)"), R"(/a\"b\\c)");
  EXPECT_EQ(EscapeLabelValue("/x\ny"), "/x\\ny");
  EXPECT_EQ(EscapeLabelValue("/plain/path"), "/plain/path");

  MetricsSnapshot snapshot;
  snapshot.requests.push_back({"/q\"uote\\d\n", "exact", {0, 1, 0, 0, 0}});
  EXPECT_NE(RenderPrometheus(snapshot).find(
                "gateway_requests_total{route=\"/q\\\"uote\\\\d\\n\",match=\"exact\","
                "code=\"2xx\"} 1\n"),
            std::string::npos);
}

TEST(Metrics, EndpointGaugesOnlyWhenServicesAreRouted) {
  MetricsSnapshot snapshot;
  EXPECT_EQ(RenderPrometheus(snapshot).find("gateway_upstream_endpoint"), std::string::npos);
  snapshot.endpoints = {{"cart-svc", "127.0.0.1:9001", true, false},
                        {"cart-svc", "[::1]:9002", false, true}};
  const std::string text = RenderPrometheus(snapshot);
  for (const char* line :
       {"# TYPE gateway_upstream_endpoint_healthy gauge\n",
        "gateway_upstream_endpoint_healthy{service=\"cart-svc\",endpoint=\"127.0.0.1:9001\"} 1\n",
        "gateway_upstream_endpoint_healthy{service=\"cart-svc\",endpoint=\"[::1]:9002\"} 0\n",
        "gateway_upstream_endpoint_ejected{service=\"cart-svc\",endpoint=\"127.0.0.1:9001\"} 0\n",
        "gateway_upstream_endpoint_ejected{service=\"cart-svc\",endpoint=\"[::1]:9002\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(Metrics, HistogramBucketsAreCumulativeAndBoundsInclusive) {
  MetricsRegistry registry;
  WorkerMetrics& worker = registry.AddWorker();
  worker.ObserveUpstreamLatency(microseconds(1'000));       // exactly 1 ms: le="0.001"
  worker.ObserveUpstreamLatency(microseconds(1'001));       // le="0.0025"
  worker.ObserveUpstreamLatency(milliseconds(300));         // le="0.5"
  worker.ObserveUpstreamLatency(std::chrono::seconds(11));  // +Inf
  worker.ObserveUpstreamLatency(microseconds(-5));          // a clock step back counts as 0

  const MetricsSnapshot snapshot = registry.Snapshot();
  EXPECT_EQ(snapshot.latency_buckets[0], 2u);
  EXPECT_EQ(snapshot.latency_buckets[1], 1u);
  EXPECT_EQ(snapshot.latency_buckets[8], 1u);
  EXPECT_EQ(snapshot.latency_buckets[13], 1u);
  EXPECT_EQ(snapshot.latency_sum_us, 1'000u + 1'001u + 300'000u + 11'000'000u);

  const std::string text = RenderPrometheus(snapshot);
  EXPECT_EQ(LinesStartingWith(text, "gateway_upstream_latency_seconds_"),
            "gateway_upstream_latency_seconds_bucket{le=\"0.001\"} 2\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.0025\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.005\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.01\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.025\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.05\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.1\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.25\"} 3\n"
            "gateway_upstream_latency_seconds_bucket{le=\"0.5\"} 4\n"
            "gateway_upstream_latency_seconds_bucket{le=\"1\"} 4\n"
            "gateway_upstream_latency_seconds_bucket{le=\"2.5\"} 4\n"
            "gateway_upstream_latency_seconds_bucket{le=\"5\"} 4\n"
            "gateway_upstream_latency_seconds_bucket{le=\"10\"} 4\n"
            "gateway_upstream_latency_seconds_bucket{le=\"+Inf\"} 5\n"
            "gateway_upstream_latency_seconds_sum 11.302001\n"
            "gateway_upstream_latency_seconds_count 5\n");
}

TEST(Metrics, AggregatesAcrossWorkers) {
  MetricsRegistry registry;
  WorkerMetrics& first = registry.AddWorker();
  WorkerMetrics& second = registry.AddWorker();

  // Each worker counts on its own thread, as in the gateway.
  std::thread a([&] {
    for (int i = 0; i < 1000; ++i) first.ForRoute("/api", gateway::v1::MATCH_PREFIX).Record(200);
    first.ForRoute("/health", gateway::v1::MATCH_EXACT).Record(503);
    first.RecordRequest(nullptr, 404);
    first.client_connections.Increment();
    first.client_connections.Increment();
    first.upstream_connections.Increment();
    first.ObserveUpstreamLatency(milliseconds(2));
  });
  std::thread b([&] {
    for (int i = 0; i < 500; ++i) second.ForRoute("/api", gateway::v1::MATCH_PREFIX).Record(201);
    second.ForRoute("/api", gateway::v1::MATCH_EXACT).Record(302);
    second.RecordRequest(nullptr, 400);
    second.client_connections.Increment();
    second.client_connections.Decrement();
    second.client_connections.Increment();
    second.upstream_connections.Increment();
    second.ObserveUpstreamLatency(milliseconds(40));
  });
  a.join();
  b.join();
  MetricsSnapshot snapshot = registry.Snapshot();
  EXPECT_EQ(snapshot.client_connections, 3);
  EXPECT_EQ(snapshot.upstream_connections, 2);
  EXPECT_EQ(snapshot.http2_streams, 0u);  // no worker's HTTP/2 counters were given
  snapshot.config_nacks = 1;
  snapshot.ready = true;
  EXPECT_EQ(snapshot.latency_buckets[1] + snapshot.latency_buckets[5], 2u);

  const std::string text = RenderPrometheus(snapshot);
  // Sorted by (route, match); prefix and exact routes with one path stay apart.
  EXPECT_EQ(LinesStartingWith(text, "gateway_requests_total{"),
            "gateway_requests_total{route=\"\",match=\"none\",code=\"4xx\"} 2\n"
            "gateway_requests_total{route=\"/api\",match=\"exact\",code=\"3xx\"} 1\n"
            "gateway_requests_total{route=\"/api\",match=\"prefix\",code=\"2xx\"} 1500\n"
            "gateway_requests_total{route=\"/health\",match=\"exact\",code=\"5xx\"} 1\n");
  EXPECT_NE(text.find("\ngateway_active_client_connections 3\n"), std::string::npos);
  EXPECT_NE(text.find("\ngateway_config_nacks_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("\ngateway_ready 1\n"), std::string::npos);
  EXPECT_NE(text.find("\ngateway_control_plane_connected 0\n"), std::string::npos);
}

TEST(Metrics, ScrapesWhileAWorkerAddsRoutes) {
  MetricsRegistry registry;
  WorkerMetrics& worker = registry.AddWorker();
  std::thread counting([&] {
    for (int i = 0; i < 2000; ++i) {
      worker.ForRoute("/r" + std::to_string(i % 500), gateway::v1::MATCH_PREFIX).Record(200);
    }
  });
  uint64_t last_total = 0;
  for (int scrape = 0; scrape < 50; ++scrape) {
    uint64_t total = 0;
    for (const auto& counts : registry.Snapshot().requests) {
      total += counts.by_class[1];
    }
    EXPECT_GE(total, last_total);  // counters never go back
    last_total = total;
  }
  counting.join();
  uint64_t total = 0;
  const auto snapshot = registry.Snapshot();
  for (const auto& counts : snapshot.requests) total += counts.by_class[1];
  EXPECT_EQ(total, 2000u);
  EXPECT_EQ(snapshot.requests.size(), 500u);
}

TEST(Metrics, DistinctRoutesPastTheCapCountAsOther) {
  MetricsRegistry registry(/*max_route_labels_per_worker=*/3);
  WorkerMetrics& worker = registry.AddWorker();
  worker.ForRoute("/a", gateway::v1::MATCH_PREFIX).Record(200);
  worker.ForRoute("/b", gateway::v1::MATCH_PREFIX).Record(200);
  worker.ForRoute("/a", gateway::v1::MATCH_EXACT).Record(200);
  worker.ForRoute("/c", gateway::v1::MATCH_PREFIX).Record(200);  // the 4th: other
  worker.ForRoute("/d", gateway::v1::MATCH_EXACT).Record(500);   // other
  worker.ForRoute("/a", gateway::v1::MATCH_PREFIX).Record(404);  // known: still its own
  worker.RecordRequest(nullptr, 404);  // no route never counts against the cap

  const std::string text = RenderPrometheus(registry.Snapshot());
  EXPECT_EQ(LinesStartingWith(text, "gateway_requests_total{"),
            "gateway_requests_total{route=\"\",match=\"none\",code=\"4xx\"} 1\n"
            "gateway_requests_total{route=\"/a\",match=\"exact\",code=\"2xx\"} 1\n"
            "gateway_requests_total{route=\"/a\",match=\"prefix\",code=\"2xx\"} 1\n"
            "gateway_requests_total{route=\"/a\",match=\"prefix\",code=\"4xx\"} 1\n"
            "gateway_requests_total{route=\"/b\",match=\"prefix\",code=\"2xx\"} 1\n"
            "gateway_requests_total{route=\"other\",match=\"other\",code=\"2xx\"} 1\n"
            "gateway_requests_total{route=\"other\",match=\"other\",code=\"5xx\"} 1\n");
}

TEST(Metrics, CountsByTheRouteEntry) {
  gateway::v1::Config config;
  config.set_version(3);
  auto* route = config.add_routes();
  route->set_path("/orders");
  route->set_match(gateway::v1::MATCH_PREFIX);
  route->set_target("127.0.0.1:9000");
  std::string error;
  const auto table = RouteTable::Build(config, 100, &error);
  ASSERT_TRUE(table) << error;

  MetricsRegistry registry;
  WorkerMetrics& worker = registry.AddWorker();
  worker.RecordRequest(table->Match("/orders/7"), 200);
  worker.RecordRequest(table->Match("/elsewhere"), 404);
  // A later config version with the same route keeps counting into the same series.
  EXPECT_EQ(&worker.ForRoute(table->Match("/orders")),
            &worker.ForRoute("/orders", gateway::v1::MATCH_PREFIX));

  const std::string text = RenderPrometheus(registry.Snapshot());
  EXPECT_EQ(LinesStartingWith(text, "gateway_requests_total{"),
            "gateway_requests_total{route=\"\",match=\"none\",code=\"4xx\"} 1\n"
            "gateway_requests_total{route=\"/orders\",match=\"prefix\",code=\"2xx\"} 1\n");
}

}  // namespace
}  // namespace gw
