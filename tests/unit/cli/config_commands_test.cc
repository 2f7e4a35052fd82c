// apply, diff, export, history, rollback, --if-version and --wait as whole gatewayctl
// invocations, in-process, against the real control plane (SQLite in a temp dir) and fake
// gateways speaking the discovery protocol.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/gatewayctl.h"
#include "controlplane/control_plane.h"
#include "gateway.grpc.pb.h"
#include "tests/unit/support/temp_dir.h"

namespace gw::cli {
namespace {

using namespace std::chrono_literals;
using gateway::v1::ConfigMessage;
using gateway::v1::DiscoveryService;
using gateway::v1::GatewayMessage;

struct Result {
  int exit = -1;
  std::string out;
  std::string err;
};

// A gateway's discovery stream: Hello, then (when `acks`) an ACK for every push, on its own
// thread until it is destroyed.
class FakeGateway {
 public:
  FakeGateway(const std::string& address, std::string node_id, bool acks)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        stub_(DiscoveryService::NewStub(channel_)),
        stream_(stub_->Subscribe(&context_)) {
    GatewayMessage hello;
    hello.mutable_hello()->mutable_node()->set_id(node_id);
    hello.mutable_hello()->mutable_node()->set_address("127.0.0.1:18080");
    hello.mutable_hello()->set_instance_id("process-of-" + node_id);
    stream_->Write(hello);
    reader_ = std::thread([this, acks] {
      ConfigMessage push;
      while (stream_->Read(&push)) {
        if (!acks) continue;
        GatewayMessage ack;
        ack.mutable_ack()->set_version(push.version());
        ack.mutable_ack()->set_nonce(push.nonce());
        stream_->Write(ack);
      }
    });
  }
  ~FakeGateway() {
    context_.TryCancel();
    reader_.join();
    stream_->Finish();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<DiscoveryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<GatewayMessage, ConfigMessage>> stream_;
  std::thread reader_;
};

constexpr const char* kShop = R"(services:
  - name: cart
    endpoints: [127.0.0.1:9101]
routes:
  - path: /cart
    target: cart
    timeout_ms: 5000
  - path: /old
    match: exact
    target: example.com:8080
)";

class ConfigCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ControlPlaneOptions options;
    options.grpc_listen = {"127.0.0.1", 0};
    options.db = dir_.File("config.db");
    control_plane_ = std::make_unique<ControlPlane>(options);
    address_ = control_plane_->grpc_address();
  }

  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", address_});
    std::ostringstream out, err;
    Result result;
    result.exit = RunGatewayctl(args, std::nullopt, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  std::string File(const std::string& name, const std::string& text) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << text;
    return path;
  }

  uint64_t Version() {
    const Result status = Run({"-o", "json", "status"});
    const size_t at = status.out.find("\"version\":");
    return std::stoull(status.out.substr(at + 10));
  }

  testing::TempDir dir_;
  std::unique_ptr<ControlPlane> control_plane_;
  std::string address_;
};

TEST_F(ConfigCommandsTest, ApplyIsOneVersionAndReapplySaysNoChanges) {
  const uint64_t before = Version();
  const std::string shop = File("shop.yaml", kShop);
  Result r = Run({"apply", "-f", shop});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            "service cart created\n"
            "route /cart (prefix) created\n"
            "route /old (exact) created\n"
            "config version " +
                std::to_string(before + 1) + "\n");
  EXPECT_EQ(Version(), before + 1);

  r = Run({"apply", "-f", shop});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "no changes\n");
  EXPECT_EQ(Version(), before + 1);

  // A dry run says what would change and writes nothing.
  const std::string longer = File("longer.yaml", std::string(kShop) + "    timeout_ms: 9000\n");
  r = Run({"apply", "-f", longer, "--dry-run"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out,
            "(dry run) route /old (exact) changed\n"
            "(dry run) nothing written; this would make config version " +
                std::to_string(before + 2) + "\n");
  EXPECT_EQ(Version(), before + 1);
}

TEST_F(ConfigCommandsTest, ABadObjectChangesNothing) {
  ASSERT_EQ(Run({"apply", "-f", File("shop.yaml", kShop)}).exit, 0);
  const uint64_t version = Version();
  const std::string exported = Run({"export"}).out;
  // Valid YAML, but the second route splits to a service that does not exist.
  const std::string bad = File("bad.yaml", R"(services:
  - name: orders
    endpoints: [127.0.0.1:9102]
routes:
  - path: /orders
    target: orders
  - path: /cart
    split: [{target: cart, weight: 50}, {target: nowhere, weight: 50}]
)");
  Result r = Run({"apply", "-f", bad});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("gatewayctl: " + bad + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
  EXPECT_EQ(Version(), version);
  EXPECT_EQ(Run({"export"}).out, exported);

  // A document error names the place, before anything is sent.
  const std::string typo =
      File("typo.yaml", "routes:\n  - path: /cart\n    target: cart\n    timeot: 5\n");
  r = Run({"apply", "-f", typo});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err, "gatewayctl: " + typo + ": routes[0].timeot: unknown field (line 4)\n");
  r = Run({"apply", "-f", dir_.File("missing.yaml")});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.err, "gatewayctl: " + dir_.File("missing.yaml") +
                       ": cannot read the file: No such file or directory\n");
}

