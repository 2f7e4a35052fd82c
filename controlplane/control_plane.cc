#include "controlplane/control_plane.h"

#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <stdexcept>
#include <system_error>

#include "common/byte_size.h"
#include "common/duration.h"
#include "common/listen_probe.h"
#include "common/log.h"
#include "common/validation.h"
#include "controlplane/config_json.h"

namespace gw {
namespace {

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "controlplane";
  return name;
}

bool IsLoopback(const std::string& host) {
  if (AsciiLower(host) == "localhost") return true;
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(host, error);
  return !error && address.is_loopback();
}

// Secure by default: who can reach a non-loopback address must meet TLS and tokens.
void CheckSecurity(const ControlPlaneOptions& options) {
  if (!options.tls.ca.empty() && options.tls.cert.empty())
    throw std::runtime_error(
        "--client-ca needs --tls-cert and --tls-key (client certificates "
        "are only asked for over TLS)");
  const std::string listen = FormatHostPort(options.grpc_listen.host, options.grpc_listen.port);
  if (IsLoopback(options.grpc_listen.host)) return;
  std::vector<std::string> missing;
  if (options.tls.cert.empty()) missing.push_back("--tls-cert FILE --tls-key FILE");
  if (options.token_file.empty()) missing.push_back("--auth-token-file FILE");
  if (missing.empty()) return;
  if (!options.insecure)
    throw std::runtime_error(
        "--listen " + listen + " is not a loopback address: add " +
        JoinForMessage(missing, " and ") +
        " so that only callers with a token reach the config over TLS (see README, Securing "
        "the control channel), or --insecure to serve it as it is");
  LogWarn("--insecure: serving " + listen + " without " + JoinForMessage(missing, " and ") +
          "; anyone who reaches it can read and rewrite every route");
}

}  // namespace

ControlPlane::ControlPlane(const ControlPlaneOptions& options) : options_(options) {
  CheckSecurity(options);
  // A port in use is one line, and nothing is created (the database file included).
  if (options.grpc_listen.port != 0) {
    if (std::string error = CheckListenAddress(options.grpc_listen, "gRPC"); !error.empty())
      throw std::runtime_error(error);
  }
  if (options.admin_listen && options.admin_listen->port != 0) {
    if (std::string error = CheckListenAddress(*options.admin_listen, "the admin page");
        !error.empty())
      throw std::runtime_error(error);
  }
  if (options.max_config_bytes == 0 || options.max_config_bytes > kMaxConfigBytes)
    throw std::runtime_error("the config size limit must be 1 byte to " +
                             DescribeByteSize(kMaxConfigBytes) + ", what gateways accept");
  if (!options.tls.cert.empty()) tls_ = std::make_unique<WatchedTlsFiles>(options.tls, "TLS");
  authorizer_ = std::make_unique<Authorizer>(
      AuthOptions{options.token_file, /*client_certificates=*/!options.tls.ca.empty()});
  store_ = ConfigStore::Open(options.db,
                             ConfigStoreOptions{options.max_config_bytes, options.history_keep});
  auto initial = store_->LoadSnapshot();
  if (!initial) throw std::runtime_error(initial.error().message);
  const gateway::v1::Config& config = **initial;
  LogInfo(store_->backend().name() + " open at config version " + std::to_string(config.version()) +
          " (" + std::to_string(config.services_size()) + " services, " +
          std::to_string(config.routes_size()) + " routes)");
  if (std::string error = ValidateConfig(config); !error.empty())
    LogWarn("the stored config does not pass validation, gateways will refuse it: " + error);
  publisher_ = std::make_unique<SnapshotPublisher>(MakeSnapshot(*initial));
  // The change feed: this replica's writes and every other replica's, in version order.
  store_->OnChange([this](const ConfigPtr& config, bool local) {
    if (!local)
      LogInfo("config version " + std::to_string(config->version()) +
              ": written by another replica");
    publisher_->Publish(MakeSnapshot(config));
  });
  cluster_ = std::make_unique<Cluster>(*store_, worker_, registry_, *publisher_);

  admin_service_ = std::make_unique<AdminService>(
      *store_, worker_, *publisher_, registry_, *cluster_, *authorizer_, options.max_config_bytes);
  discovery_service_ = std::make_unique<DiscoveryService>(*publisher_, registry_, *authorizer_);

  const std::string listen = FormatHostPort(options.grpc_listen.host, options.grpc_listen.port);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      listen, tls_ ? tls_->ServerCredentials() : grpc::InsecureServerCredentials(), &port);
  // Gateways ping every few seconds to notice a dead control plane; accept those pings even
  // on idle streams, and ping back so dead gateways are noticed too.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // gRPC sets SO_REUSEPORT by default: a second control plane on the same address would then
  // start silently and split the admin calls and the gateways between two stores.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Whole configs cross here both ways (pushes, list answers, applied files): explicit limits,
  // the same on every channel and server (common/wire_limits.h), never gRPC's 4 MiB default.
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  builder.RegisterService(admin_service_.get());
  builder.RegisterService(discovery_service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0)
    throw std::runtime_error("cannot listen on " + listen + " for gRPC (address in use?)");
  grpc_address_ = FormatHostPort(options.grpc_listen.host, static_cast<uint32_t>(port));
  replica_id_ =
      options.replica_id.empty() ? HostName() + ":" + std::to_string(port) : options.replica_id;
  gateway::v1::ReplicaStatus self;
  self.set_id(replica_id_);
  // A wildcard listen address names no machine: others find this one by its host name.
  const bool wildcard = options.grpc_listen.host == "0.0.0.0" || options.grpc_listen.host == "::";
  self.set_address(wildcard ? FormatHostPort(HostName(), static_cast<uint32_t>(port))
                            : grpc_address_);
  self.set_build_version(GATEWAY_BUILD_VERSION);
  self.set_started_unix_ms(NowUnixMs());
  cluster_->Start(self);
  LogInfo("replica " + replica_id_ + " of " + store_->backend().name());
  LogInfo(std::string("gRPC ") + (tls_ ? "over TLS" : "in plaintext") +
          (options.tls.ca.empty() ? "" : ", client certificates verified by " + options.tls.ca) +
          (options.token_file.empty() ? ", no token file (every call anonymous)"
                                      : ", tokens from " + options.token_file));
  LogInfo("grpc listening on " + grpc_address_);  // the last word is the address (scripts read it)

  if (options.admin_listen) {
    dashboard_ = std::make_unique<Dashboard>(*store_, worker_, *publisher_, registry_, *cluster_,
                                             *authorizer_, replica_id_);
    admin_http_ = std::make_unique<AdminHttpServer>(
        *options.admin_listen, [this](const AdminRequest& request) { return ServeAdmin(request); });
    LogInfo("admin listening on " + admin_http_->address());
  }
  ready_ = true;
}

