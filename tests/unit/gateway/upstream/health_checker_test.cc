#include "gateway/upstream/health_checker.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

// An upstream on loopback, on its own thread, answering health checks as told.
class Upstream {
 public:
  enum class Mode { kHealthy, kFailing, kSilent };  // 200, 503, or no answer at all

  Upstream() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Upstream() {
    io_.stop();
    thread_.join();  // then the sockets close as the members go
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  HostPort endpoint() const { return {"127.0.0.1", port()}; }
  void set_mode(Mode mode) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
  }
  int checks() {
    std::lock_guard lock(mutex_);
    return checks_;
  }
  std::string last_request() {
    std::lock_guard lock(mutex_);
    return last_request_;
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      Serve(std::make_shared<tcp::socket>(std::move(socket)));
      Accept();
    });
  }

  void Serve(std::shared_ptr<tcp::socket> socket) {
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto request = std::make_shared<http::request<http::string_body>>();
    http::async_read(*socket, *buffer, *request,
                     [this, socket, buffer, request](beast::error_code ec, size_t) {
                       if (!ec) Answer(socket, *request);
                     });
  }

  void Answer(const std::shared_ptr<tcp::socket>& socket,
              const http::request<http::string_body>& request) {
    Mode mode;
    {
      std::lock_guard lock(mutex_);
      ++checks_;
      last_request_ = std::string(request.method_string()) + " " + std::string(request.target()) +
                      " Host: " + std::string(request[http::field::host]);
      mode = mode_;
    }
    if (mode == Mode::kSilent) {
      silent_.push_back(socket);  // keeps it open, unanswered
      return;
    }
    auto response = std::make_shared<http::response<http::string_body>>(
        mode == Mode::kHealthy ? http::status::ok : http::status::service_unavailable, 11);
    response->body() = "status";
    response->prepare_payload();
    http::async_write(*socket, *response, [socket, response](beast::error_code, size_t) {});
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::shared_ptr<tcp::socket>> silent_;  // the upstream's thread only
  std::mutex mutex_;
  Mode mode_ = Mode::kHealthy;
  int checks_ = 0;
  std::string last_request_;
};

// A loopback port with nothing listening on it.
uint16_t ClosedPort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// Polls `condition` until it holds or the deadline passes.
bool WaitUntil(const std::function<bool()>& condition, milliseconds deadline = milliseconds(5000)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

ServiceEndpointsSharedPtr Checked(std::vector<HostPort> endpoints, uint32_t unhealthy,
                                  uint32_t healthy, milliseconds interval = milliseconds(20)) {
  ServicePolicy policy;
  policy.endpoints = std::move(endpoints);
  policy.health_check = HealthCheckPolicy{"/healthz", interval, unhealthy, healthy};
  return std::make_shared<ServiceEndpoints>("order-svc", std::move(policy));
}

struct Change {
  size_t endpoint;
  HealthChange change;
  bool operator==(const Change&) const = default;
};

TEST(HealthChecker, TakesAFailingEndpointOutAndBringsItBack) {
  Upstream flaky;
  Upstream steady;
  std::mutex mutex;
  std::vector<Change> changes;
  HealthChecker::Options options;
  options.on_change = [&](const ServiceEndpoints&, size_t endpoint, HealthChange change) {
    std::lock_guard lock(mutex);
    changes.push_back({endpoint, change});
  };
  HealthChecker checker(options);
  const auto service = Checked({flaky.endpoint(), steady.endpoint()}, 2, 2);
  checker.Reconfigure({service});
  checker.Start();

  ASSERT_TRUE(WaitUntil([&] { return flaky.checks() >= 2 && steady.checks() >= 2; }));
  EXPECT_TRUE(service->Healthy(0));
  EXPECT_EQ(flaky.last_request(), "GET /healthz Host: 127.0.0.1:" + std::to_string(flaky.port()));

  flaky.set_mode(Upstream::Mode::kFailing);
  ASSERT_TRUE(WaitUntil([&] { return !service->Healthy(0); }));
  EXPECT_FALSE(service->Available(0, std::chrono::steady_clock::now()));
  EXPECT_TRUE(service->Healthy(1));

  flaky.set_mode(Upstream::Mode::kHealthy);
  ASSERT_TRUE(WaitUntil([&] { return service->Healthy(0); }));
  checker.Stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(changes, (std::vector<Change>{{0, HealthChange::kBecameUnhealthy},
                                          {0, HealthChange::kBecameHealthy}}));
  EXPECT_GE(checker.checks_completed(), 4u);
}

TEST(HealthChecker, RefusedAndSilentEndpointsFail) {
  Upstream silent;
  silent.set_mode(Upstream::Mode::kSilent);
  HealthChecker checker({});
  const auto service =
      Checked({{"127.0.0.1", ClosedPort()}, silent.endpoint()}, 1, 1, milliseconds(50));
  checker.Start();
  checker.Reconfigure({service});
  // The silent one fails by the check's timeout (its interval, 50 ms).
  ASSERT_TRUE(WaitUntil([&] { return !service->Healthy(0) && !service->Healthy(1); }));
}

TEST(HealthChecker, ChecksOnlyTheServicesOfTheLatestConfig) {
  Upstream first;
  Upstream second;
  Upstream unchecked;
  HealthChecker checker({});
  checker.Start();
  const auto a = Checked({first.endpoint()}, 1, 1);
  ServicePolicy plain;
  plain.endpoints = {unchecked.endpoint()};
  const auto no_check = std::make_shared<ServiceEndpoints>("plain-svc", plain);
  checker.Reconfigure({a, no_check});
  ASSERT_TRUE(WaitUntil([&] { return first.checks() >= 3; }));

  // The same state again keeps being checked; a new one starts; a dropped one stops.
  first.set_mode(Upstream::Mode::kFailing);
  ASSERT_TRUE(WaitUntil([&] { return !a->Healthy(0); }));
  const auto b = Checked({second.endpoint()}, 1, 1);
  checker.Reconfigure({a, b});
  ASSERT_TRUE(WaitUntil([&] { return second.checks() >= 1; }));
  EXPECT_FALSE(a->Healthy(0));  // not reset by the new config

  // A new service's first check shows the change was applied.
  Upstream witness;
  checker.Reconfigure({b, Checked({witness.endpoint()}, 1, 1)});
  ASSERT_TRUE(WaitUntil([&] { return witness.checks() >= 1; }));
  const int first_checks = first.checks();
  const int second_checks = second.checks();
  ASSERT_TRUE(WaitUntil([&] { return second.checks() >= second_checks + 5; }));
  EXPECT_LE(first.checks(), first_checks + 1);  // at most the one already on its way
  EXPECT_EQ(unchecked.checks(), 0);
}

TEST(HealthChecker, StopsWhileChecksAreInProgress) {
  Upstream silent;
  silent.set_mode(Upstream::Mode::kSilent);
  auto checker = std::make_unique<HealthChecker>(HealthChecker::Options{});
  const auto service = Checked({silent.endpoint()}, 1, 1, milliseconds(60000));
  checker->Reconfigure({service});
  checker->Start();
  ASSERT_TRUE(WaitUntil([&] { return silent.checks() >= 1; }));
  const auto before = std::chrono::steady_clock::now();
  checker.reset();  // stops and joins with a check waiting for its 5 s timeout
  EXPECT_LT(std::chrono::steady_clock::now() - before, milliseconds(1000));
  EXPECT_TRUE(service->Healthy(0));
}

}  // namespace
}  // namespace gw
