// Whole gatewayctl invocations, run in-process against a fake AdminService on 127.0.0.1:0: what
// is sent, what is printed, and the exit status.
#include "cli/gatewayctl.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "gateway.grpc.pb.h"
#include "tests/unit/support/closed_port.h"
#include "tests/unit/support/temp_dir.h"

namespace gw::cli {
namespace {

using gateway::v1::AdminService;
using gateway::v1::CreateRouteRequest;
using gateway::v1::CreateServiceRequest;
using gateway::v1::DeleteResponse;
using gateway::v1::DeleteRouteRequest;
using gateway::v1::DeleteServiceRequest;
using gateway::v1::Endpoint;
using gateway::v1::GatewayStatus;
using gateway::v1::GetRouteRequest;
using gateway::v1::GetServiceRequest;
using gateway::v1::GetStatusRequest;
using gateway::v1::ListGatewaysRequest;
using gateway::v1::ListGatewaysResponse;
using gateway::v1::ListRoutesRequest;
using gateway::v1::ListRoutesResponse;
using gateway::v1::ListServicesRequest;
using gateway::v1::ListServicesResponse;
using gateway::v1::MATCH_EXACT;
using gateway::v1::MATCH_PREFIX;
using gateway::v1::MATCH_UNSPECIFIED;
using gateway::v1::Route;
using gateway::v1::RouteResponse;
using gateway::v1::Service;
using gateway::v1::ServiceResponse;
using gateway::v1::StatusResponse;
using gateway::v1::UpdateRouteRequest;
using gateway::v1::UpdateServiceRequest;

// Answers from canned state; records the last request of each kind. An error set with
// FailNext() is returned by the next call instead.
class FakeAdmin final : public AdminService::Service {
 public:
  void FailNext(grpc::Status status) {
    std::lock_guard lock(mu_);
    fail_next_ = std::move(status);
  }
  void SetDelay(std::chrono::milliseconds delay) {
    std::lock_guard lock(mu_);
    delay_ = delay;
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  CreateServiceRequest last_create_service() {
    std::lock_guard lock(mu_);
    return create_service_;
  }
  CreateRouteRequest last_create_route() {
    std::lock_guard lock(mu_);
    return create_route_;
  }
  UpdateRouteRequest last_update_route() {
    std::lock_guard lock(mu_);
    return update_route_;
  }
  DeleteRouteRequest last_delete_route() {
    std::lock_guard lock(mu_);
    return delete_route_;
  }
  GetRouteRequest last_get_route() {
    std::lock_guard lock(mu_);
    return get_route_;
  }
  gateway::v1::PruneGatewaysRequest last_prune() {
    std::lock_guard lock(mu_);
    return prune_;
  }
  void WarnNext(std::string warning) {
    std::lock_guard lock(mu_);
    warning_ = std::move(warning);
  }

  grpc::Status CreateService(grpc::ServerContext*, const CreateServiceRequest* request,
                             ServiceResponse* response) override {
    return Answer([&] {
      create_service_ = *request;
      *response->mutable_service() = request->service();
      response->mutable_service()->set_version(2);
      response->set_config_version(2);
    });
  }
  grpc::Status UpdateService(grpc::ServerContext*, const UpdateServiceRequest* request,
                             ServiceResponse* response) override {
    return Answer([&] {
      *response->mutable_service() = request->service();
      response->mutable_service()->set_version(3);
      response->set_config_version(3);
    });
  }
  grpc::Status GetService(grpc::ServerContext*, const GetServiceRequest* request,
                          ServiceResponse* response) override {
    return Answer([&] {
      gateway::v1::Service* service = response->mutable_service();
      service->set_name(request->name());
      Endpoint* endpoint = service->add_endpoints();
      endpoint->set_host("127.0.0.1");
      endpoint->set_port(9101);
      service->set_version(1);
    });
  }
  grpc::Status ListServices(grpc::ServerContext*, const ListServicesRequest*,
                            ListServicesResponse* response) override {
    return Answer([&] {
      gateway::v1::Service* service = response->add_services();
      service->set_name("order-svc");
      Endpoint* endpoint = service->add_endpoints();
      endpoint->set_host("127.0.0.1");
      endpoint->set_port(9101);
      service->set_version(1);
    });
  }
  grpc::Status DeleteService(grpc::ServerContext*, const DeleteServiceRequest*,
                             DeleteResponse* response) override {
    return Answer([&] { response->set_config_version(9); });
  }
  grpc::Status CreateConsumer(grpc::ServerContext*,
                              const gateway::v1::CreateConsumerRequest* request,
                              gateway::v1::ConsumerResponse* response) override {
    return Answer([&] {
      create_consumer_ = *request;
      *response->mutable_consumer() = request->consumer();
      for (int i = 0; i < request->api_keys_size(); ++i)
        response->mutable_consumer()->add_api_key_sha256(std::string(64, 'a'));
      response->mutable_consumer()->mutable_jwt()->clear_secret();  // as the control plane does
      response->mutable_consumer()->set_version(9);
      response->set_config_version(9);
    });
  }
  gateway::v1::CreateConsumerRequest last_create_consumer() {
    std::lock_guard lock(mu_);
    return create_consumer_;
  }
  grpc::Status CreateRoute(grpc::ServerContext*, const CreateRouteRequest* request,
                           RouteResponse* response) override {
    return Answer([&] {
      create_route_ = *request;
      *response->mutable_route() = request->route();
      response->mutable_route()->set_version(7);
      response->set_config_version(7);
      if (!warning_.empty()) response->add_warnings(std::exchange(warning_, ""));
    });
  }
  grpc::Status UpdateRoute(grpc::ServerContext*, const UpdateRouteRequest* request,
                           RouteResponse* response) override {
    return Answer([&] {
      update_route_ = *request;
      *response->mutable_route() = request->route();
      if (request->route().match() == MATCH_UNSPECIFIED)
        response->mutable_route()->set_match(MATCH_PREFIX);
      response->mutable_route()->set_version(8);
      response->set_config_version(8);
    });
  }
  grpc::Status GetRoute(grpc::ServerContext*, const GetRouteRequest* request,
                        RouteResponse* response) override {
    return Answer([&] {
      get_route_ = *request;
      Route* route = response->mutable_route();
      route->set_path(request->key().path());
      route->set_match(MATCH_EXACT);
      route->set_target("order-svc");
      route->set_version(4);
    });
  }
  grpc::Status ListRoutes(grpc::ServerContext*, const ListRoutesRequest*,
                          ListRoutesResponse* response) override {
    return Answer([&] {
      Route* route = response->add_routes();
      route->set_path("/api");
      route->set_match(MATCH_PREFIX);
      route->set_target("order-svc");
      route->set_version(3);
    });
  }
  grpc::Status DeleteRoute(grpc::ServerContext*, const DeleteRouteRequest* request,
                           DeleteResponse* response) override {
    return Answer([&] {
      delete_route_ = *request;
      response->set_config_version(10);
    });
  }
  grpc::Status ListGateways(grpc::ServerContext*, const ListGatewaysRequest*,
                            ListGatewaysResponse* response) override {
    return Answer([&] {
      GatewayStatus* gateway = response->add_gateways();
      gateway->set_node_id("gw-a");
      gateway->set_address("127.0.0.1:8080");
      gateway->set_acked_version(7);
      gateway->set_connected(true);
    });
  }
  grpc::Status PruneGateways(grpc::ServerContext*, const gateway::v1::PruneGatewaysRequest* request,
                             gateway::v1::PruneGatewaysResponse* response) override {
    return Answer([&] {
      prune_ = *request;
      response->add_node_ids("gw-old");
    });
  }
  grpc::Status GetStatus(grpc::ServerContext*, const GetStatusRequest*,
                         StatusResponse* response) override {
    return Answer([&] {
      response->set_build_version("9.9.9");
      response->set_config_version(7);
      response->set_services(2);
      response->set_routes(1);
      response->set_gateways_connected(1);
      response->set_gateways_total(1);
    });
  }

 private:
  template <typename Fill>
  grpc::Status Answer(Fill fill) {
    std::chrono::milliseconds delay{0};
    {
      std::lock_guard lock(mu_);
      ++calls_;
      delay = delay_;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    std::lock_guard lock(mu_);
    if (!fail_next_.ok()) {
      grpc::Status status = fail_next_;
      fail_next_ = grpc::Status::OK;
      return status;
    }
    fill();
    return grpc::Status::OK;
  }

  std::mutex mu_;
  grpc::Status fail_next_ = grpc::Status::OK;
  std::chrono::milliseconds delay_{0};
  int calls_ = 0;
  CreateServiceRequest create_service_;
  gateway::v1::CreateConsumerRequest create_consumer_;
  CreateRouteRequest create_route_;
  UpdateRouteRequest update_route_;
  DeleteRouteRequest delete_route_;
  GetRouteRequest get_route_;
  gateway::v1::PruneGatewaysRequest prune_;
  std::string warning_;
};

struct Result {
  int exit = -1;
  std::string out;
  std::string err;
};

class GatewayctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&admin_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr);
    ASSERT_GT(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override { server_->Shutdown(); }

  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", address_});
    std::ostringstream out, err;
    Result result;
    result.exit = RunGatewayctl(args, std::nullopt, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  FakeAdmin admin_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(GatewayctlTest, RouteAddSendsAPrefixRouteAndPrintsOneLine) {
  Result r = Run({"route", "add", "/api/payment", "payment-svc"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "route /api/payment (prefix) -> payment-svc created at version 7\n");
  const Route sent = admin_.last_create_route().route();
  EXPECT_EQ(sent.path(), "/api/payment");
  EXPECT_EQ(sent.match(), MATCH_PREFIX);
  EXPECT_EQ(sent.target(), "payment-svc");

  r = Run({"route", "add", "/health", "order-svc", "--exact", "-o", "json"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(admin_.last_create_route().route().match(), MATCH_EXACT);
  EXPECT_EQ(r.out, R"({"path":"/health","match":"exact","target":"order-svc","version":7})"
                   "\n");
}

TEST_F(GatewayctlTest, WritesSendIfVersionAndTheCommandWithSecretsHidden) {
  Result r = Run({"route", "add", "/api", "order-svc", "--if-version", "6"});
  EXPECT_EQ(r.exit, 0) << r.err;
  const gateway::v1::WriteOptions sent = admin_.last_create_route().options();
  EXPECT_TRUE(sent.has_if_version());
  EXPECT_EQ(sent.if_version(), 6u);
  EXPECT_EQ(sent.command(),
            "gatewayctl --server " + address_ + " route add /api order-svc --if-version 6");

  r = Run({"consumer", "add", "alice", "--api-key", "alice-key-0123456789", "--jwt-issuer", "iss",
           "--jwt-secret=0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(r.exit, 0) << r.err;
  const gateway::v1::CreateConsumerRequest consumer = admin_.last_create_consumer();
  EXPECT_FALSE(consumer.options().has_if_version());
  EXPECT_EQ(consumer.options().command(),
            "gatewayctl --server " + address_ +
                " consumer add alice --api-key *** --jwt-issuer iss --jwt-secret=***");
  EXPECT_EQ(consumer.api_keys(0), "alice-key-0123456789");  // the key itself still goes
}

TEST_F(GatewayctlTest, WaitNamesTheGatewayThatDidNotApplyTheVersion) {
  // The fake's one gateway stays at version 7; the route add makes version 7, the delete 10.
  Result r = Run({"route", "add", "/api", "order-svc", "--wait"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out.rfind("route /api (prefix) -> order-svc created at version 7\n"
                        "version 7 live on 1 gateway (",
                        0),
            0u)
      << r.out;
  r = Run({"route", "delete", "/api", "--wait", "--wait-timeout", "300ms"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err,
            "gatewayctl: gateway gw-a (127.0.0.1:8080) has not applied version 10 within 300ms "
            "(at version 7)\n");
}

TEST_F(GatewayctlTest, RouteAddPrintsTheControlPlanesWarningsOnStderr) {
  admin_.WarnNext("target 'PaymentSvc' is not a registered service\n; did you mean?");
  Result r = Run({"route", "add", "/pay", "PaymentSvc"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "route /pay (prefix) -> PaymentSvc created at version 7\n");
  EXPECT_EQ(r.err,
            "gatewayctl: warning: target 'PaymentSvc' is not a registered service ; did "
            "you mean?\n");
}

TEST_F(GatewayctlTest, GatewaysPruneSendsTheAgeAndNamesThePruned) {
  Result r = Run({"gateways", "prune", "--older-than", "1h"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "gateway gw-old pruned\n");
  EXPECT_EQ(admin_.last_prune().older_than_ms(), 3'600'000u);
  r = Run({"gateways", "prune", "-o", "json"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, R"({"pruned":["gw-old"]})"
                   "\n");
  EXPECT_EQ(admin_.last_prune().older_than_ms(), 0u);  // every disconnected gateway
  const int calls = admin_.calls();
  r = Run({"gateways", "prune", "--older-than", "soon"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err.rfind("gatewayctl: bad --older-than: ", 0), 0u) << r.err;
  EXPECT_EQ(admin_.calls(), calls);
}

TEST_F(GatewayctlTest, VersionNamesBothEnds) {
  Result r = Run({"version"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            "gatewayctl " GATEWAY_BUILD_VERSION "\ncontrolplane 9.9.9 at " + address_ + "\n");
  r = Run({"version", "-o", "json"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, R"({"gatewayctl":")" GATEWAY_BUILD_VERSION
                   R"(","controlplane":"9.9.9","server":")" +
                       address_ + "\"}\n");
  admin_.FailNext(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  r = Run({"version"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "gatewayctl " GATEWAY_BUILD_VERSION "\n");  // ours, whatever happens
  EXPECT_NE(r.err, "");
}

TEST_F(GatewayctlTest, RouteAddSendsTheBodyLimitInBytes) {
  Result r = Run({"route", "add", "/upload", "files", "--max-body-size", "10m"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(admin_.last_create_route().route().max_body_size(), 10u << 20);
  EXPECT_EQ(r.out, "route /upload (prefix) -> files (max body 10m) created at version 7\n");
  r = Run({"-o", "json", "route", "add", "/upload", "files", "--max-body-size", "1536"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, R"({"path":"/upload","match":"prefix","target":"files","max_body_size":1536,)"
                   R"("version":7})"
                   "\n");
  r = Run({"route", "add", "/plain", "files"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(admin_.last_create_route().route().max_body_size(), 0u);
}

TEST_F(GatewayctlTest, RouteUpdateNamesExactlyTheFieldsGiven) {
  Result r = Run({"route", "update", "/upload", "--max-body-size", "512K"});
  EXPECT_EQ(r.exit, 0) << r.err;
  UpdateRouteRequest sent = admin_.last_update_route();
  EXPECT_EQ(sent.route().path(), "/upload");
  EXPECT_EQ(sent.route().target(), "");
  EXPECT_EQ(sent.route().max_body_size(), 512u << 10);
  EXPECT_EQ(std::vector<std::string>(sent.update_mask().paths().begin(),
                                     sent.update_mask().paths().end()),
            std::vector<std::string>{"max_body_size"});

  r = Run({"route", "update", "/upload", "--max-body-size", "0"});  // back to the default
  EXPECT_EQ(r.exit, 0) << r.err;
  sent = admin_.last_update_route();
  EXPECT_EQ(sent.route().max_body_size(), 0u);
  EXPECT_EQ(sent.update_mask().paths_size(), 1);

  r = Run({"route", "update", "/upload", "files-v2"});
  EXPECT_EQ(r.exit, 0) << r.err;
  sent = admin_.last_update_route();
  EXPECT_EQ(sent.route().target(), "files-v2");
  EXPECT_EQ(std::vector<std::string>(sent.update_mask().paths().begin(),
                                     sent.update_mask().paths().end()),
            std::vector<std::string>{"target"});

  r = Run({"route", "update", "/upload", "files-v3", "--max-body-size", "1g"});
  EXPECT_EQ(r.exit, 0) << r.err;
  sent = admin_.last_update_route();
  EXPECT_EQ(sent.update_mask().paths_size(), 2);
  EXPECT_EQ(sent.route().max_body_size(), 1u << 30);
}

TEST_F(GatewayctlTest, BadBodyLimitIsRefusedBeforeAnyCall) {
  for (const std::string size : {"10x", "-1", "1.5m", "10mb", "99999999999999999999"}) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"route", "add", "/upload", "files", "--max-body-size=" + size},
          std::vector<std::string>{"route", "update", "/upload", "--max-body-size=" + size}}) {
      Result r = Run(args);
      EXPECT_EQ(r.exit, 1) << size;
      EXPECT_EQ(r.out, "");
      EXPECT_EQ(r.err.rfind("gatewayctl: bad --max-body-size: ", 0), 0u) << r.err;
      EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    }
  }
  Result r = Run({"route", "update", "/upload", "--max-body-size", ""});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err.rfind("gatewayctl: bad --max-body-size: the size is empty", 0), 0u) << r.err;
  EXPECT_EQ(admin_.calls(), 0);
  r = Run({"route", "add", "/upload", "files", "--max-body-size", "10x"});
  EXPECT_EQ(r.err,
            "gatewayctl: bad --max-body-size: '10x' is not a size (write bytes, or a whole "
            "number with k, m or g: 1048576, 512k, 10m, 1g)\n");
}

TEST_F(GatewayctlTest, RouteKeysCarryTheChosenMatch) {
  Result r = Run({"route", "update", "/api", "cart-svc"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(admin_.last_update_route().route().match(), MATCH_UNSPECIFIED);
  EXPECT_EQ(admin_.last_update_route().route().target(), "cart-svc");
  EXPECT_EQ(r.out, "route /api (prefix) -> cart-svc updated at version 8\n");

  r = Run({"route", "get", "/api", "--exact"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(admin_.last_get_route().key().path(), "/api");
  EXPECT_EQ(admin_.last_get_route().key().match(), MATCH_EXACT);
  EXPECT_EQ(r.out,
            "PATH  MATCH  CONDITIONS  TARGET     MAX BODY  POLICIES  VERSION\n"
            "/api  exact  -           order-svc  default   -         4\n");

  r = Run({"route", "delete", "/api", "--prefix"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(admin_.last_delete_route().key().match(), MATCH_PREFIX);
  EXPECT_EQ(r.out, "route /api (prefix) deleted at version 10\n");

  r = Run({"-o", "json", "route", "delete", "/api"});
  EXPECT_EQ(admin_.last_delete_route().key().match(), MATCH_UNSPECIFIED);
  EXPECT_EQ(r.out, R"({"deleted":"/api","version":10})"
                   "\n");
}

TEST_F(GatewayctlTest, Lists) {
  Result r = Run({"route", "list"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            "PATH  MATCH   CONDITIONS  TARGET     MAX BODY  POLICIES  VERSION\n"
            "/api  prefix  -           order-svc  default   -         3\n");
  r = Run({"service", "list", "-o", "json"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, R"([{"name":"order-svc","endpoints":["127.0.0.1:9101"],"version":1}])"
                   "\n");
  r = Run({"gateways"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            "NODE  ADDRESS         VERSION  CONNECTED  ERROR\n"
            "gw-a  127.0.0.1:8080  7        yes        -\n");
  r = Run({"status", "-o", "json"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(
      r.out,
      R"({"version":7,"services":2,"routes":1,"gateways_connected":1,"gateways_total":1,)"
      R"("config_bytes":0,"max_config_bytes":0,"build_version":"9.9.9","store":"","store_error":"",)"
      R"("replicas":[]})"
      "\n");
  r = Run({"status"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out.rfind("server: " + address_ + "\nversion: 7\n", 0), 0u) << r.out;
}

TEST_F(GatewayctlTest, ServiceCommands) {
  Result r = Run({"service", "add", "pay-svc", "--endpoint", "127.0.0.1:9102,[::1]:9103",
                  "--endpoint", "pay.internal:80"});
  EXPECT_EQ(r.exit, 0) << r.err;
  const Service sent = admin_.last_create_service().service();
  EXPECT_EQ(sent.name(), "pay-svc");
  ASSERT_EQ(sent.endpoints_size(), 3);
  EXPECT_EQ(sent.endpoints(0).host(), "127.0.0.1");
  EXPECT_EQ(sent.endpoints(0).port(), 9102u);
  EXPECT_EQ(sent.endpoints(1).host(), "::1");
  EXPECT_EQ(sent.endpoints(2).host(), "pay.internal");
  EXPECT_EQ(r.out,
            "service pay-svc -> 127.0.0.1:9102,[::1]:9103,pay.internal:80 created at version 2\n");

  r = Run({"service", "update", "pay-svc", "--endpoint", "127.0.0.1:1", "-o", "json"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, R"({"name":"pay-svc","endpoints":["127.0.0.1:1"],"version":3})"
                   "\n");

  r = Run({"service", "get", "order-svc"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME       ENDPOINTS       POLICIES  VERSION\n"
            "order-svc  127.0.0.1:9101  -         1\n");

  r = Run({"service", "delete", "order-svc"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "service order-svc deleted at version 9\n");
  r = Run({"service", "delete", "order-svc", "-o", "json"});
  EXPECT_EQ(r.out, R"({"deleted":"order-svc","version":9})"
                   "\n");
}

TEST_F(GatewayctlTest, BadEndpointIsRefusedBeforeAnyCall) {
  for (const std::string endpoint : {"127.0.0.1", "127.0.0.1:0", "host:70000", "a_b:80", ":80"}) {
    Result r = Run({"service", "add", "x-svc", "--endpoint", endpoint});
    EXPECT_EQ(r.exit, 1) << endpoint;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("gatewayctl: bad --endpoint", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("'" + endpoint + "'"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
  EXPECT_EQ(admin_.calls(), 0);
}

TEST_F(GatewayctlTest, ServerErrorsPrintTheServersMessageAndExit1) {
  admin_.FailNext(grpc::Status(grpc::StatusCode::NOT_FOUND, "route /nope not found"));
  Result r = Run({"route", "get", "/nope"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "gatewayctl: route /nope not found\n");

  admin_.FailNext(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               "path /both has an exact and a prefix route;\nuse --exact or "
                               "--prefix"));
  r = Run({"-o", "json", "route", "delete", "/both"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "gatewayctl: path /both has an exact and a prefix route; use --exact or --prefix\n");

  admin_.FailNext(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, ""));
  r = Run({"service", "delete", "x"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find(address_), std::string::npos) << r.err;
}

TEST_F(GatewayctlTest, SlowControlPlaneHitsTheDeadline) {
  admin_.SetDelay(std::chrono::milliseconds(900));
  const auto start = std::chrono::steady_clock::now();
  Result r = Run({"--timeout", "200ms", "status"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "gatewayctl: control plane at " + address_ +
                       " did not answer within 200ms (see --timeout)\n");
  EXPECT_LT(elapsed, std::chrono::milliseconds(800));
}

TEST_F(GatewayctlTest, UsageErrorsExit2WithoutACall) {
  Result r = Run({"route", "get", "/a", "--exact", "--prefix"});
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "gatewayctl: --exact and --prefix cannot be used together; see 'gatewayctl route get "
            "--help'\n");
  r = Run({"route", "list", "--bogus"});
  EXPECT_EQ(r.exit, 2);
  r = Run({"route", "list", "-o", "xml"});
  EXPECT_EQ(r.exit, 2);
  EXPECT_EQ(admin_.calls(), 0);

  r = Run({"--help"});
  EXPECT_EQ(r.exit, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("Usage: gatewayctl"), std::string::npos);
}

// A list of replicas: one that cannot be reached is passed over, within the one deadline.
TEST_F(GatewayctlTest, ServerListPassesOverAReplicaThatCannotBeReached) {
  testing::ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  const std::string down = "127.0.0.1:" + std::to_string(closed.port());
  std::ostringstream out, err;
  int exit = RunGatewayctl({"--server", down + "," + address_, "version"}, std::nullopt, out, err);
  EXPECT_EQ(exit, 0) << err.str();
  EXPECT_EQ(out.str(),
            "gatewayctl " GATEWAY_BUILD_VERSION "\ncontrolplane 9.9.9 at " + address_ + "\n");
  EXPECT_EQ(admin_.calls(), 1);
  // From the environment too.
  out.str("");
  exit = RunGatewayctl({"status"}, down + "," + address_, out, err);
  EXPECT_EQ(exit, 0) << err.str();
  // None reachable: one line naming each.
  testing::ClosedPort other;
  const std::string also_down = "127.0.0.1:" + std::to_string(other.port());
  std::ostringstream none_out, none_err;
  exit = RunGatewayctl({"--server", down + "," + also_down, "status"}, std::nullopt, none_out,
                       none_err);
  EXPECT_EQ(exit, 1);
  EXPECT_EQ(none_err.str(), "gatewayctl: cannot reach control plane at " + also_down +
                                " (connection refused) (and cannot reach " + down +
                                " (connection refused))\n");
  // A replica that answered with an error is not passed over: the write may have reached it.
  admin_.FailNext(grpc::Status(grpc::StatusCode::UNAVAILABLE, "database down"));
  std::ostringstream w_out, w_err;
  exit = RunGatewayctl({"--server", address_ + "," + down, "route", "add", "/x", "svc"},
                       std::nullopt, w_out, w_err);
  EXPECT_EQ(exit, 1);
  EXPECT_EQ(w_err.str(), "gatewayctl: database down\n");  // the replica's own words
}

TEST_F(GatewayctlTest, ServerFromEnvironment) {
  std::ostringstream out, err;
  const int exit = RunGatewayctl({"-o", "json", "status"}, address_, out, err);
  EXPECT_EQ(exit, 0) << err.str();
  EXPECT_EQ(admin_.calls(), 1);
}

TEST_F(GatewayctlTest, ConsumerAddSendsKeysOnceAndNeverPrintsThem) {
  const Result r = Run({"consumer", "add", "alice", "--api-key", "alice-key-0123456789",
                        "--jwt-issuer", "iss", "--jwt-secret", "0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(r.exit, 0) << r.err;
  const auto sent = admin_.last_create_consumer();
  ASSERT_EQ(sent.api_keys_size(), 1);
  EXPECT_EQ(sent.api_keys(0), "alice-key-0123456789");
  EXPECT_EQ(sent.consumer().jwt().secret(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(r.out, "consumer alice (1 api key, jwt iss (HS256)) created at version 9\n");
  EXPECT_EQ(r.out.find("alice-key"), std::string::npos);
}

TEST_F(GatewayctlTest, ConsumerAddChecksThePublicKeyFileBeforeCalling) {
  const int calls = admin_.calls();
  Result r = Run({"consumer", "add", "bob", "--jwt-issuer", "iss", "--jwt-public-key",
                  "/nonexistent/bob.pem"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err, "gatewayctl: bad --jwt-public-key: cannot read /nonexistent/bob.pem\n");
  testing::TempDir dir;
  const std::string path = dir.File("garbage.pem");
  std::ofstream(path) << "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n";
  r = Run({"consumer", "add", "bob", "--jwt-issuer", "iss", "--jwt-public-key", path});
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("bad --jwt-public-key " + path + ": "), std::string::npos) << r.err;
  EXPECT_EQ(admin_.calls(), calls);  // nothing was sent
}

TEST_F(GatewayctlTest, RoutePolicyValuesAreCheckedBeforeCalling) {
  const int calls = admin_.calls();
  const Result r = Run({"route", "add", "/api", "pay", "--timeout", "5x"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err,
            "gatewayctl: bad --timeout: invalid duration '5x' (write e.g. 250ms, 2s, 1m, 1h)\n");
  EXPECT_EQ(admin_.calls(), calls);
}

}  // namespace
}  // namespace gw::cli
