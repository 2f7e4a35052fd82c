// AdminService: the unary admin API gatewayctl talks to (gateway.proto AdminService).
//
// Every call is authorized first (controlplane/auth.h: token roles), then runs on the StoreWorker,
// never in a gRPC reaction: each posts a closure that runs the ConfigStore (or Cluster) operation
// and finishes the RPC. A write reaches the gateways through the store's change feed
// (ConfigStore::OnChange), not from here. ListGateways, PruneGateways and GetStatus show the whole
// cluster (Cluster::Read). Owned by the ControlPlane.
#pragma once

#include <functional>

#include "controlplane/auth.h"
#include "controlplane/cluster.h"
#include "controlplane/gateway_registry.h"
#include "controlplane/snapshot_publisher.h"
#include "controlplane/store/config_store.h"
#include "controlplane/store_worker.h"
#include "gateway.grpc.pb.h"

namespace gw {

// How a store refusal reads as a gRPC status (its message cut at kMaxStatusMessageBytes:
// status messages travel in metadata, which peers refuse beyond 8 KiB).
grpc::Status ToStatus(const StoreError& error);

// What the admin API shows of consumers and certificates, the one place their secrets are taken
// out of answers: a consumer's HS256 secret and a certificate's private key become their SHA-256
// (key_sha256, jwt.secret_sha256: apply gives them back to keep what is stored); a certificate
// also gets its leaf's DNS names and expiry. Every answer, the history and /config use them.
gateway::v1::Consumer Redacted(gateway::v1::Consumer consumer);
gateway::v1::Certificate Redacted(gateway::v1::Certificate certificate);

class AdminService final : public gateway::v1::AdminService::CallbackService {
 public:
  // `max_config_bytes`: the store's limit, shown by GetStatus.
  AdminService(ConfigStore& store, StoreWorker& worker, SnapshotPublisher& publisher,
               GatewayRegistry& registry, Cluster& cluster, const Authorizer& authorizer,
               uint64_t max_config_bytes)
      : store_(store),
        worker_(worker),
        publisher_(publisher),
        registry_(registry),
        cluster_(cluster),
        authorizer_(authorizer),
        max_config_bytes_(max_config_bytes) {}

  using Context = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;

  Reactor* CreateService(Context* context, const gateway::v1::CreateServiceRequest* request,
                         gateway::v1::ServiceResponse* response) override;
  Reactor* UpdateService(Context* context, const gateway::v1::UpdateServiceRequest* request,
                         gateway::v1::ServiceResponse* response) override;
  Reactor* GetService(Context* context, const gateway::v1::GetServiceRequest* request,
                      gateway::v1::ServiceResponse* response) override;
  Reactor* ListServices(Context* context, const gateway::v1::ListServicesRequest* request,
                        gateway::v1::ListServicesResponse* response) override;
  Reactor* DeleteService(Context* context, const gateway::v1::DeleteServiceRequest* request,
                         gateway::v1::DeleteResponse* response) override;

  Reactor* CreateRoute(Context* context, const gateway::v1::CreateRouteRequest* request,
                       gateway::v1::RouteResponse* response) override;
  Reactor* UpdateRoute(Context* context, const gateway::v1::UpdateRouteRequest* request,
                       gateway::v1::RouteResponse* response) override;
  Reactor* GetRoute(Context* context, const gateway::v1::GetRouteRequest* request,
                    gateway::v1::RouteResponse* response) override;
  Reactor* ListRoutes(Context* context, const gateway::v1::ListRoutesRequest* request,
                      gateway::v1::ListRoutesResponse* response) override;
  Reactor* DeleteRoute(Context* context, const gateway::v1::DeleteRouteRequest* request,
                       gateway::v1::DeleteResponse* response) override;

