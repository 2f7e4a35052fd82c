#include "gateway/upstream/health_checker.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <functional>
#include <map>
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

// What both fake upstreams share: a loopback acceptor served on its own thread, the mode health
// checks are answered in, and a record of the checks.
class FakeUpstream {
 public:
  enum class Mode { kHealthy, kFailing, kSilent };  // 200, 503, or no answer at all

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

 protected:
  FakeUpstream() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  ~FakeUpstream() = default;

  // Called by the derived constructor once it is whole, and Stop by its destructor first: the
  // thread calls Serve and uses the derived members.
  void Run() {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  void Stop() {
    io_.stop();
    thread_.join();  // then the sockets close as the members go
  }
  // A check came (`request` says what it asked): the mode to answer it in.
  Mode Record(std::string request) {
    std::lock_guard lock(mutex_);
    ++checks_;
    last_request_ = std::move(request);
    return mode_;
  }
  virtual void Serve(tcp::socket socket) = 0;

  asio::io_context io_;

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      Serve(std::move(socket));
      Accept();
    });
  }

  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  Mode mode_ = Mode::kHealthy;
  int checks_ = 0;
  std::string last_request_;
};

// An HTTP/1.1 upstream answering health checks as told.
class Upstream : public FakeUpstream {
 public:
  Upstream() { Run(); }
  ~Upstream() { Stop(); }

 private:
  void Serve(tcp::socket accepted) override {
    auto socket = std::make_shared<tcp::socket>(std::move(accepted));
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto request = std::make_shared<http::request<http::string_body>>();
    http::async_read(*socket, *buffer, *request,
                     [this, socket, buffer, request](beast::error_code ec, size_t) {
                       if (!ec) Answer(socket, *request);
                     });
  }

  void Answer(const std::shared_ptr<tcp::socket>& socket,
              const http::request<http::string_body>& request) {
    const Mode mode =
        Record(std::string(request.method_string()) + " " + std::string(request.target()) +
               " Host: " + std::string(request[http::field::host]));
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

  std::vector<std::shared_ptr<tcp::socket>> silent_;  // the upstream's thread only
};

// An h2c-only upstream (a gRPC server's transport): HTTP/2 with prior knowledge, each request
// answered as told (the HTTP/1.1 preface is a protocol error).
class H2Upstream : public FakeUpstream {
 public:
  H2Upstream() { Run(); }
  ~H2Upstream() { Stop(); }

 private:
  class Connection : public std::enable_shared_from_this<Connection> {
   public:
    Connection(H2Upstream& upstream, tcp::socket socket)
        : upstream_(upstream), socket_(std::move(socket)) {}
    ~Connection() { nghttp2_session_del(session_); }

    void Start() {
      nghttp2_session_callbacks* callbacks = nullptr;
      nghttp2_session_callbacks_new(&callbacks);
      nghttp2_session_callbacks_set_on_header_callback(callbacks, &Connection::OnHeader);
      nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Connection::OnFrame);
      nghttp2_session_server_new(&session_, callbacks, this);
      nghttp2_session_callbacks_del(callbacks);
      nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
      Flush();
      Read();
    }

   private:
    void Read() {
      socket_.async_read_some(
          asio::buffer(in_), [self = shared_from_this()](beast::error_code ec, size_t n) {
            if (ec || nghttp2_session_mem_recv(self->session_, self->in_.data(), n) < 0) return;
            self->Flush();
            self->Read();
          });
    }
    void Flush() {
      if (writing_) return;
      out_.clear();
      const uint8_t* data = nullptr;
      ssize_t n = 0;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0) out_.append(data, data + n);
      if (out_.empty()) return;
      writing_ = true;
      asio::async_write(socket_, asio::buffer(out_),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          if (!ec) self->Flush();
                        });
    }
    static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                        size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                        void* user) {
      auto& self = *static_cast<Connection*>(user);
      self.fields_[frame->hd.stream_id][std::string(reinterpret_cast<const char*>(name), namelen)] =
          std::string(reinterpret_cast<const char*>(value), valuelen);
      return 0;
    }
    static int OnFrame(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
      auto& self = *static_cast<Connection*>(user);
      if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
      }
      auto& fields = self.fields_[frame->hd.stream_id];
      const Mode mode = self.upstream_.Record(fields[":method"] + " " + fields[":path"] +
                                              " :authority " + fields[":authority"]);
      if (mode == Mode::kSilent) return 0;
      std::string status = mode == Mode::kHealthy ? "200" : "503";
      std::string key = ":status";
      nghttp2_nv nv{reinterpret_cast<uint8_t*>(key.data()),
                    reinterpret_cast<uint8_t*>(status.data()), key.size(), status.size(),
                    NGHTTP2_NV_FLAG_NONE};
      nghttp2_submit_response(session, frame->hd.stream_id, &nv, 1, nullptr);
      return 0;
    }

    H2Upstream& upstream_;
    tcp::socket socket_;
    nghttp2_session* session_ = nullptr;
    std::array<uint8_t, 16384> in_;
    std::basic_string<uint8_t> out_;
    bool writing_ = false;
    std::map<int32_t, std::map<std::string, std::string>> fields_;
  };

  void Serve(tcp::socket socket) override {
    std::make_shared<Connection>(*this, std::move(socket))->Start();
  }
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
                                  uint32_t healthy, milliseconds interval = milliseconds(20),
                                  bool h2c = false) {
  ServicePolicy policy;
  policy.endpoints = std::move(endpoints);
  policy.health_check = HealthCheckPolicy{"/healthz", interval, unhealthy, healthy, h2c};
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

TEST(HealthChecker, ChecksAnH2cEndpointOverHttp2WithPriorKnowledge) {
  H2Upstream grpc;
  HealthChecker checker({});
  const auto service = Checked({grpc.endpoint()}, 2, 2, milliseconds(20), true);
  checker.Reconfigure({service});
  checker.Start();
  ASSERT_TRUE(WaitUntil([&] { return grpc.checks() >= 3; }));
  EXPECT_TRUE(service->Healthy(0));
  EXPECT_EQ(grpc.last_request(),
            "GET /healthz :authority 127.0.0.1:" + std::to_string(grpc.port()));

  grpc.set_mode(H2Upstream::Mode::kFailing);
  ASSERT_TRUE(WaitUntil([&] { return !service->Healthy(0); }));
  grpc.set_mode(H2Upstream::Mode::kHealthy);
  ASSERT_TRUE(WaitUntil([&] { return service->Healthy(0); }));
  // Silent: each check fails by its timeout, and the connection it opened is closed.
  grpc.set_mode(H2Upstream::Mode::kSilent);
  ASSERT_TRUE(WaitUntil([&] { return !service->Healthy(0); }));
}

TEST(HealthChecker, AnH2cCheckOfAnHttp1OnlyEndpointOrAClosedPortFails) {
  Upstream http1;
  HealthChecker checker({});
  const auto service =
      Checked({http1.endpoint(), {"127.0.0.1", ClosedPort()}}, 1, 1, milliseconds(50), true);
  checker.Start();
  checker.Reconfigure({service});
  ASSERT_TRUE(WaitUntil([&] { return !service->Healthy(0) && !service->Healthy(1); }));
}

}  // namespace
}  // namespace gw
