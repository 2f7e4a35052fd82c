// The real control plane in-process on 127.0.0.1:0, driven by gRPC clients: admin calls and
// their status codes, and the Subscribe protocol (hello, push, ACK, NACK, replace, shutdown).
#include "controlplane/control_plane.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <thread>

#include "common/config_features.h"
#include "gateway.grpc.pb.h"
#include "tests/unit/support/temp_dir.h"

namespace gw {
namespace {

using namespace std::chrono_literals;
using gateway::v1::AdminService;
using gateway::v1::ConfigMessage;
using gateway::v1::DiscoveryService;
using gateway::v1::GatewayMessage;

constexpr auto kDeadline = 20s;

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

// One fake gateway's Subscribe stream (synchronous client).
class FakeGateway {
 public:
  // `instance`: the gateway process (Hello.instance_id); "" means the node id's own default.
  FakeGateway(const std::shared_ptr<grpc::Channel>& channel, std::string node_id,
              std::string instance = "")
      : stub_(DiscoveryService::NewStub(channel)),
        node_id_(std::move(node_id)),
        instance_(instance.empty() ? "process-of-" + node_id_ : std::move(instance)) {
    context_.set_deadline(std::chrono::system_clock::now() + kDeadline);
    stream_ = stub_->Subscribe(&context_);
  }
  ~FakeGateway() {
    if (!finished_) {
      context_.TryCancel();
      stream_->Finish();
    }
  }

  // `features`: with a value, the Hello states protocol 1 and these config features (an older
  // or newer gateway); without, it states nothing (protocol 0, the 0.2.0 baseline).
  bool Hello(uint64_t running_version,
             std::optional<std::vector<std::string>> features = std::nullopt) {
    GatewayMessage message;
    auto* hello = message.mutable_hello();
    hello->mutable_node()->set_id(node_id_);
    hello->mutable_node()->set_address("127.0.0.1:8080");
    hello->mutable_node()->set_build_version("test");
    if (features) {
      hello->mutable_node()->set_protocol_version(1);
      for (const auto& feature : *features) hello->mutable_node()->add_features(feature);
    }
    if (deltas_) hello->mutable_node()->add_capabilities("delta");
    hello->set_running_version(running_version);
    hello->set_instance_id(instance_);
    return stream_->Write(message);
  }
  // Its Hello announces the "delta" capability.
  void AcceptDeltas() { deltas_ = true; }
  bool Ack(uint64_t version, const std::string& nonce) {
    GatewayMessage message;
    message.mutable_ack()->set_version(version);
    message.mutable_ack()->set_nonce(nonce);
    return stream_->Write(message);
  }
  bool Nack(uint64_t version, const std::string& nonce, const std::string& error) {
    GatewayMessage message;
    message.mutable_nack()->set_version(version);
    message.mutable_nack()->set_nonce(nonce);
    message.mutable_nack()->set_error(error);
    return stream_->Write(message);
  }
  bool Send(const GatewayMessage& message) { return stream_->Write(message); }
  bool Read(ConfigMessage* message) { return stream_->Read(message); }
  grpc::Status Close() {
    stream_->WritesDone();
    finished_ = true;
    return stream_->Finish();
  }
  grpc::Status FinishAfterServerEnded() {
    ConfigMessage ignored;
    while (stream_->Read(&ignored)) {
    }
    finished_ = true;
    return stream_->Finish();
  }

 private:
  std::unique_ptr<DiscoveryService::Stub> stub_;
  std::string node_id_;
  std::string instance_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<GatewayMessage, ConfigMessage>> stream_;
  bool finished_ = false;
  bool deltas_ = false;
};

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start() {
    ControlPlaneOptions options;
    options.grpc_listen = {"127.0.0.1", 0};
    options.admin_listen = HostPort{"127.0.0.1", 0};
    options.db = dir_.File("config.db");
    control_plane_ = std::make_unique<ControlPlane>(options);
    channel_ =
        grpc::CreateChannel(control_plane_->grpc_address(), grpc::InsecureChannelCredentials());
    admin_ = AdminService::NewStub(channel_);
  }