  Reactor* CreateConsumer(Context* context, const gateway::v1::CreateConsumerRequest* request,
                          gateway::v1::ConsumerResponse* response) override;
  Reactor* GetConsumer(Context* context, const gateway::v1::GetConsumerRequest* request,
                       gateway::v1::ConsumerResponse* response) override;
  Reactor* ListConsumers(Context* context, const gateway::v1::ListConsumersRequest* request,
                         gateway::v1::ListConsumersResponse* response) override;
  Reactor* DeleteConsumer(Context* context, const gateway::v1::DeleteConsumerRequest* request,
                          gateway::v1::DeleteResponse* response) override;

  Reactor* CreateCertificate(Context* context, const gateway::v1::CreateCertificateRequest* request,
                             gateway::v1::CertificateResponse* response) override;
  Reactor* UpdateCertificate(Context* context, const gateway::v1::UpdateCertificateRequest* request,
                             gateway::v1::CertificateResponse* response) override;
  Reactor* GetCertificate(Context* context, const gateway::v1::GetCertificateRequest* request,
                          gateway::v1::CertificateResponse* response) override;
  Reactor* ListCertificates(Context* context, const gateway::v1::ListCertificatesRequest* request,
                            gateway::v1::ListCertificatesResponse* response) override;
  Reactor* DeleteCertificate(Context* context, const gateway::v1::DeleteCertificateRequest* request,
                             gateway::v1::DeleteResponse* response) override;

  Reactor* ListGateways(Context* context, const gateway::v1::ListGatewaysRequest* request,
                        gateway::v1::ListGatewaysResponse* response) override;
  Reactor* PruneGateways(Context* context, const gateway::v1::PruneGatewaysRequest* request,
                         gateway::v1::PruneGatewaysResponse* response) override;
  Reactor* GetStatus(Context* context, const gateway::v1::GetStatusRequest* request,
                     gateway::v1::StatusResponse* response) override;

  Reactor* Apply(Context* context, const gateway::v1::ApplyRequest* request,
                 gateway::v1::ApplyResponse* response) override;
  Reactor* Rollback(Context* context, const gateway::v1::RollbackRequest* request,
                    gateway::v1::ApplyResponse* response) override;
  Reactor* ListHistory(Context* context, const gateway::v1::ListHistoryRequest* request,
                       gateway::v1::ListHistoryResponse* response) override;
  Reactor* GetHistory(Context* context, const gateway::v1::GetHistoryRequest* request,
                      gateway::v1::GetHistoryResponse* response) override;

 private:
  // Authorizes the call for `access` (refused: finished at once with the Authorizer's
  // status), then runs `call` on the StoreWorker with the caller and finishes the RPC with the
  // status it returns. `what` names the call in a refusal ("create routes").
  Reactor* OnWorker(Context* context, Access access, std::string_view what,
                    std::function<grpc::Status(const Caller&)> call);
  // Logs the write that made `config` and who asked for it (a no-op, which made no version, is
  // not logged).
  void Logged(const ConfigPtr& config, const Caller& caller, const std::string& what);
  // CreateCertificate and UpdateCertificate answer alike (the certificate redacted).
  grpc::Status AnswerCertificate(StoreResult<CertificateWrite>& result, const Caller& caller,
                                 std::string_view verb, gateway::v1::CertificateResponse* response);
  // Apply and Rollback answer alike.
  grpc::Status Answer(StoreResult<ApplyWrite>& result, const Caller& caller,
                      std::string_view action, bool dry_run, gateway::v1::ApplyResponse* response);

  ConfigStore& store_;
  StoreWorker& worker_;
  // A warning when connected gateways lack a config feature the current version uses.
  std::vector<std::string> FeatureWarnings() const;

  SnapshotPublisher& publisher_;
  GatewayRegistry& registry_;
  Cluster& cluster_;
  const Authorizer& authorizer_;
  const uint64_t max_config_bytes_;
  uint64_t last_logged_version_ = 0;  // on the StoreWorker
};

}  // namespace gw