TEST_F(ConfigCommandsTest, DiffExitsZeroOneOrTwo) {
  const std::string shop = File("shop.yaml", kShop);
  Result r = Run({"diff", "-f", shop});
  EXPECT_EQ(r.exit, 1) << r.err;
  EXPECT_EQ(r.out.substr(0, 48), "+ service cart\n    name: cart\n    endpoints: [12");
  ASSERT_EQ(Run({"apply", "-f", shop}).exit, 0);

  r = Run({"diff", "-f", shop});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "");

  std::string changed = kShop;
  changed.replace(changed.find("5000"), 4, "10000");
  r = Run({"diff", "-f", File("changed.yaml", changed), "--prune"});
  EXPECT_EQ(r.exit, 1) << r.err;
  EXPECT_EQ(r.out, "~ route /cart (prefix)\n    timeout_ms: 5000 (5s) -> 10000 (10s)\n");

  // --prune: what the file does not name goes.
  r = Run(
      {"diff", "-f",
       File("only-cart.json", R"({"services":[{"name":"cart","endpoints":["127.0.0.1:9101"]}]})"),
       "--prune"});
  EXPECT_EQ(r.exit, 1);
  EXPECT_EQ(r.out, "- route /cart (prefix)\n- route /old (exact)\n");

  // Any error is 2: the file, the control plane's refusal, no control plane.
  r = Run({"diff", "-f", File("typo.yaml", "routes: [{path: /a, timeot: 5}]\n")});
  EXPECT_EQ(r.exit, 2);
  EXPECT_NE(r.err.find("routes[0].timeot: unknown field"), std::string::npos) << r.err;
  r = Run({"diff", "-f",
           File("refused.yaml",
                "routes: [{path: /a, split: [{target: x, weight: "
                "1}, {target: y, weight: 1}]}]\n")});
  EXPECT_EQ(r.exit, 2);
  EXPECT_NE(r.err.find("gatewayctl: "), std::string::npos);
  const std::string unreachable_file = File("shop2.yaml", kShop);
  control_plane_->Shutdown();
  r = Run({"--timeout", "1s", "diff", "-f", unreachable_file});
  EXPECT_EQ(r.exit, 2);
  EXPECT_NE(r.err.find("cannot reach"), std::string::npos) << r.err;
}