  void Restart() {
    admin_.reset();
    channel_.reset();
    control_plane_.reset();
    Start();
  }

  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kDeadline);
    return ((*admin_).*method)(&context, request, response);
  }

  grpc::Status AddService(const std::string& name, uint32_t port) {
    gateway::v1::CreateServiceRequest request;
    request.mutable_service()->set_name(name);
    auto* endpoint = request.mutable_service()->add_endpoints();
    endpoint->set_host("127.0.0.1");
    endpoint->set_port(port);
    gateway::v1::ServiceResponse response;
    return Call(&AdminService::Stub::CreateService, request, &response);
  }

  grpc::Status AddRoute(const std::string& path, const std::string& target,
                        uint64_t* version = nullptr) {
    gateway::v1::CreateRouteRequest request;
    request.mutable_route()->set_path(path);
    request.mutable_route()->set_target(target);
    request.mutable_route()->set_match(gateway::v1::MATCH_PREFIX);
    gateway::v1::RouteResponse response;
    auto status = Call(&AdminService::Stub::CreateRoute, request, &response);
    if (version) *version = response.config_version();
    return status;
  }

  std::optional<gateway::v1::GatewayStatus> Gateway(const std::string& node_id) {
    gateway::v1::ListGatewaysResponse response;
    if (!Call(&AdminService::Stub::ListGateways, gateway::v1::ListGatewaysRequest(), &response)
             .ok())
      return std::nullopt;
    for (const auto& gateway : response.gateways())
      if (gateway.node_id() == node_id) return gateway;
    return std::nullopt;
  }

  gateway::v1::StatusResponse Status() {
    gateway::v1::StatusResponse response;
    EXPECT_TRUE(
        Call(&AdminService::Stub::GetStatus, gateway::v1::GetStatusRequest(), &response).ok());
    return response;
  }

  testing::TempDir dir_;
  std::unique_ptr<ControlPlane> control_plane_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<AdminService::Stub> admin_;
};

