// ConfigSubscriber against a fake DiscoveryService on 127.0.0.1 (port chosen at run time).
#include "gateway/config/config_subscriber.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "tests/unit/gateway/config/test_support.h"
#include "tests/unit/support/closed_port.h"

namespace gw {
namespace {

using namespace std::chrono_literals;
using testing::ClosedPort;
using testing::InvalidConfig;
using testing::SplitConfig;
using testing::TempDir;

constexpr auto kDeadline = 10s;

// Polls `done` until it holds or the deadline passes; true if it held.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline = kDeadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A control plane that records what gateways send and pushes what the test asks for.
class FakeDiscovery final : public gateway::v1::DiscoveryService::Service {
 public:
  grpc::Status Subscribe(grpc::ServerContext* context,
                         grpc::ServerReaderWriter<gateway::v1::ConfigMessage,
                                                  gateway::v1::GatewayMessage>* stream) override {
    gateway::v1::GatewayMessage message;
    if (!stream->Read(&message) || !message.has_hello())
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be a Hello");
    {
      std::lock_guard lock(mutex_);
      hellos_.push_back(message.hello());
      stream_ = stream;
    }
    changed_.notify_all();
    while (stream->Read(&message)) {
      std::lock_guard lock(mutex_);
      replies_.push_back(message);
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    stream_ = nullptr;
    return grpc::Status::OK;
  }

  // Sends `message` on the current stream; false if there is none.
  bool Push(const gateway::v1::ConfigMessage& message) {
    std::lock_guard lock(mutex_);
    return stream_ != nullptr && stream_->Write(message);
  }

  // The n-th Hello (0-based), waiting for it until the deadline.
  std::optional<gateway::v1::Hello> WaitForHello(size_t n) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, kDeadline, [&] { return hellos_.size() > n; }))
      return std::nullopt;
    return hellos_[n];
  }

  // The next Ack/Nack, waiting for it until the deadline.
  std::optional<gateway::v1::GatewayMessage> WaitForReply() {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, kDeadline, [&] { return !replies_.empty(); })) return std::nullopt;
    gateway::v1::GatewayMessage reply = replies_.front();
    replies_.pop_front();
    return reply;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<gateway::v1::Hello> hellos_;
  std::deque<gateway::v1::GatewayMessage> replies_;
  grpc::ServerReaderWriter<gateway::v1::ConfigMessage, gateway::v1::GatewayMessage>* stream_ =
      nullptr;
};

// Starts a gRPC server for `service` on 127.0.0.1:`port` (0: pick one); *port gets the bound one.
std::unique_ptr<grpc::Server> StartServer(FakeDiscovery& service, int* port) {
  grpc::ServerBuilder builder;
  // What the real control plane must allow for the gateway's keepalive pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  int bound = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(*port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  *port = bound;
  return server;
}

void StopServer(std::unique_ptr<grpc::Server>& server) {
  // A deadline in the past cancels the open streams at once.
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  server.reset();
}

gateway::v1::ConfigMessage SnapshotPush(uint64_t version, std::string nonce,
                                        gateway::v1::Config config) {
  gateway::v1::ConfigMessage message;
  message.set_nonce(std::move(nonce));
  message.set_version(version);
  *message.mutable_snapshot() = std::move(config);
  return message;
}

class ConfigSubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer(discovery_, &port_);
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) StopServer(server_);
  }

  SubscriberOptions Options() const {
    SubscriberOptions options;
    options.control_plane = "127.0.0.1:" + std::to_string(port_);
    options.node_id = "gw-test";
    options.listen_address = "127.0.0.1:18080";
    return options;
  }

  TempDir dir_;
  RouteTableHolder holder_;
  ConfigApplier applier_{holder_, dir_.File("gateway.cache"), 100};
  FakeDiscovery discovery_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ConfigSubscriberTest, SendsHelloThenAppliesAndAcksASnapshot) {
  ASSERT_EQ(applier_.Apply(SplitConfig(2)), "");  // as if loaded from the cache
  ConfigSubscriber subscriber(Options(), applier_);
  subscriber.Start();

  const auto hello = discovery_.WaitForHello(0);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->node().id(), "gw-test");
  EXPECT_EQ(hello->node().address(), "127.0.0.1:18080");
  EXPECT_EQ(hello->running_version(), 2u);
  EXPECT_TRUE(WaitUntil([&] { return subscriber.connected(); }));

  ASSERT_TRUE(discovery_.Push(SnapshotPush(3, "n3", SplitConfig(3))));
  const auto reply = discovery_.WaitForReply();
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_ack()) << reply->DebugString();
  EXPECT_EQ(reply->ack().version(), 3u);
  EXPECT_EQ(reply->ack().nonce(), "n3");
  EXPECT_EQ(holder_.Load()->version(), 3u);
  EXPECT_EQ(applier_.source(), "stream");
  subscriber.Stop();
}

