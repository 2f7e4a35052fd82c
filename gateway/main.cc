// gateway: the data plane. Serves HTTP/1.1 on --listen by the routes the control plane streams
// (or its cache file holds), with admin pages on --admin. See gateway_options.h for the flags.
//
// Start-up: load the cache, bind every worker's listener, start the admin pages, the workers,
// then the subscription. SIGINT/SIGTERM: stop accepting, stop the subscription, let requests in
// flight finish (up to --drain-timeout), exit 0.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/admin_http.h"
#include "common/log.h"
#include "gateway/admin/admin_pages.h"
#include "gateway/config/config_applier.h"
#include "gateway/config/config_subscriber.h"
#include "gateway/gateway_options.h"
#include "gateway/router/route_table_holder.h"
#include "gateway/server/worker.h"

namespace gw {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// The address to bind: an IP literal as is, a name resolved once (start-up may block).
tcp::endpoint ListenEndpoint(asio::io_context& io, const HostPort& listen) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (!ec) return {address, listen.port};
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(listen.host, std::to_string(listen.port));
  if (results.empty()) throw std::runtime_error("--listen host " + listen.host + " has no address");
  return results.begin()->endpoint();
}

int Run(const GatewayOptions& options) {
  asio::io_context main_io{1};
  asio::signal_set signals(main_io, SIGINT, SIGTERM);
  std::signal(SIGPIPE, SIG_IGN);

  RouteTableHolder holder;
  ConfigApplier applier(holder, options.cache_path, options.proxy.max_routes);
  applier.LoadCache();

  // Bind every worker before serving: the first picks the port when --listen says 0, the
  // others share it through SO_REUSEPORT.
  tcp::endpoint endpoint = ListenEndpoint(main_io, options.listen);
  const bool reuse_port = options.workers > 1;
  std::vector<std::unique_ptr<Worker>> workers;
  workers.reserve(options.workers);
  for (size_t i = 0; i < options.workers; ++i) {
    auto worker = std::make_unique<Worker>(options.proxy, holder);
    worker->Listen(endpoint, reuse_port);
    if (i == 0) endpoint.port(worker->local_endpoint().port());
    workers.push_back(std::move(worker));
  }
  const std::string http_address = FormatHostPort(endpoint.address().to_string(), endpoint.port());
  LogInfo("http listening on " + http_address);
  LogInfo(std::to_string(options.workers) + " workers serving");

  ConfigSubscriber subscriber(
      SubscriberOptions{options.control_plane, options.node_id, http_address}, applier);

  std::unique_ptr<AdminHttpServer> admin;
  if (options.admin) {
    admin = std::make_unique<AdminHttpServer>(
        *options.admin, [&](std::string_view method, std::string_view path) {
          const RouteTableConstSharedPtr table = holder.Load();
          const std::string source = applier.source();
          GatewayState state;
          state.ready = applier.ready();
          state.version = applier.version();
          state.source = source;
          state.control_plane_connected = subscriber.connected();
          state.table = table.get();
          return ServeAdminPage(method, path, state);
        });
    LogInfo("admin listening on " + admin->address());
  }

  for (auto& worker : workers) worker->Start();
  subscriber.Start();

  signals.async_wait([](const boost::system::error_code& ec, int signal) {
    if (!ec) LogInfo("signal " + std::to_string(signal) + " received: shutting down");
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