TEST_F(ControlPlaneTest, AdminCallsAnswerWithTheRightStatusCodes) {
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  auto status = AddService("order-svc", 9102);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(AddService("Order_Svc", 9102).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(AddService("pay-svc", 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  uint64_t version = 0;
  ASSERT_TRUE(AddRoute("/api", "order-svc", &version).ok());
  EXPECT_EQ(version, 2u);
  status = AddRoute("/api", "order-svc");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(status.error_message(), "route /api (prefix) already exists -> order-svc");
  EXPECT_EQ(AddRoute("api", "order-svc").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  gateway::v1::GetRouteRequest get;
  get.mutable_key()->set_path("/nope");
  gateway::v1::RouteResponse route;
  EXPECT_EQ(Call(&AdminService::Stub::GetRoute, get, &route).error_code(),
            grpc::StatusCode::NOT_FOUND);
  get.mutable_key()->set_path("/api");
  ASSERT_TRUE(Call(&AdminService::Stub::GetRoute, get, &route).ok());
  EXPECT_EQ(route.route().target(), "order-svc");
  EXPECT_EQ(route.config_version(), 2u);

  gateway::v1::DeleteServiceRequest remove;
  remove.set_name("order-svc");
  gateway::v1::DeleteResponse removed;
  status = Call(&AdminService::Stub::DeleteService, remove, &removed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            "service order-svc is used by route /api; move or delete it first");

  gateway::v1::ListRoutesResponse routes;
  ASSERT_TRUE(
      Call(&AdminService::Stub::ListRoutes, gateway::v1::ListRoutesRequest(), &routes).ok());
  ASSERT_EQ(routes.routes_size(), 1);
  EXPECT_EQ(routes.config_version(), 2u);

  auto overview = Status();
  EXPECT_EQ(overview.config_version(), 2u);
  EXPECT_EQ(overview.services(), 1u);
  EXPECT_EQ(overview.routes(), 1u);
  EXPECT_EQ(control_plane_->publisher().Current()->version(), 2u);
}

TEST_F(ControlPlaneTest, SubscribeGetsSnapshotThenEveryWriteAndRecordsAckAndNack) {
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  ASSERT_TRUE(AddRoute("/api", "order-svc").ok());

  FakeGateway gateway(channel_, "gw-1");
  ASSERT_TRUE(gateway.Hello(0));
  ConfigMessage push;
  ASSERT_TRUE(gateway.Read(&push));
  EXPECT_EQ(push.version(), 2u);
  EXPECT_FALSE(push.nonce().empty());
  ASSERT_TRUE(push.has_snapshot());
  EXPECT_EQ(push.snapshot().version(), 2u);
  ASSERT_EQ(push.snapshot().routes_size(), 1);
  EXPECT_EQ(push.snapshot().routes(0).path(), "/api");

  ASSERT_TRUE(gateway.Ack(2, push.nonce()));
  ASSERT_TRUE(WaitUntil([&] {
    auto status = Gateway("gw-1");
    return status && status->acked_version() == 2;
  }));
  auto status = Gateway("gw-1");
  EXPECT_TRUE(status->connected());
  EXPECT_EQ(status->address(), "127.0.0.1:8080");
  EXPECT_EQ(status->build_version(), "test");

  // A write is pushed with a fresh nonce; a NACK is recorded and the ACKed version kept.
  ASSERT_TRUE(AddRoute("/api/payment", "payment-svc").ok());
  ConfigMessage second;
  ASSERT_TRUE(gateway.Read(&second));
  EXPECT_EQ(second.version(), 3u);
  EXPECT_NE(second.nonce(), push.nonce());
  EXPECT_EQ(second.snapshot().routes_size(), 2);
  ASSERT_TRUE(gateway.Nack(3, second.nonce(), "upstream payment-svc is not allowed"));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-1");
    return s && s->nacked_version() == 3;
  }));
  status = Gateway("gw-1");
  EXPECT_EQ(status->error(), "upstream payment-svc is not allowed");
  EXPECT_EQ(status->acked_version(), 2u);

  // An answer with a nonce this stream never sent is ignored.
  ASSERT_TRUE(AddRoute("/b", "order-svc").ok());
  ConfigMessage third;
  ASSERT_TRUE(gateway.Read(&third));
  EXPECT_EQ(third.version(), 4u);
  ASSERT_TRUE(gateway.Ack(4, "forged-nonce"));
  ASSERT_TRUE(gateway.Nack(4, third.nonce(), "still no"));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-1");
    return s && s->nacked_version() == 4;
  }));
  EXPECT_EQ(Gateway("gw-1")->acked_version(), 2u);

  // A later ACK clears the error.
  ASSERT_TRUE(AddRoute("/c", "order-svc").ok());
  ConfigMessage fourth;
  ASSERT_TRUE(gateway.Read(&fourth));
  ASSERT_TRUE(gateway.Ack(5, fourth.nonce()));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-1");
    return s && s->acked_version() == 5;
  }));
  EXPECT_EQ(Gateway("gw-1")->error(), "");

  // Closing the stream keeps the gateway listed, disconnected.
  EXPECT_TRUE(gateway.Close().ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-1");
    return s && !s->connected();
  }));
  EXPECT_EQ(Status().gateways_total(), 1u);
  EXPECT_EQ(Status().gateways_connected(), 0u);
}

