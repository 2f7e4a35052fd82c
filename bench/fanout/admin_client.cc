#include "bench/fanout/admin_client.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <vector>

#include "common/wire_limits.h"

namespace gw::bench {
namespace {

std::string Describe(const grpc::Status& status) {
  return "code " + std::to_string(static_cast<int>(status.error_code())) + ": " +
         status.error_message();
}

}  // namespace

std::string FanoutRoutePath(size_t index) {
  char path[32];
  std::snprintf(path, sizeof path, "/fanout/r%05zu", index);
  return path;
}

AdminClient::AdminClient(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  stub_ = gateway::v1::AdminService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

std::string AdminClient::CreateRoutes(size_t count, size_t in_flight,
                                      std::chrono::milliseconds call_timeout) {
  struct Call {
    grpc::ClientContext context;
    gateway::v1::CreateRouteRequest request;
    gateway::v1::RouteResponse response;
  };
  std::vector<std::unique_ptr<Call>> calls(count);
  std::mutex mu;
  std::condition_variable changed;
  size_t running = 0;
  std::string first_error;

  for (size_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return running < in_flight || !first_error.empty(); });
      if (!first_error.empty()) break;
      ++running;
    }
    calls[i] = std::make_unique<Call>();
    Call& call = *calls[i];
    call.context.set_deadline(std::chrono::system_clock::now() + call_timeout);
    gateway::v1::Route* route = call.request.mutable_route();
    route->set_path(FanoutRoutePath(i));
    route->set_match(gateway::v1::MATCH_PREFIX);
    route->set_target("127.0.0.1:" + std::to_string(10000 + i % 50000));
    stub_->async()->CreateRoute(
        &call.context, &call.request, &call.response, [&, i](grpc::Status status) {
          std::lock_guard lock(mu);
          --running;
          if (!status.ok() && first_error.empty())
            first_error = "CreateRoute " + FanoutRoutePath(i) + ": " + Describe(status);
          changed.notify_all();
        });
  }
  // Every call has a deadline, so this wait ends; the margin covers a slow callback thread.
  std::unique_lock lock(mu);
  if (!changed.wait_for(lock, call_timeout + std::chrono::seconds(10),
                        [&] { return running == 0; })) {
    // Calls still refer to `calls`: leave them to the process rather than free them under gRPC.
    for (auto& call : calls) call.release();
    return first_error.empty() ? "CreateRoute calls did not finish" : first_error;
  }
  return first_error;
}

AdminClient::Change AdminClient::UpdateRouteTarget(const std::string& path,
                                                   const std::string& target,
                                                   std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  gateway::v1::UpdateRouteRequest request;
  request.mutable_route()->set_path(path);
  request.mutable_route()->set_match(gateway::v1::MATCH_PREFIX);
  request.mutable_route()->set_target(target);
  request.mutable_update_mask()->add_paths("target");
  gateway::v1::RouteResponse response;
  const grpc::Status status = stub_->UpdateRoute(&context, request, &response);
  if (!status.ok()) return {0, "UpdateRoute " + path + ": " + Describe(status)};
  return {response.config_version(), ""};
}

std::optional<gateway::v1::StatusResponse> AdminClient::Status(std::chrono::milliseconds timeout,
                                                               std::string* error) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  gateway::v1::StatusResponse response;
  const grpc::Status status = stub_->GetStatus(&context, {}, &response);
  if (!status.ok()) {
    *error = "GetStatus: " + Describe(status);
    return std::nullopt;
  }
  return response;
}

}  // namespace gw::bench
