// RedisBucketClient on loopback: Redis refusing, Redis never answering (bounded by the timeout),
// and a real redis-server (skipped when none is installed; scripts/install-deps.sh installs it):
// the bucket script, two gateways' limiters sharing its buckets within the lease bound, the
// keys' expiry, and an outage and recovery.
#include "gateway/redis/redis_bucket_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/support/closed_port.h"
#include "tests/unit/support/temp_dir.h"

extern char** environ;

namespace gw {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Waits up to `timeout` for `condition`; true when it held.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

RedisBucketOptions Options(uint16_t port, std::chrono::milliseconds timeout = 250ms) {
  RedisBucketOptions options;
  options.address = {"127.0.0.1", port};
  options.timeout = timeout;
  options.max_lease = 5;
  return options;
}

RateLimitConfig Limit(uint64_t requests, uint32_t period_seconds) {
  RateLimitConfig config;
  config.requests = requests;
  config.period_seconds = period_seconds;
  return config;
}

TEST(RedisBucketClient, RedisRefusingIsNotAvailableAndCountsErrors) {
  testing::ClosedPort port;
  auto client = std::make_shared<RedisBucketClient>(Options(static_cast<uint16_t>(port.port())));
  client->Start();
  EXPECT_TRUE(WaitFor([&] { return client->errors() >= 2; }, 10s));  // it keeps trying
  EXPECT_FALSE(client->available());
  // A cluster-scope limiter on it counts locally and says why.
  auto limiter = std::make_shared<ClusterRateLimiter>(Limit(2, 60), "gwrl:t:", client);
  EXPECT_EQ(limiter->Take("k", Clock::now()).source, RateLimitSource::kRedisDown);
  client->Stop();
}

TEST(RedisBucketClient, ARedisThatNeverAnswersIsDownWithinTheTimeout) {
  // Accepts connections (the kernel's backlog) and never reads or writes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const auto started = Clock::now();
  auto client = std::make_shared<RedisBucketClient>(Options(ntohs(address.sin_port), 100ms));
  client->Start();
  EXPECT_TRUE(WaitFor([&] { return client->errors() >= 1; }, 5s));
  EXPECT_LT(Clock::now() - started, 3s);  // the 100ms bound, not a hang
  EXPECT_FALSE(client->available());
  client->Stop();
  ::close(fd);
}

// A redis-server of the test's own on 127.0.0.1, no persistence, in a temp dir.
class RedisServer {
 public:
  static bool Installed() {
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
      if (::access((std::string(dir) + "/redis-server").c_str(), X_OK) == 0) return true;
    }
    return false;
  }

  RedisServer() {
    testing::ClosedPort port;
    port_ = static_cast<uint16_t>(port.port());
  }
  ~RedisServer() { Kill(); }

  uint16_t port() const { return port_; }

  bool Start() {
    const std::string port = std::to_string(port_);
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     port,
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_.File(""),
                                     "--logfile",
                                     dir_.File("redis.log")};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    return WaitFor(
        [&] {
          std::string error;
          auto connection = RedisConnection::Connect({"127.0.0.1", port_}, 200ms, &error);
          std::vector<RedisConnection::Reply> replies;
          return connection && connection->Run({{"PING"}}, &replies, &error);
        },
        10s);
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // One command's reply, on a connection of its own.
  RedisConnection::Reply Command(const std::vector<std::string>& command) {
    std::string error;
    auto connection = RedisConnection::Connect({"127.0.0.1", port_}, 1s, &error);
    EXPECT_TRUE(connection) << error;
    std::vector<RedisConnection::Reply> replies;
    if (!connection || !connection->Run({command}, &replies, &error)) {
      ADD_FAILURE() << error;
      return {};
    }
    return replies[0];
  }

 private:
  testing::TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

class RedisBucketClientOnRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Installed()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_.Start());
  }
  RedisServer redis_;
};