// Issue 10: a gateway that applies deltas gets a snapshot first, then only what changed; a
// delta it refuses is sent again as a snapshot; one that says Hello at a known version starts
// with a delta.
TEST_F(ControlPlaneTest, DeltasCarryOnlyWhatChanged) {
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(AddRoute("/r" + std::to_string(i), "order-svc").ok());
  FakeGateway gateway(channel_, "gw-delta");
  gateway.AcceptDeltas();
  ASSERT_TRUE(gateway.Hello(0));
  ConfigMessage first;
  ASSERT_TRUE(gateway.Read(&first));
  ASSERT_TRUE(first.has_snapshot());  // nothing known of it: the whole config
  EXPECT_EQ(first.version(), 51u);
  ASSERT_TRUE(gateway.Ack(51, first.nonce()));

  ASSERT_TRUE(AddRoute("/new", "order-svc").ok());
  ConfigMessage delta;
  ASSERT_TRUE(gateway.Read(&delta));
  ASSERT_TRUE(delta.has_delta()) << delta.ShortDebugString();
  EXPECT_EQ(delta.version(), 52u);
  EXPECT_EQ(delta.delta().base_version(), 51u);
  ASSERT_EQ(delta.delta().upserted_routes_size(), 1);
  EXPECT_EQ(delta.delta().upserted_routes(0).path(), "/new");
  EXPECT_EQ(delta.delta().upserted_services_size(), 0);
  EXPECT_LT(delta.ByteSizeLong() * 10, first.ByteSizeLong());
  ASSERT_TRUE(gateway.Ack(52, delta.nonce()));

  // A refused delta: the same version follows as a snapshot, and no error is recorded.
  ASSERT_TRUE(AddRoute("/newer", "order-svc").ok());
  ConfigMessage refused;
  ASSERT_TRUE(gateway.Read(&refused));
  ASSERT_TRUE(refused.has_delta());
  GatewayMessage cannot;
  cannot.mutable_nack()->set_version(53);
  cannot.mutable_nack()->set_nonce(refused.nonce());
  cannot.mutable_nack()->set_error("delta from version 52, but version 9 is live");
  cannot.mutable_nack()->set_needs_snapshot(true);
  ASSERT_TRUE(gateway.Send(cannot));
  ConfigMessage resent;
  ASSERT_TRUE(gateway.Read(&resent));
  EXPECT_EQ(resent.version(), 53u);
  ASSERT_TRUE(resent.has_snapshot());
  EXPECT_EQ(resent.snapshot().routes_size(), 52);
  ASSERT_TRUE(gateway.Ack(53, resent.nonce()));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-delta");
    return s && s->acked_version() == 53;
  }));
  EXPECT_EQ(Gateway("gw-delta")->error(), "");

  // A deletion is a removal by key.
  gateway::v1::DeleteRouteRequest remove;
  remove.mutable_key()->set_path("/r7");
  gateway::v1::DeleteResponse removed;
  grpc::ClientContext context;
  ASSERT_TRUE(admin_->DeleteRoute(&context, remove, &removed).ok());
  ConfigMessage removal;
  ASSERT_TRUE(gateway.Read(&removal));
  ASSERT_TRUE(removal.has_delta());
  ASSERT_EQ(removal.delta().removed_routes_size(), 1);
  EXPECT_EQ(removal.delta().removed_routes(0).path(), "/r7");
  ASSERT_TRUE(gateway.Ack(54, removal.nonce()));

  // Another gateway already at version 54 (its cache) gets the next change as a delta.
  FakeGateway cached(channel_, "gw-cached");
  cached.AcceptDeltas();
  ASSERT_TRUE(cached.Hello(54));
  ASSERT_TRUE(AddRoute("/last", "order-svc").ok());
  ConfigMessage next;
  ASSERT_TRUE(cached.Read(&next));
  ASSERT_TRUE(next.has_delta());
  EXPECT_EQ(next.delta().base_version(), 54u);
}

// Issue 10: status names the store and lists this replica; gateways name their replica.
TEST_F(ControlPlaneTest, StatusListsTheReplicaAndGatewaysTheirReplica) {
  const auto status = Status();
  EXPECT_EQ(status.store(), "database " + dir_.File("config.db"));
  ASSERT_EQ(status.replicas_size(), 1);
  EXPECT_TRUE(status.replicas(0).self());
  EXPECT_TRUE(status.replicas(0).alive());
  EXPECT_EQ(status.replicas(0).id(), control_plane_->replica_id());
  EXPECT_EQ(status.replicas(0).address(), control_plane_->grpc_address());
  EXPECT_EQ(status.store_error(), "");
  FakeGateway gateway(channel_, "gw-r");
  ASSERT_TRUE(gateway.Hello(0));
  ConfigMessage push;
  ASSERT_TRUE(gateway.Read(&push));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-r");
    return s && s->connected();
  }));
  EXPECT_EQ(Gateway("gw-r")->replica(), control_plane_->replica_id());
  EXPECT_EQ(Status().replicas(0).gateways_connected(), 1u);
}

