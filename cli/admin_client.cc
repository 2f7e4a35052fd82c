#include "cli/admin_client.h"

#include <utility>

#include "cli/output.h"
#include "common/duration.h"
#include "common/tls_files.h"
#include "common/tls_probe.h"
#include "common/validation.h"
#include "common/wire_limits.h"

namespace gw::cli {
namespace {

using gateway::v1::AdminService;
using gateway::v1::CreateRouteRequest;
using gateway::v1::CreateServiceRequest;
using gateway::v1::DeleteResponse;
using gateway::v1::DeleteRouteRequest;
using gateway::v1::DeleteServiceRequest;
using gateway::v1::GetRouteRequest;
using gateway::v1::GetServiceRequest;
using gateway::v1::GetStatusRequest;
using gateway::v1::ListGatewaysRequest;
using gateway::v1::ListGatewaysResponse;
using gateway::v1::ListRoutesRequest;
using gateway::v1::ListRoutesResponse;
using gateway::v1::ListServicesRequest;
using gateway::v1::ListServicesResponse;
using gateway::v1::RouteResponse;
using gateway::v1::ServiceResponse;
using gateway::v1::StatusResponse;
using gateway::v1::UpdateRouteRequest;
using gateway::v1::UpdateServiceRequest;

// gRPC's UNAVAILABLE messages are long ("failed to connect to all addresses; last error: ...
// Connection refused"); keep the part a person needs.
std::string UnreachableReason(std::string_view message) {
  const std::string lower = AsciiLower(message);
  static constexpr std::pair<std::string_view, std::string_view> kKnown[] = {
      {"connection refused", "connection refused"},
      {"no route to host", "no route to host"},
      {"network is unreachable", "network is unreachable"},
      {"dns resolution failed", "cannot resolve the host name"},
      {"name or service not known", "cannot resolve the host name"},
      {"domain name not found", "cannot resolve the host name"},
      {"connection reset", "connection reset"},
      {"socket closed", "connection closed"},
      {"timed out", "connection timed out"},
      {"failed parsing http/2",
       "the server there does not speak gRPC; use the control plane's --listen address"},
  };
  for (const auto& [needle, reason] : kKnown)
    if (lower.find(needle) != std::string::npos) return std::string(reason);
  // Otherwise the last error, without gRPC's preamble.
  std::string line = OneLine(message);
  if (const size_t last = line.find("last error: "); last != std::string::npos)
    line.erase(0, last + 12);
  for (std::string_view code : {"UNAVAILABLE: ", "UNKNOWN: "})
    if (line.starts_with(code)) line.erase(0, code.size());
  return line.empty() ? "unavailable" : line;
}

}  // namespace

std::string DescribeCallFailure(const grpc::Status& status, std::string_view server,
                                std::chrono::milliseconds timeout, bool reached) {
  const std::string at = "control plane at " + std::string(server);
  const std::string message = OneLine(status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return "";
    case grpc::StatusCode::UNAVAILABLE:
      // Said by a control plane it reached (e.g. its database is down): its own words.
      if (reached && !message.empty()) return message;
      return "cannot reach " + at + " (" + UnreachableReason(message) + ")";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (!reached)
        return "cannot reach " + at + " (no connection within " + FormatDuration(timeout) +
               "; see --timeout)";
      return at + " did not answer within " + FormatDuration(timeout) + " (see --timeout)";
    case grpc::StatusCode::UNAUTHENTICATED:
      return at + " refused the call: " + message;
    case grpc::StatusCode::PERMISSION_DENIED:
      return "permission denied: " + message;
    case grpc::StatusCode::UNIMPLEMENTED:
      return at + " does not implement this call" + (message.empty() ? "" : " (" + message + ")");
    case grpc::StatusCode::CANCELLED:
      return "call to " + at + " was cancelled" + (message.empty() ? "" : " (" + message + ")");
    default:
      if (!message.empty()) return message;
      return at + " failed the call with status " + std::to_string(status.error_code());
  }
}

AdminClient::AdminClient(std::string_view servers, std::chrono::milliseconds timeout,
                         ClientSecurity security)
    : servers_(SplitList(servers)),
      timeout_(timeout),
      security_(std::move(security)),
      replicas_(servers_.size()) {
  QuietGrpcLogs();  // common/tls_files.h
  if (security_.tls_ca.empty()) {
    credentials_ = grpc::InsecureChannelCredentials();
    return;
  }
  std::string ca = ReadPemFile(security_.tls_ca, &tls_error_);
  if (tls_error_.empty()) {
    if (std::string problem = CheckCaBundle(ca); !problem.empty())
      tls_error_ = security_.tls_ca + " " + problem;
  }
  if (!tls_error_.empty()) {
    tls_error_ = "--tls-ca: " + tls_error_;
    return;
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = std::move(ca);
  credentials_ = grpc::SslCredentials(options);
}

AdminClient::Replica& AdminClient::ReplicaAt(size_t index) {
  Replica& replica = replicas_[index];
  if (!replica.channel) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
    args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
    if (!security_.server_name.empty()) args.SetSslTargetNameOverride(security_.server_name);
    replica.channel = grpc::CreateCustomChannel(servers_[index], credentials_, args);
    replica.stub = AdminService::NewStub(replica.channel);
  }
  return replica;
}

std::string AdminClient::TlsReason(const grpc::Status& status, size_t index) const {
  const std::string message = AsciiLower(status.error_message());
  const bool connected = status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                         message.find("connection refused") == std::string::npos &&
                         message.find("dns") == std::string::npos &&
                         message.find("unreachable") == std::string::npos &&
                         message.find("no route") == std::string::npos;
  if (connected || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // A TCP connection that ended before gRPC spoke: ask at the TLS layer why.
    TlsProbeRequest probe;
    probe.address = servers_[index];
    probe.tls = !security_.tls_ca.empty();
    probe.ca_file = security_.tls_ca;
    probe.server_name = security_.server_name;
    probe.timeout = std::min<std::chrono::milliseconds>(timeout_, std::chrono::seconds(2));
    probe.ca_flag = "--tls-ca";
    probe.server_name_flag = "--tls-server-name";
    return DiagnoseTls(probe);
  }
  return "";
}

std::string AdminClient::Describe(const grpc::Status& status, size_t index, bool reached) const {
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    const std::string at = "the control plane at " + servers_[index];
    if (security_.token.empty())
      return at + " needs a token: give --token TOKEN or set $GATEWAYCTL_TOKEN";
    return at + " refused the token: " + OneLine(status.error_message());
  }
  if (!reached) {
    if (std::string reason = TlsReason(status, index); !reason.empty()) return reason;
  }
  return DescribeCallFailure(status, servers_[index], timeout_, reached);
}

