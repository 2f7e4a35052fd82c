// gateway: the data plane. Serves HTTP/1.1 on --listen (and HTTPS on --listen-tls) by the routes
// the control plane streams (or its cache file holds), with admin pages on --admin. See
// gateway_options.h for the flags.
//
// Start-up: connect to --redis (in the background), load the cache, check that nobody listens on
// --listen yet (exit 1 otherwise), bind every worker's listener, start the admin pages, the
// workers, then the subscription.
// SIGINT/SIGTERM: stop accepting, stop the subscription, let requests in flight finish (up to
// --drain-timeout), exit 0.
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/admin_http.h"
#include "common/listen_probe.h"
#include "common/log.h"
#include "common/tls_files.h"
#include "gateway/admin/admin_pages.h"
#include "gateway/config/config_applier.h"
#include "gateway/config/config_subscriber.h"
#include "gateway/gateway_options.h"
#include "gateway/http2/connection.h"
#include "gateway/redis/redis_bucket_client.h"
#include "gateway/router/route_table_holder.h"
#include "gateway/server/worker.h"
#include "gateway/tls/certificate_table_holder.h"
#include "gateway/tls/ticket_keys.h"
#include "gateway/upstream/health_checker.h"

namespace gw {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// "gateway cannot listen on HOST:PORT: REASON", one line.
void LogCannotListen(const HostPort& listen, const boost::system::error_code& ec) {
  LogError("gateway cannot listen on " + FormatHostPort(listen.host, listen.port) + ": " +
           DescribeListenError(ec));
}

int Run(const GatewayOptions& options) {
  asio::io_context main_io{1};
  asio::signal_set signals(main_io, SIGINT, SIGTERM);
  std::signal(SIGPIPE, SIG_IGN);
  gw::QuietGrpcLogs();

  RouteTableHolder holder;
  ConfigApplier applier(holder, options.cache_path, options.proxy.max_routes);
  // HTTPS: the certificates of each config, and the session ticket keys, replaced every
  // --session-ticket-rotation by a timer on this thread.
  CertificateTableHolder certificates;
  std::shared_ptr<TicketKeyRing> ticket_keys;
  asio::steady_timer ticket_rotation(main_io);
  std::function<void()> rotate_tickets = [&] {
    ticket_rotation.expires_after(options.session_ticket_rotation);
    ticket_rotation.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (!ticket_keys->Rotate()) LogWarn("TLS session ticket keys not rotated: no randomness");
      rotate_tickets();
    });
  };
  if (options.listen_tls) {
    ticket_keys = std::make_shared<TicketKeyRing>();
    applier.ServeCertificates(certificates, TlsEdgeOptions{{"h2", "http/1.1"}, ticket_keys});
    rotate_tickets();
  }
  // Active health checks on their own thread, following the services of the table in use.
  HealthChecker::Options check_options;
  check_options.on_change = [](const ServiceEndpoints& service, size_t endpoint,
                               HealthChange change) {
    LogInfo("endpoint " + std::to_string(endpoint) + " of service " + service.service() +
            (change == HealthChange::kBecameHealthy ? " is healthy" : " is unhealthy"));
  };
  HealthChecker health_checker(std::move(check_options));
  health_checker.Start();
  applier.OnPublish([&health_checker](const RouteTable& table) {
    health_checker.Reconfigure(table.service_states());
  });
  // Cluster-scope rate limits: counted in Redis by its own thread, which reconnects by itself.
  // Stopped on every way out of Run, before the tables that hold its limiters go.
  struct StopRedisOnExit {
    std::shared_ptr<RedisBucketClient> client;
    ~StopRedisOnExit() {
      if (client) client->Stop();
    }
  } redis;
  if (options.redis) {
    RedisBucketOptions redis_options;
    redis_options.address = *options.redis;
    redis_options.timeout = options.redis_timeout;
    redis_options.max_lease = options.redis_lease;
    redis.client = std::make_shared<RedisBucketClient>(std::move(redis_options));
    redis.client->Start();
    applier.UseClusterBuckets(redis.client);
  }
  applier.LoadCache();

  // Bind every worker before serving, on the port the probe found free (it picks one when
  // --listen says 0); with several workers they share it through SO_REUSEPORT.
  tcp::endpoint endpoint = ListenEndpoint(main_io, options.listen);
  if (const auto ec = ProbeListen(main_io, endpoint)) {
    LogCannotListen(options.listen, ec);
    return 1;
  }
  std::optional<tcp::endpoint> tls_endpoint;
  if (options.listen_tls) {
    tls_endpoint = ListenEndpoint(main_io, *options.listen_tls);
    if (const auto ec = ProbeListen(main_io, *tls_endpoint)) {
      LogCannotListen(*options.listen_tls, ec);
      return 1;
    }
  }
  MetricsRegistry metrics;
  std::unique_ptr<AccessLog> access_log;
  if (!options.access_log.empty()) {
    std::string error;
    access_log = AccessLog::Open(AccessLogOptions{options.access_log}, &error);
    if (!access_log) {
      LogError("gateway cannot open the access log: " + error);
      return 1;
    }
  }

  const bool reuse_port = options.workers > 1;
  std::vector<std::unique_ptr<Worker>> workers;
  workers.reserve(options.workers);
  // HTTP/2 with prior knowledge takes the HTTP/1.1 limits where they mean the same.
  http2::ConnectionSettings http2_settings;
  http2_settings.max_concurrent_streams = options.http2_max_concurrent_streams;
  http2_settings.connection_window = static_cast<int32_t>(options.http2_connection_window);
  http2_settings.max_header_list_size = options.proxy.max_header_size;
  http2_settings.settings_timeout = options.proxy.header_timeout;
  http2_settings.idle_timeout = options.proxy.idle_timeout;
  for (size_t i = 0; i < options.workers; ++i) {
    auto worker = std::make_unique<Worker>(options.proxy, holder);
    worker->Observe(metrics.AddWorker(), access_log ? &access_log->AddWorker() : nullptr);
    worker->ConfigureHttp2(http2_settings);
    if (const auto ec = worker->Listen(endpoint, reuse_port)) {
      LogCannotListen(options.listen, ec);
      return 1;
    }
    if (tls_endpoint) {
      worker->ServeTls(certificates);
      if (const auto ec = worker->Listen(*tls_endpoint, reuse_port, true)) {
        LogCannotListen(*options.listen_tls, ec);
        return 1;
      }
    }
    workers.push_back(std::move(worker));
  }
  const std::string http_address = FormatHostPort(endpoint.address().to_string(), endpoint.port());
  LogInfo("http listening on " + http_address);
  if (tls_endpoint) {
    LogInfo("https listening on " +
            FormatHostPort(tls_endpoint->address().to_string(), tls_endpoint->port()));
  }
  LogInfo(std::to_string(options.workers) + " workers serving");

  std::optional<ConfigSubscriber> subscriber_holder;
  try {
    subscriber_holder.emplace(
        SubscriberOptions{options.control_plane, options.node_id, http_address,
                          options.control_plane_tls, options.token_file},
        applier);
  } catch (const std::exception& e) {
    LogError(e.what());
    return 1;
  }
  ConfigSubscriber& subscriber = *subscriber_holder;

  std::unique_ptr<AdminHttpServer> admin;
  if (options.admin) {
    admin = std::make_unique<AdminHttpServer>(*options.admin, [&](const AdminRequest& request) {
      const RouteTableConstSharedPtr table = holder.Load();
      const std::string source = applier.source();
      GatewayState state;
      state.ready = applier.ready();
      state.version = applier.version();
      state.source = source;
      state.control_plane_connected = subscriber.connected();
      state.table = table.get();
      state.config_applies = applier.applied_total();
      state.config_nacks = applier.refused_total();
      state.metrics = &metrics;
      state.access_log_dropped_lines = access_log ? access_log->dropped_lines() : 0;
      state.control_plane_error = subscriber.last_stream_error();
      state.control_plane_stream_failures = subscriber.stream_failures();
      state.cache_enabled = !options.cache_path.empty();
      const CacheWriter::Status cache = applier.cache_status();
      state.cache_healthy = cache.healthy;
      state.cache_version = cache.version;
      state.cache_write_failures = cache.failed_writes;
      state.cache_error = cache.last_error;
      if (redis.client) {
        state.redis_enabled = true;
        state.redis_healthy = redis.client->available();
        state.redis_errors = redis.client->errors();
        state.redis_syncs = redis.client->syncs();
      }
      if (const CertificateTableConstSharedPtr served = certificates.Load()) {
        state.certificates_not_after = served->NotAfter();
      }
      return ServeAdminPage(request.method, request.path, state);
    });
    LogInfo("admin listening on " + admin->address());
  }

  for (auto& worker : workers) worker->Start();
  subscriber.Start();

  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) LogInfo("signal " + std::to_string(signal) + " received: shutting down");
    ticket_rotation.cancel();
  });
  main_io.run();

  for (auto& worker : workers) worker->Drain();
  subscriber.Stop();
  const auto deadline = std::chrono::steady_clock::now() + options.drain_timeout;
  bool drained = true;
  for (auto& worker : workers) drained = worker->WaitUntilDrained(deadline) && drained;
  if (!drained) LogWarn("drain timeout reached: closing the connections still open");
  for (auto& worker : workers) worker->Stop();
  for (auto& worker : workers) worker->Join();
  if (access_log) access_log->Stop();
  if (redis.client) redis.client->Stop();
  admin.reset();
  LogInfo("gateway stopped");
  return 0;
}

}  // namespace
}  // namespace gw

int main(int argc, char** argv) {
  int exit_code = 0;
  const auto options = gw::ParseGatewayOptions(argc, argv, &exit_code);
  if (!options) return exit_code;
  gw::SetLogLevel(options->log_level);
  try {
    return gw::Run(*options);
  } catch (const std::exception& e) {
    gw::LogError(std::string("gateway cannot start: ") + e.what());
    return 1;
  }
}