TEST_F(ConfigCommandsTest, ExportAppliesBackWithNoChangesKeysAndSecretsIncluded) {
  ASSERT_EQ(Run({"apply", "-f", File("shop.yaml", kShop)}).exit, 0);
  Result r = Run({"apply", "-f", File("consumers.yaml", R"(consumers:
  - name: alice
    api_keys: [alice-key-0123456789]
  - name: carol
    jwt: {issuer: "https://idp.example", secret: s3cret-0123456789abcdef0123456789}
routes:
  - path: /private
    target: cart
    auth: api-key
    rate_limit: {requests: 10, period_seconds: 60}
    cors: {origins: ["https://a.example"]}
)")});
  ASSERT_EQ(r.exit, 0) << r.err;
  const uint64_t version = Version();
  for (const std::string format : {"yaml", "json"}) {
    r = Run({"export", "-o", format});
    ASSERT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(r.out.find("alice-key-0123456789"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("s3cret"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("api_key_sha256"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("secret_sha256"), std::string::npos) << r.out;
    const Result back = Run({"apply", "-f", File("export." + format, r.out), "--prune"});
    EXPECT_EQ(back.exit, 0) << back.err;
    EXPECT_EQ(back.out, "no changes\n") << r.out;
  }
  EXPECT_EQ(Version(), version);
  // A secret_sha256 that is not the stored secret's is refused (it cannot stand for it).
  r = Run({"apply", "-f",
           File("forged.yaml",
                "consumers:\n  - name: carol\n    jwt: {issuer: i, "
                "secret_sha256: " +
                    std::string(64, 'a') + "}\n")});
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("consumers[0]: "), std::string::npos) << r.err;
}

TEST_F(ConfigCommandsTest, StaleIfVersionIsRefusedAndNothingWritten) {
  const uint64_t version = Version();
  Result r = Run({"route", "add", "/a", "example.com:80", "--if-version", std::to_string(version)});
  ASSERT_EQ(r.exit, 0) << r.err;
  r = Run({"route", "add", "/b", "example.com:80", "--if-version", std::to_string(version)});
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("at version " + std::to_string(version + 1)), std::string::npos) << r.err;
  r = Run({"apply", "-f", File("shop.yaml", kShop), "--if-version", std::to_string(version)});
  EXPECT_EQ(r.exit, 1);
  EXPECT_NE(r.err.find("at version " + std::to_string(version + 1)), std::string::npos) << r.err;
  EXPECT_EQ(Version(), version + 1);
  EXPECT_NE(Run({"route", "get", "/b"}).exit, 0);
}

TEST_F(ConfigCommandsTest, HistoryAndRollbackRestoreAnEarlierConfigExactly) {
  ASSERT_EQ(Run({"apply", "-f", File("shop.yaml", kShop)}).exit, 0);
  const uint64_t good = Version();
  const std::string exported = Run({"export"}).out;
  ASSERT_EQ(Run({"route", "update", "/cart", "--timeout", "9s"}).exit, 0);
  ASSERT_EQ(Run({"consumer", "add", "alice", "--api-key", "alice-key-0123456789"}).exit, 0);

  Result r = Run({"history", "--limit", "3"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out.rfind("VERSION  TIME (UTC)", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("consumer add alice --..."), std::string::npos) << r.out;  // cut at 60
  EXPECT_EQ(r.out.find("alice-key-0123456789"), std::string::npos);
  EXPECT_NE(r.out.find("anonymous"), std::string::npos) << r.out;
  r = Run({"history", "-o", "json", "--limit", "1"});
  EXPECT_NE(r.out.find("\"command\":\"gatewayctl --server " + address_ +
                       " consumer add alice --api-key ***\""),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("alice-key-0123456789"), std::string::npos);
  EXPECT_NE(r.out.find("\"version\":" + std::to_string(good + 2) + ",\"time\":\"20"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"actor\":\"anonymous\""), std::string::npos) << r.out;

  r = Run({"history", "show", std::to_string(good + 1)});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(
      r.out.find("command:  gatewayctl --server " + address_ + " route update /cart --timeout 9s"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("~ route /cart (prefix)\n    timeout_ms: 5000 (5s) -> 9000 (9s)\n"),
            std::string::npos)
      << r.out;

  r = Run({"rollback", std::to_string(good), "--dry-run"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(Version(), good + 2);
  r = Run({"rollback", std::to_string(good)});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "route /cart (prefix) changed\nconsumer alice deleted\nconfig version " +
                       std::to_string(good + 3) + "\n");
  EXPECT_EQ(Run({"export"}).out, exported);
  r = Run({"rollback", std::to_string(good)});
  EXPECT_EQ(r.out, "no changes\n");
  EXPECT_EQ(Version(), good + 3);
}

TEST_F(ConfigCommandsTest, WaitReturnsOnceEveryGatewayAckedOrNamesTheLateOne) {
  // No gateway: nothing to wait for.
  Result r = Run({"route", "add", "/a", "example.com:80", "--wait"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.err.find("no gateway connected"), std::string::npos) << r.err;

  {
    FakeGateway one(address_, "gw-one", true);
    FakeGateway two(address_, "gw-two", true);
    // Both subscribed (the registry lists them) before the write.
    for (int i = 0; i < 200; ++i) {
      if (Run({"gateways"}).out.find("gw-two") != std::string::npos) break;
      std::this_thread::sleep_for(10ms);
    }
    r = Run({"route", "add", "/b", "example.com:80", "--wait", "--wait-timeout", "10s"});
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_NE(r.out.find("version " + std::to_string(Version()) + " live on 2 gateways"),
              std::string::npos)
        << r.out;

    FakeGateway stuck(address_, "gw-stuck", false);
    for (int i = 0; i < 200; ++i) {
      if (Run({"gateways"}).out.find("gw-stuck") != std::string::npos) break;
      std::this_thread::sleep_for(10ms);
    }
    const auto start = std::chrono::steady_clock::now();
    r = Run({"apply", "-f", File("shop.yaml", kShop), "--wait", "--wait-timeout", "500ms"});
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_EQ(r.exit, 1);
    EXPECT_NE(r.err.find("gatewayctl: gateway gw-stuck (127.0.0.1:18080) has not applied version " +
                         std::to_string(Version()) + " within 500ms"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("gw-one"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace gw::cli