TEST_F(ControlPlaneTest, GatewayRunningTheCurrentVersionGetsNoPushUntilTheNextWrite) {
  uint64_t version = 0;
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  ASSERT_TRUE(AddRoute("/api", "order-svc", &version).ok());
  FakeGateway gateway(channel_, "gw-up-to-date");
  ASSERT_TRUE(gateway.Hello(version));
  // Running the current version counts as having applied it.
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-up-to-date");
    return s && s->acked_version() == version;
  }));
  ASSERT_TRUE(AddRoute("/next", "order-svc").ok());
  ConfigMessage push;
  ASSERT_TRUE(gateway.Read(&push));
  EXPECT_EQ(push.version(), version + 1);  // the first thing on the stream is the new version
}

// Rolling upgrade: a gateway that does not apply a feature the newest version uses keeps its
// last good version, is shown behind with the reason, and a write that uses the feature warns,
// naming it; a later version it can apply reaches it again.
TEST_F(ControlPlaneTest, AGatewayLackingAFeatureKeepsItsVersionAndIsShownBehind) {
  uint64_t version = 0;
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  ASSERT_TRUE(AddRoute("/api", "order-svc", &version).ok());
  std::vector<std::string> older = GatewayFeatures();
  std::erase(older, "cors");
  FakeGateway old_gateway(channel_, "gw-old");
  ASSERT_TRUE(old_gateway.Hello(version, older));
  FakeGateway new_gateway(channel_, "gw-new");
  ASSERT_TRUE(new_gateway.Hello(version, GatewayFeatures()));
  ASSERT_TRUE(WaitUntil([&] {
    auto o = Gateway("gw-old"), n = Gateway("gw-new");
    return o && n && o->acked_version() == version && n->acked_version() == version;
  }));

  gateway::v1::CreateRouteRequest request;
  request.mutable_route()->set_path("/web");
  request.mutable_route()->set_target("order-svc");
  request.mutable_route()->set_match(gateway::v1::MATCH_PREFIX);
  request.mutable_route()->mutable_cors()->add_origins("https://app.example");
  gateway::v1::RouteResponse response;
  ASSERT_TRUE(Call(&AdminService::Stub::CreateRoute, request, &response).ok());
  const uint64_t with_cors = response.config_version();
  ASSERT_EQ(response.warnings_size(), 1);
  EXPECT_NE(response.warnings(0).find("gw-old (test, protocol 1) lacks cors"), std::string::npos)
      << response.warnings(0);
  EXPECT_EQ(response.warnings(0).find("gw-new"), std::string::npos) << response.warnings(0);

  ConfigMessage push;
  ASSERT_TRUE(new_gateway.Read(&push));  // the gateway that applies it gets it
  EXPECT_EQ(push.version(), with_cors);
  ASSERT_TRUE(WaitUntil([&] {
    auto o = Gateway("gw-old");
    return o && !o->behind().empty();
  }));
  auto old_status = Gateway("gw-old");
  EXPECT_EQ(old_status->acked_version(), version);
  EXPECT_EQ(old_status->behind(), "version " + std::to_string(with_cors) +
                                      " needs feature cors, which this gateway (test, protocol "
                                      "1) does not apply");
  EXPECT_EQ(Gateway("gw-new")->behind(), "");

  // A gateway that states nothing (0.2.0) applies the baseline, cors included.
  FakeGateway baseline(channel_, "gw-baseline");
  ASSERT_TRUE(baseline.Hello(0));
  ASSERT_TRUE(baseline.Read(&push));
  EXPECT_EQ(push.version(), with_cors);

  // Once no version needs cors, the old gateway is sent the newest again.
  gateway::v1::DeleteRouteRequest remove;
  remove.mutable_key()->set_path("/web");
  gateway::v1::DeleteResponse removed;
  ASSERT_TRUE(Call(&AdminService::Stub::DeleteRoute, remove, &removed).ok());
  ASSERT_TRUE(old_gateway.Read(&push));
  EXPECT_EQ(push.version(), removed.config_version());
  ASSERT_TRUE(old_gateway.Ack(push.version(), push.nonce()));
  ASSERT_TRUE(WaitUntil([&] {
    auto o = Gateway("gw-old");
    return o && o->acked_version() == removed.config_version() && o->behind().empty();
  }));
}

