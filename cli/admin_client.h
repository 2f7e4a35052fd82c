// gatewayctl's connection to the control plane's AdminService: one gRPC channel per replica
// address (TLS with --tls-ca, a bearer token with --token) (its message limits those of
// common/wire_limits.h, so a list of the largest config arrives), one unary call per command, each
// with a deadline, and every failure turned into one sentence. The channels never wait for ready:
// an unreachable replica fails the call at once (connection refused) or at the deadline, never
// hangs. With several addresses a call that could not reach one (no connection, so nothing was
// sent) goes to the next, in order, within the same deadline. Owned by cli/.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway.grpc.pb.h"

namespace gw::cli {

// The message gatewayctl prints (after "gatewayctl: ") for a failed call. `reached` says whether
// the channel had a connection when the call ended, to tell "cannot reach" from "did not answer".
// Connection failures name the address, e.g.
// "cannot reach control plane at 127.0.0.1:50051 (connection refused)"; errors the control plane
// chose (INVALID_ARGUMENT, NOT_FOUND, ...) are its own message, made one line.
std::string DescribeCallFailure(const grpc::Status& status, std::string_view server,
                                std::chrono::milliseconds timeout, bool reached);

// How gatewayctl proves who it is and checks whom it talks to.
struct ClientSecurity {
  std::string token;        // sent as "authorization: Bearer TOKEN" ("" for none)
  std::string tls_ca;       // TLS on, the server verified by these CA certificates ("" for off)
  std::string server_name;  // the name the server's certificate must carry ("" for the host)
};

class AdminClient {
 public:
  // `servers` is HOST:PORT[,HOST:PORT...]; `timeout` is the deadline of each call.
  AdminClient(std::string_view servers, std::chrono::milliseconds timeout,
              ClientSecurity security = {});

  // The address that answered the last call (the first one before any call).
  const std::string& server() const { return servers_[answered_]; }

  // Each call returns "" on success (with *response filled) or the one-line failure message.
  std::string CreateService(const gateway::v1::CreateServiceRequest& request,
                            gateway::v1::ServiceResponse* response);
  std::string UpdateService(const gateway::v1::UpdateServiceRequest& request,
                            gateway::v1::ServiceResponse* response);
  std::string GetService(const gateway::v1::GetServiceRequest& request,
                         gateway::v1::ServiceResponse* response);
  std::string ListServices(const gateway::v1::ListServicesRequest& request,
                           gateway::v1::ListServicesResponse* response);
  std::string DeleteService(const gateway::v1::DeleteServiceRequest& request,
                            gateway::v1::DeleteResponse* response);

  std::string CreateRoute(const gateway::v1::CreateRouteRequest& request,
                          gateway::v1::RouteResponse* response);
  std::string UpdateRoute(const gateway::v1::UpdateRouteRequest& request,
                          gateway::v1::RouteResponse* response);
  std::string GetRoute(const gateway::v1::GetRouteRequest& request,
                       gateway::v1::RouteResponse* response);
  std::string ListRoutes(const gateway::v1::ListRoutesRequest& request,
                         gateway::v1::ListRoutesResponse* response);
  std::string DeleteRoute(const gateway::v1::DeleteRouteRequest& request,
                          gateway::v1::DeleteResponse* response);

  std::string CreateConsumer(const gateway::v1::CreateConsumerRequest& request,
                             gateway::v1::ConsumerResponse* response);
  std::string GetConsumer(const gateway::v1::GetConsumerRequest& request,
                          gateway::v1::ConsumerResponse* response);
  std::string ListConsumers(const gateway::v1::ListConsumersRequest& request,
                            gateway::v1::ListConsumersResponse* response);
  std::string DeleteConsumer(const gateway::v1::DeleteConsumerRequest& request,
                             gateway::v1::DeleteResponse* response);

  std::string CreateCertificate(const gateway::v1::CreateCertificateRequest& request,
                                gateway::v1::CertificateResponse* response);
  std::string UpdateCertificate(const gateway::v1::UpdateCertificateRequest& request,
                                gateway::v1::CertificateResponse* response);
  std::string GetCertificate(const gateway::v1::GetCertificateRequest& request,
                             gateway::v1::CertificateResponse* response);
  std::string ListCertificates(const gateway::v1::ListCertificatesRequest& request,
                               gateway::v1::ListCertificatesResponse* response);
  std::string DeleteCertificate(const gateway::v1::DeleteCertificateRequest& request,
                                gateway::v1::DeleteResponse* response);

  std::string ListGateways(const gateway::v1::ListGatewaysRequest& request,
                           gateway::v1::ListGatewaysResponse* response);
  std::string PruneGateways(const gateway::v1::PruneGatewaysRequest& request,
                            gateway::v1::PruneGatewaysResponse* response);
  std::string GetStatus(const gateway::v1::GetStatusRequest& request,
                        gateway::v1::StatusResponse* response);

  std::string Apply(const gateway::v1::ApplyRequest& request, gateway::v1::ApplyResponse* response);
  std::string Rollback(const gateway::v1::RollbackRequest& request,
                       gateway::v1::ApplyResponse* response);
  std::string ListHistory(const gateway::v1::ListHistoryRequest& request,
                          gateway::v1::ListHistoryResponse* response);
  std::string GetHistory(const gateway::v1::GetHistoryRequest& request,
                         gateway::v1::GetHistoryResponse* response);

 private:
  using Stub = gateway::v1::AdminService::Stub;
  template <typename Request, typename Response>
  using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

  template <typename Request, typename Response>
  std::string Call(Method<Request, Response> method, const Request& request, Response* response);

  struct Replica {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<Stub> stub;
  };
  Replica& ReplicaAt(size_t index);  // its channel made on first use

  // Why a call that made no gRPC connection failed at the TLS layer ("" when it did not).
  std::string TlsReason(const grpc::Status& status, size_t index) const;
  // The one line for a failed call to servers_[index].
  std::string Describe(const grpc::Status& status, size_t index, bool reached) const;

  std::vector<std::string> servers_;
  std::chrono::milliseconds timeout_;
  const ClientSecurity security_;
  std::string tls_error_;  // why --tls-ca cannot be used ("" when fine)
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::vector<Replica> replicas_;  // one per address
  size_t answered_ = 0;
};

}  // namespace gw::cli