template <typename Request, typename Response>
std::string AdminClient::Call(Method<Request, Response> method, const Request& request,
                              Response* response) {
  if (!tls_error_.empty()) return tls_error_;
  const auto deadline = std::chrono::system_clock::now() + timeout_;
  std::vector<std::string> unreachable;  // "address (reason)" of each replica not reached
  for (size_t i = 0; i < servers_.size(); ++i) {
    Replica& replica = ReplicaAt(i);
    grpc::ClientContext context;
    context.set_deadline(deadline);
    // Fail fast: without a connection the call ends at once instead of waiting for one.
    context.set_wait_for_ready(false);
    if (!security_.token.empty()) context.AddMetadata("authorization", "Bearer " + security_.token);
    const grpc::Status status = ((*replica.stub).*method)(&context, request, response);
    answered_ = i;
    if (status.ok()) return "";
    const bool reached = replica.channel->GetState(false) == GRPC_CHANNEL_READY;
    // Only a call that found no connection (so it was never sent) goes to the next replica:
    // a write that may have reached one is never sent twice.
    const bool next = status.error_code() == grpc::StatusCode::UNAVAILABLE && !reached &&
                      i + 1 < servers_.size() && std::chrono::system_clock::now() < deadline;
    if (!next) {
      std::string failure = Describe(status, i, reached);
      if (!unreachable.empty())
        failure += " (and cannot reach " + JoinForMessage(unreachable, ", ") + ")";
      return failure;
    }
    std::string reason = TlsReason(status, i);
    if (reason.empty()) reason = UnreachableReason(status.error_message());
    unreachable.push_back(servers_[i] + " (" + reason + ")");
  }
  return "";  // not reached: the last address always returns above
}

std::string AdminClient::CreateService(const CreateServiceRequest& request,
                                       ServiceResponse* response) {
  return Call(&Stub::CreateService, request, response);
}
std::string AdminClient::UpdateService(const UpdateServiceRequest& request,
                                       ServiceResponse* response) {
  return Call(&Stub::UpdateService, request, response);
}
std::string AdminClient::GetService(const GetServiceRequest& request, ServiceResponse* response) {
  return Call(&Stub::GetService, request, response);
}
std::string AdminClient::ListServices(const ListServicesRequest& request,
                                      ListServicesResponse* response) {
  return Call(&Stub::ListServices, request, response);
}
std::string AdminClient::DeleteService(const DeleteServiceRequest& request,
                                       DeleteResponse* response) {
  return Call(&Stub::DeleteService, request, response);
}