TEST_F(ControlPlaneTest, TheFirstMessageMustBeAHelloWithANodeId) {
  {
    FakeGateway gateway(channel_, "x");
    ASSERT_TRUE(gateway.Ack(1, "n"));
    auto status = gateway.FinishAfterServerEnded();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("Hello"), std::string::npos);
  }
  {
    FakeGateway gateway(channel_, "");
    ASSERT_TRUE(gateway.Hello(0));
    EXPECT_EQ(gateway.FinishAfterServerEnded().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    FakeGateway gateway(channel_, "twice");
    ASSERT_TRUE(gateway.Hello(0));
    ASSERT_TRUE(gateway.Hello(0));
    EXPECT_EQ(gateway.FinishAfterServerEnded().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_FALSE(Gateway("x"));
}

// A gateway process that reconnects while its old stream lingers (a network blip) takes over.
TEST_F(ControlPlaneTest, AReconnectOfTheSameGatewayReplacesItsOldStream) {
  FakeGateway first(channel_, "gw-dup", "process-1");
  ASSERT_TRUE(first.Hello(0));
  ASSERT_TRUE(WaitUntil([&] { return Gateway("gw-dup").has_value(); }));
  FakeGateway second(channel_, "gw-dup", "process-1");
  ASSERT_TRUE(second.Hello(0));
  EXPECT_EQ(first.FinishAfterServerEnded().error_code(), grpc::StatusCode::ABORTED);
  // The replaced stream ending does not mark the node disconnected; the new one serves it.
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  // The new stream runs nothing, so it may first get the empty version 0, then version 1.
  ConfigMessage push;
  ASSERT_TRUE(second.Read(&push));
  if (push.version() == 0) {
    ASSERT_TRUE(second.Read(&push));
  }
  EXPECT_EQ(push.version(), 1u);
  ASSERT_TRUE(second.Ack(1, push.nonce()));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-dup");
    return s && s->acked_version() == 1;
  }));
  EXPECT_TRUE(Gateway("gw-dup")->connected());
  EXPECT_EQ(Status().gateways_total(), 1u);
}

// Issue 9: two gateways with one --node-id replaced each other's stream every second, forever.
// The second is refused naming the holder; the first keeps its stream; the registry shows it.
TEST_F(ControlPlaneTest, AnotherGatewayWithTheSameNodeIdIsRefusedAndTheFirstKeepsItsStream) {
  FakeGateway first(channel_, "gw-dup", "process-1");
  ASSERT_TRUE(first.Hello(0));
  ConfigMessage push;
  ASSERT_TRUE(first.Read(&push));  // the empty version 0
  ASSERT_TRUE(first.Ack(push.version(), push.nonce()));
  ASSERT_TRUE(WaitUntil([&] { return Gateway("gw-dup").has_value(); }));

  FakeGateway second(channel_, "gw-dup", "process-2");
  ASSERT_TRUE(second.Hello(0));
  const grpc::Status refused = second.FinishAfterServerEnded();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(refused.error_message().find("node id gw-dup is already in use"), std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("127.0.0.1:8080"), std::string::npos)
      << refused.error_message();

  auto status = Gateway("gw-dup");
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->connected());
  EXPECT_NE(status->conflict().find("address 127.0.0.1:8080"), std::string::npos)
      << status->conflict();
  EXPECT_GT(status->conflict_unix_ms(), 0);
  // The first gateway still gets every new version on its stream.
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  ASSERT_TRUE(first.Read(&push));
  EXPECT_EQ(push.version(), 1u);
  EXPECT_EQ(Status().gateways_total(), 1u);
}