TEST_F(RedisBucketClientOnRedis, TheScriptRefillsChargesAndExpiresTheBucket) {
  // 10 per minute: a token every 6 s.
  auto eval = [&](const std::string& charge) {
    return redis_.Command(
        {"EVAL", RedisBucketClient::kBucketScript, "1", "gwrl:t:k", "10", "60", "10", charge});
  };
  RedisConnection::Reply reply = eval("0");
  ASSERT_EQ(reply.kind, RedisConnection::Reply::Kind::kInteger) << reply.text;
  EXPECT_EQ(reply.integer, 10'000);  // a new bucket is full
  reply = eval("4");
  EXPECT_GE(reply.integer, 6'000);
  EXPECT_LT(reply.integer, 6'100);
  reply = eval("10");  // more than it has: the cluster went over, the level says by how much
  EXPECT_LT(reply.integer, -3'900);
  // It expires once it would be full again (about 84 s from -4), not before.
  const RedisConnection::Reply ttl = redis_.Command({"PTTL", "gwrl:t:k"});
  EXPECT_GT(ttl.integer, 80'000);
  EXPECT_LT(ttl.integer, 90'000);
}

TEST_F(RedisBucketClientOnRedis, TwoGatewaysShareTheBucketWithinTheLeaseBound) {
  // Two gateways: a client (connection, thread) and a limiter each, on the same buckets.
  auto client_1 = std::make_shared<RedisBucketClient>(Options(redis_.port()));
  auto client_2 = std::make_shared<RedisBucketClient>(Options(redis_.port()));
  client_1->Start();
  client_2->Start();
  ASSERT_TRUE(WaitFor([&] { return client_1->available() && client_2->available(); }, 10s));
  const RateLimitConfig limit = Limit(50, 1);  // lease min(50 / 10, --redis-lease 5) = 5
  auto gateway_1 = std::make_shared<ClusterRateLimiter>(limit, "gwrl:t:", client_1);
  auto gateway_2 = std::make_shared<ClusterRateLimiter>(limit, "gwrl:t:", client_2);
  ASSERT_EQ(gateway_1->shape().lease, 5u);

  // Two threads per gateway, as fast as they can, for about a second.
  std::atomic<uint64_t> admitted{0}, refused{0};
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (auto* limiter : {&gateway_1, &gateway_2, &gateway_1, &gateway_2}) {
    workers.emplace_back([&, limiter] {
      while (Clock::now() - start < 1s) {
        const RateLimitDecision decision = (*limiter)->Take("client", Clock::now());
        EXPECT_EQ(decision.source, RateLimitSource::kCluster);
        (decision.allowed ? admitted : refused)++;
        std::this_thread::sleep_for(100us);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // burst 50 + 50/s x the time + 2 gateways x lease 5; at least the burst got through.
  const double bound = 50 + 50 * seconds + 2 * 5;
  EXPECT_LE(static_cast<double>(admitted.load()), bound)
      << admitted << " admitted, " << refused << " refused in " << seconds << " s";
  EXPECT_GE(admitted.load(), 50u);
  EXPECT_GT(refused.load(), 0u);
  EXPECT_GT(client_1->syncs() + client_2->syncs(), 0u);
  // One bucket in Redis for the key, alive no longer than it takes to refill (1 s + 1 s).
  const RedisConnection::Reply ttl = redis_.Command({"PTTL", "gwrl:t:client"});
  EXPECT_GT(ttl.integer, 0);
  EXPECT_LE(ttl.integer, 2'500);
  client_1->Stop();
  client_2->Stop();
}

TEST_F(RedisBucketClientOnRedis, AnOutageFallsBackAndTheClientReconnectsByItself) {
  auto client = std::make_shared<RedisBucketClient>(Options(redis_.port()));
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return client->available(); }, 10s));
  auto limiter = std::make_shared<ClusterRateLimiter>(Limit(100, 1), "gwrl:t:", client);
  EXPECT_EQ(limiter->Take("k", Clock::now()).source, RateLimitSource::kCluster);

  redis_.Kill();
  // Noticed by the next sync or the idle PING (every second), with no request needed.
  ASSERT_TRUE(WaitFor([&] { return !client->available(); }, 5s));
  EXPECT_EQ(limiter->Take("k", Clock::now()).source, RateLimitSource::kRedisDown);
  const uint64_t errors = client->errors();
  EXPECT_GE(errors, 1u);

  ASSERT_TRUE(redis_.Start());  // the same port
  // The backoff is capped at 2 s.
  ASSERT_TRUE(WaitFor([&] { return client->available(); }, 10s));
  ASSERT_TRUE(WaitFor(
      [&] { return limiter->Take("k", Clock::now()).source == RateLimitSource::kCluster; }, 5s));
  EXPECT_TRUE(WaitFor([&] { return client->syncs() > 0; }, 5s));
  client->Stop();
}

}  // namespace
}  // namespace gw