std::string AdminClient::CreateRoute(const CreateRouteRequest& request, RouteResponse* response) {
  return Call(&Stub::CreateRoute, request, response);
}
std::string AdminClient::UpdateRoute(const UpdateRouteRequest& request, RouteResponse* response) {
  return Call(&Stub::UpdateRoute, request, response);
}
std::string AdminClient::GetRoute(const GetRouteRequest& request, RouteResponse* response) {
  return Call(&Stub::GetRoute, request, response);
}
std::string AdminClient::ListRoutes(const ListRoutesRequest& request,
                                    ListRoutesResponse* response) {
  return Call(&Stub::ListRoutes, request, response);
}
std::string AdminClient::DeleteRoute(const DeleteRouteRequest& request, DeleteResponse* response) {
  return Call(&Stub::DeleteRoute, request, response);
}

std::string AdminClient::CreateConsumer(const gateway::v1::CreateConsumerRequest& request,
                                        gateway::v1::ConsumerResponse* response) {
  return Call(&Stub::CreateConsumer, request, response);
}
std::string AdminClient::GetConsumer(const gateway::v1::GetConsumerRequest& request,
                                     gateway::v1::ConsumerResponse* response) {
  return Call(&Stub::GetConsumer, request, response);
}
std::string AdminClient::ListConsumers(const gateway::v1::ListConsumersRequest& request,
                                       gateway::v1::ListConsumersResponse* response) {
  return Call(&Stub::ListConsumers, request, response);
}
std::string AdminClient::DeleteConsumer(const gateway::v1::DeleteConsumerRequest& request,
                                        DeleteResponse* response) {
  return Call(&Stub::DeleteConsumer, request, response);
}

std::string AdminClient::CreateCertificate(const gateway::v1::CreateCertificateRequest& request,
                                           gateway::v1::CertificateResponse* response) {
  return Call(&Stub::CreateCertificate, request, response);
}
std::string AdminClient::UpdateCertificate(const gateway::v1::UpdateCertificateRequest& request,
                                           gateway::v1::CertificateResponse* response) {
  return Call(&Stub::UpdateCertificate, request, response);
}
std::string AdminClient::GetCertificate(const gateway::v1::GetCertificateRequest& request,
                                        gateway::v1::CertificateResponse* response) {
  return Call(&Stub::GetCertificate, request, response);
}
std::string AdminClient::ListCertificates(const gateway::v1::ListCertificatesRequest& request,
                                          gateway::v1::ListCertificatesResponse* response) {
  return Call(&Stub::ListCertificates, request, response);
}
std::string AdminClient::DeleteCertificate(const gateway::v1::DeleteCertificateRequest& request,
                                           DeleteResponse* response) {
  return Call(&Stub::DeleteCertificate, request, response);
}

std::string AdminClient::ListGateways(const ListGatewaysRequest& request,
                                      ListGatewaysResponse* response) {
  return Call(&Stub::ListGateways, request, response);
}
std::string AdminClient::PruneGateways(const gateway::v1::PruneGatewaysRequest& request,
                                       gateway::v1::PruneGatewaysResponse* response) {
  return Call(&Stub::PruneGateways, request, response);
}
std::string AdminClient::GetStatus(const GetStatusRequest& request, StatusResponse* response) {
  return Call(&Stub::GetStatus, request, response);
}

std::string AdminClient::Apply(const gateway::v1::ApplyRequest& request,
                               gateway::v1::ApplyResponse* response) {
  return Call(&Stub::Apply, request, response);
}
std::string AdminClient::Rollback(const gateway::v1::RollbackRequest& request,
                                  gateway::v1::ApplyResponse* response) {
  return Call(&Stub::Rollback, request, response);
}
std::string AdminClient::ListHistory(const gateway::v1::ListHistoryRequest& request,
                                     gateway::v1::ListHistoryResponse* response) {
  return Call(&Stub::ListHistory, request, response);
}
std::string AdminClient::GetHistory(const gateway::v1::GetHistoryRequest& request,
                                    gateway::v1::GetHistoryResponse* response) {
  return Call(&Stub::GetHistory, request, response);
}

}  // namespace gw::cli