TEST_F(ControlPlaneTest, ManyGatewaysAllReachTheNewestVersion) {
  constexpr int kGateways = 20;
  constexpr int kWrites = 30;
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  std::vector<std::unique_ptr<FakeGateway>> gateways;
  for (int i = 0; i < kGateways; ++i) {
    gateways.push_back(std::make_unique<FakeGateway>(channel_, "gw-" + std::to_string(i)));
    ASSERT_TRUE(gateways.back()->Hello(0));
  }
  const uint64_t final_version = 1 + kWrites;
  std::vector<std::thread> readers;
  std::vector<int> failures(kGateways, 0);
  for (int i = 0; i < kGateways; ++i) {
    readers.emplace_back([&, i] {
      uint64_t last = 0;
      ConfigMessage push;
      while (last < final_version && gateways[i]->Read(&push)) {
        if (push.version() <= last) ++failures[i];  // strictly increasing, never a repeat
        last = push.version();
        if (!gateways[i]->Ack(push.version(), push.nonce())) ++failures[i];
      }
      if (last != final_version) ++failures[i];
    });
  }
  for (int w = 0; w < kWrites; ++w)
    ASSERT_TRUE(AddRoute("/r" + std::to_string(w), "order-svc").ok());
  for (auto& reader : readers) reader.join();
  for (int i = 0; i < kGateways; ++i) EXPECT_EQ(failures[i], 0) << "gateway " << i;
  ASSERT_TRUE(WaitUntil([&] {
    for (int i = 0; i < kGateways; ++i) {
      auto s = Gateway("gw-" + std::to_string(i));
      if (!s || s->acked_version() != final_version) return false;
    }
    return true;
  }));
}

TEST_F(ControlPlaneTest, RestartKeepsTheConfigAndGatewaysCatchUp) {
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  uint64_t version = 0;
  ASSERT_TRUE(AddRoute("/api", "order-svc", &version).ok());
  {
    FakeGateway gateway(channel_, "gw-r");
    ASSERT_TRUE(gateway.Hello(0));
    ConfigMessage push;
    ASSERT_TRUE(gateway.Read(&push));
    Restart();  // the stream is cancelled by the shutdown
    EXPECT_FALSE(gateway.FinishAfterServerEnded().ok());
  }
  EXPECT_EQ(Status().config_version(), version);
  EXPECT_EQ(Status().routes(), 1u);
  FakeGateway gateway(channel_, "gw-r");
  ASSERT_TRUE(gateway.Hello(version));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = Gateway("gw-r");
    return s && s->acked_version() == version && s->connected();
  }));
  uint64_t next = 0;
  ASSERT_TRUE(AddRoute("/after", "order-svc", &next).ok());
  EXPECT_EQ(next, version + 1);
}

// A minimal HTTP/1.1 GET over a blocking socket: returns "<status> <body>".
std::string HttpGet(const std::string& address, const std::string& path) {
  const size_t colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed";
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "write failed";
  }
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.size() < 12 || body == std::string::npos) return "bad response: " + response;
  return response.substr(9, 3) + " " + response.substr(body + 4);
}

TEST_F(ControlPlaneTest, AdminPageServesHealthReadinessAndTheConfig) {
  const std::string admin = control_plane_->admin_address();
  ASSERT_FALSE(admin.empty());
  EXPECT_EQ(HttpGet(admin, "/healthz"), "200 ok");
  EXPECT_EQ(HttpGet(admin, "/ready"), "200 ready");
  EXPECT_EQ(HttpGet(admin, "/config"), R"(200 {"version":0,"services":[],"routes":[]})");
  ASSERT_TRUE(AddService("order-svc", 9101).ok());
  ASSERT_TRUE(AddRoute("/api", "order-svc").ok());
  EXPECT_EQ(HttpGet(admin, "/config"),
            R"(200 {"version":2,"services":[{"name":"order-svc","version":1,"endpoints":)"
            R"([{"host":"127.0.0.1","port":9101}]}],"routes":[{"path":"/api","match":"prefix",)"
            R"("target":"order-svc","version":2}]})");
  EXPECT_EQ(HttpGet(admin, "/nope").substr(0, 3), "404");
}

}  // namespace
}  // namespace gw