ControlPlane::~ControlPlane() { Shutdown(); }

void ControlPlane::Reload() {
  authorizer_->Reload(/*force=*/true);
  if (tls_) tls_->Reload();
}

void ControlPlane::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  ready_ = false;
  // Unary calls get the grace period; gateway streams never end by themselves, so they are
  // cancelled when it expires. Queued store work still runs (the worker is stopped after), so
  // every admin call is finished.
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
  if (cluster_) cluster_->Stop();
  worker_.Stop();
  admin_http_.reset();
}

std::string ControlPlane::admin_address() const {
  return admin_http_ ? admin_http_->address() : std::string();
}

AdminResponse ControlPlane::ServeAdmin(const AdminRequest& request) {
  const std::string_view path = request.path;
  if (path == "/healthz" || path == "/ready" || path == "/config") {
    if (request.method != "GET" && request.method != "HEAD") {
      AdminResponse refusal{405, "application/json", R"({"error":"method not allowed"})"};
      refusal.headers.emplace_back("Allow", "GET, HEAD");
      return refusal;
    }
    if (path == "/healthz") return {200, "text/plain", "ok"};
    if (path == "/ready") {
      if (ready_.load()) return {200, "text/plain", "ready"};
      return {503, "text/plain", "not ready"};
    }
    // The config names every consumer and its key digests: a reader's, as on the gRPC port.
    if (auto refusal = ReadRefusal(*authorizer_, request, "read the config")) return *refusal;
    return {200, "application/json", ConfigToJson(publisher_->Current()->config())};
  }
  if (auto answer = dashboard_->Serve(request)) return *std::move(answer);
  if (request.method != "GET" && request.method != "HEAD")
    return {405, "application/json", R"({"error":"method not allowed"})"};
  return {404, "application/json", R"({"error":"not found"})"};
}

}  // namespace gw
