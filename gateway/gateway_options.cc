#include "gateway/gateway_options.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "common/byte_size.h"
#include "common/duration.h"

namespace gw {
namespace {

constexpr size_t kMaxWorkers = 256;
constexpr uint64_t kMaxRedisLease = 1'000'000;
constexpr uint64_t kMaxHeaderSize = 65535;
constexpr uint64_t kMaxHttp2Streams = 10'000;
// RFC 9113 section 6.9.1: a window is at most 2^31-1; under one stream's window (65535) a
// single stream could not fill its own.
constexpr uint64_t kMinHttp2Window = 65535;
constexpr uint64_t kMaxHttp2Window = (uint64_t{1} << 31) - 1;

// A duration flag: kept as text by CLI11, checked after parsing.
struct DurationFlag {
  const char* name;
  std::string text;
  std::chrono::milliseconds* out;
};

// A plain count of bytes or items in [min, max].
bool ParseCount(const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  if (value < min) return false;
  *out = value;
  return true;
}

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

}  // namespace

std::optional<GatewayOptions> ParseGatewayOptions(int argc, const char* const* argv,
                                                  int* exit_code) {
  GatewayOptions options;
  const unsigned cores = std::thread::hardware_concurrency();
  options.workers = cores == 0 ? 1 : cores;

  CLI::App app("gateway: the data plane. Proxies HTTP/1.1 by the routes the control plane streams.",
               "gateway");
  std::string listen, listen_tls, admin, workers, max_routes, max_body, max_header,
      max_response_body, http2_streams, http2_window, upstream_max_idle, aggregate_buffer,
      underscore_headers = "drop", log_level = "info", redis, redis_lease;
  app.set_version_flag("--version", std::string("gateway ") + GATEWAY_BUILD_VERSION);
  app.add_option("--listen", listen, "HOST:PORT for client traffic (port 0 picks one)")->required();
  app.add_option("--listen-tls", listen_tls,
                 "HOST:PORT for HTTPS client traffic, with the certificates managed by "
                 "`gatewayctl cert` (port 0 picks one)");
  app.add_option("--control-plane", options.control_plane,
                 "control plane's HOST:PORT, or a comma-separated list of its replicas (after a "
                 "lost stream the next one is tried)")
      ->required();
  app.add_option("--node-id", options.node_id,
                 "this gateway's unique id (with --tls-cert: the certificate's CN or a DNS SAN)")
      ->required();
  app.add_option("--control-plane-ca", options.control_plane_tls.ca,
                 "speak TLS to the control plane and verify its certificate with these CA "
                 "certificates (PEM; re-read when they change)");
  app.add_option("--tls-cert", options.control_plane_tls.cert,
                 "client certificate chain (PEM) shown to the control plane (needs "
                 "--control-plane-ca; re-read when it changes)");
  app.add_option("--tls-key", options.control_plane_tls.key, "the private key of --tls-cert (PEM)");
  app.add_option("--token-file", options.token_file,
                 "file whose first line is the bearer token for the control plane (re-read when "
                 "it changes)");
  app.add_option("--cache", options.cache_path,
                 "config cache file (served when the control "
                 "plane is down)")
      ->required();
  app.add_option("--admin", admin, "HOST:PORT for /healthz, /ready, /config and /metrics");
  app.add_option("--workers", workers, "worker threads (default: number of cores)");
  DurationFlag durations[] = {
      {"--upstream-timeout", "15s", &options.proxy.upstream_timeout},
      {"--connect-timeout", "5s", &options.proxy.connect_timeout},
      {"--idle-timeout", "60s", &options.proxy.idle_timeout},
      {"--upstream-idle-timeout", "60s", &options.proxy.upstream_idle_timeout},
      {"--drain-timeout", "30s", &options.drain_timeout},
      {"--header-timeout", "10s", &options.proxy.header_timeout},
      {"--body-timeout", "30s", &options.proxy.body_timeout},
      {"--tunnel-idle-timeout", "60s", &options.proxy.tunnel_idle_timeout},
      {"--redis-timeout", "250ms", &options.redis_timeout},
      {"--handshake-timeout", "10s", &options.proxy.handshake_timeout},
      {"--session-ticket-rotation", "1h", &options.session_ticket_rotation},
  };
  app.add_option("--upstream-timeout", durations[0].text,
                 "504 when the upstream has not answered by then (default 15s)");
  app.add_option("--connect-timeout", durations[1].text,
                 "per upstream connection attempt (default 5s)");
  app.add_option("--idle-timeout", durations[2].text,
                 "closes an idle client keep-alive connection (default 60s)");
  app.add_option("--upstream-idle-timeout", durations[3].text,
                 "closes an idle pooled upstream connection (default 60s)");
  app.add_option("--drain-timeout", durations[4].text,
                 "at SIGTERM, how long requests in flight may finish (default 30s)");
  app.add_option("--header-timeout", durations[5].text,
                 "a request header not complete by then gets 408 (default 10s)");
  app.add_option("--body-timeout", durations[6].text,
                 "a client body read or response write stalled that long ends the request, 408 "
                 "when nothing was answered yet (default 30s)");
  app.add_option("--tunnel-idle-timeout", durations[7].text,
                 "closes an upgraded (WebSocket) tunnel idle in both directions (default 60s)");
  app.add_option("--handshake-timeout", durations[9].text,
                 "a TLS handshake not done by then is closed (default 10s)");
  app.add_option("--session-ticket-rotation", durations[10].text,
                 "how often the TLS session ticket key is replaced; a ticket resumes for up to "
                 "three periods (default 1h)");
  app.add_option("--redis", redis,
                 "HOST:PORT of the Redis that counts cluster-scope rate limits (route "
                 "--rate-limit-scope cluster); without it they are counted per gateway");
  CLI::Option* redis_timeout_flag =
      app.add_option("--redis-timeout", durations[8].text,
                     "bound on connecting to Redis and on each answer; past it the gateway counts "
                     "cluster-scope limits itself until Redis answers again (default 250ms)");
  CLI::Option* redis_lease_flag =
      app.add_option("--redis-lease", redis_lease,
                     "most requests of one key this gateway admits before Redis has counted them "
                     "(a tenth of the bucket, at least 1, at most this; default 20)");
  app.add_option("--max-routes", max_routes, "refuse configs with more routes (default 10000)");
  app.add_option("--max-body-size", max_body,
                 "request body limit, 413 beyond: bytes or 512k, 10m, 1g; 0 for none; a route's "
                 "own limit wins (default 0: bodies stream in constant memory)");
  app.add_option("--max-header-size", max_header,
                 "request header limit in bytes, 431 beyond "
                 "(default 16384)");
  app.add_option("--http2-max-concurrent-streams", http2_streams,
                 "HTTP/2 (h2c and h2 over TLS): streams one connection may have open at once "
                 "(default 100)");
  app.add_option("--http2-connection-window", http2_window,
                 "HTTP/2: request body bytes one connection may have in flight to the gateway, "
                 "bytes or 512k, 1m (default 1m)");
  app.add_option("--max-response-body-size", max_response_body,
                 "upstream response body limit in bytes: 502, or the client connection aborted "
                 "once streaming began; 0 for none (default 0)");
  app.add_option("--aggregate-buffer", aggregate_buffer,
                 "bytes the aggregate routes of one worker may hold at once (parts' bodies, "
                 "answers not yet sent), 503 aggregate_busy beyond: bytes or 64m (default 64m)");
  app.add_option("--upstream-max-idle", upstream_max_idle,
                 "idle pooled connections kept per upstream endpoint and worker, 0 for none "
                 "(default 64)");
  app.add_option("--underscore-headers", underscore_headers,
                 "request header names with '_' (X_Consumer): drop them, reject the request "
                 "(400) or allow them (default drop)");
  app.add_option("--log-level", log_level, "debug, info, warn or error (default info)");
  app.add_option("--access-log", options.access_log,
                 "one JSON line per request to this file (appended), or - for stdout (default: "
                 "off)");

  auto usage_error = [&](const std::string& message) -> std::optional<GatewayOptions> {
    std::fprintf(stderr, "gateway: %s\n", message.c_str());
    *exit_code = 2;
    return std::nullopt;
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    *exit_code = 0;
    return std::nullopt;
  } catch (const CLI::CallForVersion&) {
    std::printf("gateway %s\n", GATEWAY_BUILD_VERSION);
    *exit_code = 0;
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }

  std::string error;
  auto parsed_listen = ParseListenAddress(listen, &error);
  if (!parsed_listen) return usage_error("--listen: " + error);
  options.listen = std::move(*parsed_listen);
  const auto control_planes = ParseAddressList(options.control_plane, &error);
  if (!control_planes) return usage_error("--control-plane: " + error);
  options.control_plane.clear();
  for (const std::string& address : *control_planes)
    options.control_plane += (options.control_plane.empty() ? "" : ",") + address;
  if (options.node_id.empty()) return usage_error("--node-id must not be empty");
  if (options.control_plane_tls.cert.empty() != options.control_plane_tls.key.empty())
    return usage_error("--tls-cert and --tls-key go together");
  if (!options.control_plane_tls.cert.empty() && options.control_plane_tls.ca.empty())
    return usage_error(
        "--tls-cert needs --control-plane-ca (a client certificate is shown over "
        "TLS only)");
  if (options.cache_path.empty()) return usage_error("--cache must not be empty");
  if (!admin.empty()) {
    auto parsed_admin = ParseListenAddress(admin, &error);
    if (!parsed_admin) return usage_error("--admin: " + error);
    options.admin = std::move(*parsed_admin);
  }
  uint64_t count = 0;
  if (!workers.empty()) {
    if (!ParseCount(workers, 1, kMaxWorkers, &count))
      return usage_error("--workers must be a number in 1-" + std::to_string(kMaxWorkers));
    options.workers = static_cast<size_t>(count);
  }
  for (auto& flag : durations) {
    auto value = ParseDuration(flag.text, &error);
    if (!value) return usage_error(std::string(flag.name) + ": " + error);
    *flag.out = *value;
  }
  if (!redis.empty()) {
    auto parsed_redis = ParseHostPort(redis, &error);
    if (!parsed_redis) return usage_error("--redis: " + error);
    options.redis = std::move(*parsed_redis);
  }
  if (options.redis_timeout.count() < 1) return usage_error("--redis-timeout must be at least 1ms");
  if (!listen_tls.empty()) {
    auto parsed = ParseListenAddress(listen_tls, &error);
    if (!parsed) return usage_error("--listen-tls: " + error);
    options.listen_tls = std::move(*parsed);
  }
  if (options.proxy.handshake_timeout.count() < 1)
    return usage_error("--handshake-timeout must be at least 1ms");
  if (options.session_ticket_rotation < std::chrono::seconds(1))
    return usage_error("--session-ticket-rotation must be at least 1s");
  if (!redis_lease.empty()) {
    if (!ParseCount(redis_lease, 1, kMaxRedisLease, &count))
      return usage_error("--redis-lease must be a number in 1-" + std::to_string(kMaxRedisLease));
    options.redis_lease = count;
  }
  if ((redis_timeout_flag->count() > 0 || redis_lease_flag->count() > 0) && !options.redis)
    return usage_error("--redis-timeout and --redis-lease need --redis");
  if (!max_routes.empty()) {
    if (!ParseCount(max_routes, 1, 100'000'000, &count))
      return usage_error("--max-routes must be a positive number");
    options.proxy.max_routes = static_cast<size_t>(count);
  }
  if (!max_body.empty()) {
    const auto size = ParseByteSize(max_body, &error);
    if (!size) return usage_error("--max-body-size: " + error + "; 0 for no limit");
    options.proxy.max_body_size = *size;
  }
  if (!max_header.empty()) {
    // Beast keeps each header value in at most 65533 bytes; a header block of up to 64 KiB
    // can never hold a longer one.
    if (!ParseCount(max_header, 1, kMaxHeaderSize, &count))
      return usage_error("--max-header-size must be a number of bytes in 1-" +
                         std::to_string(kMaxHeaderSize));
    options.proxy.max_header_size = static_cast<uint32_t>(count);
  }
  if (!http2_streams.empty()) {
    if (!ParseCount(http2_streams, 1, kMaxHttp2Streams, &count))
      return usage_error("--http2-max-concurrent-streams must be a number in 1-" +
                         std::to_string(kMaxHttp2Streams));
    options.http2_max_concurrent_streams = static_cast<uint32_t>(count);
  }
  if (!http2_window.empty()) {
    const auto size = ParseByteSize(http2_window, &error);
    if (!size || *size < kMinHttp2Window || *size > kMaxHttp2Window)
      return usage_error("--http2-connection-window must be a size in 65535-" +
                         std::to_string(kMaxHttp2Window) + " bytes");
    options.http2_connection_window = static_cast<uint32_t>(*size);
  }
  if (!max_response_body.empty()) {
    if (!ParseCount(max_response_body, 0, UINT64_MAX, &count))
      return usage_error("--max-response-body-size must be a number of bytes (0 for no limit)");
    options.proxy.max_response_body_size = count;
  }
  if (!aggregate_buffer.empty()) {
    const auto size = ParseByteSize(aggregate_buffer, &error);
    if (!size || *size < kMinAggregateBuffer || *size > kMaxAggregateBuffer)
      return usage_error("--aggregate-buffer must be a size in 64k-64g");
    options.proxy.aggregate_buffer = static_cast<size_t>(*size);
  }
  if (!upstream_max_idle.empty()) {
    if (!ParseCount(upstream_max_idle, 0, 1'000'000, &count))
      return usage_error("--upstream-max-idle must be a number (0 disables pooling)");
    options.proxy.upstream_max_idle = static_cast<size_t>(count);
  }
  if (underscore_headers == "drop") {
    options.proxy.underscore_headers = UnderscoreHeaders::kDrop;
  } else if (underscore_headers == "reject") {
    options.proxy.underscore_headers = UnderscoreHeaders::kReject;
  } else if (underscore_headers == "allow") {
    options.proxy.underscore_headers = UnderscoreHeaders::kAllow;
  } else {
    return usage_error("--underscore-headers must be drop, reject or allow");
  }
  auto level = ParseLogLevel(log_level);
  if (!level) return usage_error("--log-level must be debug, info, warn or error");
  options.log_level = *level;
  return options;
}

}  // namespace gw