TEST_F(ConfigSubscriberTest, NacksAnInvalidConfigAndKeepsServingTheOldOne) {
  ConfigSubscriber subscriber(Options(), applier_);
  subscriber.Start();
  ASSERT_TRUE(discovery_.WaitForHello(0).has_value());

  ASSERT_TRUE(discovery_.Push(SnapshotPush(1, "a", SplitConfig(1))));
  auto reply = discovery_.WaitForReply();
  ASSERT_TRUE(reply.has_value() && reply->has_ack());

  ASSERT_TRUE(discovery_.Push(SnapshotPush(2, "b", InvalidConfig(2))));
  reply = discovery_.WaitForReply();
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_nack()) << reply->DebugString();
  EXPECT_EQ(reply->nack().version(), 2u);
  EXPECT_EQ(reply->nack().nonce(), "b");
  EXPECT_FALSE(reply->nack().error().empty());
  EXPECT_EQ(holder_.Load()->version(), 1u);
  EXPECT_EQ(applier_.version(), 1u);
  EXPECT_TRUE(subscriber.connected());  // a NACK does not end the stream
}

TEST_F(ConfigSubscriberTest, ReconnectsAfterTheControlPlaneRestarts) {
  ConfigSubscriber subscriber(Options(), applier_);
  subscriber.Start();
  ASSERT_TRUE(discovery_.WaitForHello(0).has_value());
  ASSERT_TRUE(discovery_.Push(SnapshotPush(5, "n5", SplitConfig(5))));
  ASSERT_TRUE(discovery_.WaitForReply().has_value());

  StopServer(server_);
  EXPECT_TRUE(WaitUntil([&] { return !subscriber.connected(); }));
  EXPECT_EQ(holder_.Load()->version(), 5u);  // still serving meanwhile

  // The control plane comes back on the same address; the gateway finds it by itself.
  FakeDiscovery restarted;
  int port = port_;
  const auto restart_time = std::chrono::steady_clock::now();
  server_ = StartServer(restarted, &port);
  ASSERT_NE(server_, nullptr);
  ASSERT_EQ(port, port_);
  const auto hello = restarted.WaitForHello(0);
  ASSERT_TRUE(hello.has_value());
  // The backoff is capped at ~2 s; the slack is for a loaded machine, far below gRPC's own
  // default reconnect backoff (up to 120 s) that the subscriber overrides.
  EXPECT_LT(std::chrono::steady_clock::now() - restart_time, 8s);
  EXPECT_EQ(hello->running_version(), 5u);
  EXPECT_TRUE(WaitUntil([&] { return subscriber.connected(); }));
  EXPECT_EQ(subscriber.streams_opened(), 2u);

  ASSERT_TRUE(restarted.Push(SnapshotPush(6, "n6", SplitConfig(6))));
  const auto reply = restarted.WaitForReply();
  ASSERT_TRUE(reply.has_value() && reply->has_ack());
  EXPECT_EQ(reply->ack().nonce(), "n6");
  subscriber.Stop();  // before `restarted` goes away
  StopServer(server_);
}

TEST_F(ConfigSubscriberTest, StopIsPromptWhileTheControlPlaneIsUnreachable) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  SubscriberOptions options = Options();
  options.control_plane = "127.0.0.1:" + std::to_string(closed.port());
  ConfigSubscriber subscriber(options, applier_);
  subscriber.Start();
  // The first attempt fails fast; the next one waits for the channel to connect.
  ASSERT_TRUE(WaitUntil([&] { return subscriber.stream_attempts() >= 2; }));
  EXPECT_FALSE(subscriber.connected());

  const auto start = std::chrono::steady_clock::now();
  subscriber.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  subscriber.Stop();  // twice is fine
  EXPECT_FALSE(subscriber.connected());
}

TEST_F(ConfigSubscriberTest, FindsAControlPlaneThatStartsAfterTheGateway) {
  ClosedPort later;
  ASSERT_GT(later.port(), 0);
  SubscriberOptions options = Options();
  options.control_plane = "127.0.0.1:" + std::to_string(later.port());
  ConfigSubscriber subscriber(options, applier_);
  subscriber.Start();
  ASSERT_TRUE(WaitUntil([&] { return subscriber.stream_attempts() >= 2; }));

  later.Release();
  FakeDiscovery discovery;
  int port = later.port();
  const auto start_time = std::chrono::steady_clock::now();
  std::unique_ptr<grpc::Server> server = StartServer(discovery, &port);
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(port, later.port());
  const auto hello = discovery.WaitForHello(0);
  ASSERT_TRUE(hello.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, 8s);  // see above
  EXPECT_EQ(hello->running_version(), 0u);

  ASSERT_TRUE(discovery.Push(SnapshotPush(1, "n1", SplitConfig(1))));
  const auto reply = discovery.WaitForReply();
  ASSERT_TRUE(reply.has_value() && reply->has_ack());
  EXPECT_TRUE(applier_.ready());
  subscriber.Stop();
  StopServer(server);
}

// Several replicas: one that cannot be reached is passed over, and when the replica streamed
// to goes away the next one is used while the gateway keeps serving.
TEST_F(ConfigSubscriberTest, MovesToTheNextReplicaWhenOneIsGone) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  FakeDiscovery second;
  int second_port = 0;
  std::unique_ptr<grpc::Server> second_server = StartServer(second, &second_port);
  ASSERT_NE(second_server, nullptr);
  SubscriberOptions options = Options();
  options.control_plane = "127.0.0.1:" + std::to_string(closed.port()) +
                          ",127.0.0.1:" + std::to_string(port_) +
                          ",127.0.0.1:" + std::to_string(second_port);
  ConfigSubscriber subscriber(options, applier_);
  subscriber.Start();

  ASSERT_TRUE(discovery_.WaitForHello(0).has_value());  // past the closed one
  ASSERT_TRUE(discovery_.Push(SnapshotPush(4, "a4", SplitConfig(4))));
  ASSERT_TRUE(discovery_.WaitForReply().has_value());
  EXPECT_EQ(applier_.version(), 4u);

  StopServer(server_);  // the replica dies; the next one takes over
  const auto hello = second.WaitForHello(0);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->running_version(), 4u);
  EXPECT_TRUE(applier_.ready());  // served all along
  ASSERT_TRUE(second.Push(SnapshotPush(5, "b5", SplitConfig(5))));
  const auto reply = second.WaitForReply();
  ASSERT_TRUE(reply.has_value() && reply->has_ack());
  EXPECT_EQ(applier_.version(), 5u);
  subscriber.Stop();
  StopServer(second_server);
}

TEST_F(ConfigSubscriberTest, StopIsPromptWhileConnected) {
  ConfigSubscriber subscriber(Options(), applier_);
  subscriber.Start();
  ASSERT_TRUE(discovery_.WaitForHello(0).has_value());
  ASSERT_TRUE(WaitUntil([&] { return subscriber.connected(); }));

  const auto start = std::chrono::steady_clock::now();
  subscriber.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_FALSE(subscriber.connected());
}

TEST_F(ConfigSubscriberTest, StopWithoutStartAndStartAfterStopAreHarmless) {
  ConfigSubscriber subscriber(Options(), applier_);
  subscriber.Stop();
  subscriber.Start();  // stopped for good: no thread, no stream
  EXPECT_FALSE(subscriber.connected());
  EXPECT_EQ(subscriber.streams_opened(), 0u);
}

}  // namespace
}  // namespace gw
