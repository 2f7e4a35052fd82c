// The data path end to end inside one process: a real Worker on loopback between a blocking
// test client and scripted upstream servers. Covers what the pure-function tests cannot:
// pooling, round-robin over sockets, retries, failover and the error statuses.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gateway/http/http_message.h"
#include "gateway/router/route_table_holder.h"
#include "gateway/server/worker.h"

namespace gw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// The test's own client and upstream hold whole messages; the gateway streams them.
using TestRequest = http::request<http::string_body>;
using TestResponse = http::response<http::string_body>;

// What a scripted upstream does with one request.
struct Action {
  enum Kind { kRespond, kCloseWithoutAnswer } kind = kRespond;
  unsigned status = 200;
  std::string body;
  bool keep_alive = true;
  std::chrono::milliseconds delay{0};
  bool chunked = false;  // the body in one chunk instead of with a Content-Length
};

struct Seen {
  std::string method;
  std::string target;
  HttpFields headers;
  std::string body;
  int connection = 0;  // 1-based, in accept order
};

// An HTTP/1.1 upstream on 127.0.0.1 with one blocking thread per connection.
class ScriptedUpstream {
 public:
  // script(connection number, request number on that connection, request) -> action
  using Script = std::function<Action(int, int, const TestRequest&)>;

  explicit ScriptedUpstream(Script script)
      : script_(std::move(script)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~ScriptedUpstream() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    {
      std::lock_guard lock(mutex_);
      for (auto& socket : sockets_) ::shutdown(socket->native_handle(), SHUT_RDWR);
    }
    for (auto& thread : threads_) thread.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }
  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      boost::system::error_code ec;
      auto socket = std::make_shared<tcp::socket>(io_);
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) return;
      const int number = ++connections_;
      std::lock_guard lock(mutex_);
      sockets_.push_back(socket);
      threads_.emplace_back([this, socket, number] { Serve(*socket, number); });
    }
  }

  void Serve(tcp::socket& socket, int connection) {
    beast::flat_buffer buffer;
    for (int index = 0;; ++index) {
      TestRequest request;
      boost::system::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      {
        std::lock_guard lock(mutex_);
        seen_.push_back({std::string(ToStd(request.method_string())),
                         std::string(ToStd(request.target())), request.base(), request.body(),
                         connection});
      }
      const Action action = script_(connection, index, request);
      if (action.kind == Action::kCloseWithoutAnswer) {
        std::lock_guard lock(mutex_);  // the destructor reads the socket's handle under it
        socket.close(ec);
        return;
      }
      std::this_thread::sleep_for(action.delay);
      TestResponse response{static_cast<http::status>(action.status), 11};
      response.set("Content-Type", "text/plain");
      response.set("Connection", "X-Upstream-Private");
      response.set("X-Upstream-Private", "1");
      response.body() = action.body;
      response.keep_alive(action.keep_alive);
      if (action.chunked) {
        response.chunked(true);
      } else {
        response.prepare_payload();
      }
      http::write(socket, response, ec);
      if (ec || !action.keep_alive) return;
    }
  }

  Script script_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
  std::vector<Seen> seen_;
};

Action Answer(std::string body) {
  Action action;
  action.body = std::move(body);
  return action;
}

// A port nothing listens on (bound then released).
uint16_t ClosedPort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// A blocking HTTP/1.1 client on one connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  TestResponse Send(TestRequest request) {
    if (request.find(http::field::host) == request.end()) request.set(http::field::host, "gw.test");
    request.prepare_payload();
    http::write(socket_, request);
    TestResponse response;
    http::read(socket_, buffer_, response);
    return response;
  }

  // Writes `raw` as is and reads one response.
  TestResponse SendRaw(std::string_view raw) {
    asio::write(socket_, asio::buffer(raw.data(), raw.size()));
    return Read();
  }

  TestResponse Read() {
    TestResponse response;
    http::read(socket_, buffer_, response);
    return response;
  }

  TestResponse Get(std::string target) { return Send(TestRequest{http::verb::get, target, 11}); }

  // A HEAD: the answer's header only (its Content-Length announces a body that never comes).
  TestResponse Head(std::string target) {
    TestRequest request{http::verb::head, target, 11};
    request.set(http::field::host, "gw.test");
    http::write(socket_, request);
    http::response_parser<http::string_body> parser;
    parser.skip(true);
    http::read(socket_, buffer_, parser);
    return parser.release();
  }

  // Whether the gateway closed the connection (EOF) rather than sending anything more.
  bool ClosedByPeer() {
    char byte;
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

class ProxyLoopbackTest : public ::testing::Test {
 protected:
  ProxyLoopbackTest() {
    settings_.upstream_timeout = 2s;
    settings_.connect_timeout = 1s;
  }

  ~ProxyLoopbackTest() override {
    if (worker_) {
      worker_->Drain();
      EXPECT_TRUE(worker_->WaitUntilDrained(std::chrono::steady_clock::now() + 5s));
      worker_->Stop();
      worker_->Join();
    }
  }

  void AddService(const std::string& name, std::vector<uint16_t> ports) {
    auto* service = config_.add_services();
    service->set_name(name);
    for (uint16_t port : ports) {
      auto* endpoint = service->add_endpoints();
      endpoint->set_host("127.0.0.1");
      endpoint->set_port(port);
    }
  }

  void AddRoute(const std::string& path, const std::string& target, uint64_t max_body_size = 0) {
    auto* route = config_.add_routes();
    route->set_path(path);
    route->set_match(gateway::v1::MATCH_PREFIX);
    route->set_target(target);
    route->set_max_body_size(max_body_size);
  }

  // Publishes the config built so far and starts the worker.
  void Start(bool publish = true) {
    if (publish) {
      config_.set_version(1);
      std::string error;
      auto table = RouteTable::Build(config_, 100, &error);
      ASSERT_TRUE(table) << error;
      holder_.Store(std::move(table));
    }
    worker_ = std::make_unique<Worker>(settings_, holder_);
    ASSERT_FALSE(worker_->Listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), false));
    port_ = worker_->local_endpoint().port();
    worker_->Start();
  }

  // Publishes config_ again as the next version: requests from now on see it.
  void Republish() {
    config_.set_version(config_.version() + 1);
    std::string error;
    auto table = RouteTable::Build(config_, 100, &error);
    ASSERT_TRUE(table) << error;
    holder_.Store(std::move(table));
  }

  static std::string Header(const HttpFields& fields, std::string_view name) {
    auto it = fields.find(ToBeast(name));
    return it == fields.end() ? "<absent>" : std::string(ToStd(it->value()));
  }

  ProxySettings settings_;
  gateway::v1::Config config_;
  RouteTableHolder holder_;
  std::unique_ptr<Worker> worker_;
  uint16_t port_ = 0;
};

TEST_F(ProxyLoopbackTest, ForwardsTheNormalizedPathWithTheGatewaysHeaders) {
  ScriptedUpstream upstream([](int, int, const TestRequest&) { return Answer("order"); });
  AddService("order-svc", {upstream.port()});
  AddRoute("/api/order", "order-svc");
  Start();

  Client client(port_);
  TestRequest request{http::verb::get, "/api/./order//7/../8?x=1&y=%2F", 11};
  request.set("Connection", "keep-alive, X-Hop");
  request.set("X-Hop", "1");
  request.set("X-Forwarded-For", "203.0.113.5");
  const TestResponse response = client.Send(std::move(request));

  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "order");
  EXPECT_EQ(Header(response, "X-Upstream-Private"), "<absent>");
  const auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/api/order/8?x=1&y=%2F");
  EXPECT_EQ(Header(seen[0].headers, "Host"), "gw.test");
  EXPECT_EQ(Header(seen[0].headers, "X-Hop"), "<absent>");
  EXPECT_EQ(Header(seen[0].headers, "X-Forwarded-For"), "203.0.113.5, 127.0.0.1");
  EXPECT_EQ(Header(seen[0].headers, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(Header(seen[0].headers, "X-Forwarded-Host"), "gw.test");
  const std::string id = Header(seen[0].headers, "X-Request-Id");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(Header(response, "X-Request-Id"), id);
}

TEST_F(ProxyLoopbackTest, NoRouteIs404WithTheNormalizedPath) {
  ScriptedUpstream upstream([](int, int, const TestRequest&) { return Answer("x"); });
  AddService("order-svc", {upstream.port()});
  AddRoute("/api/order", "order-svc");
  Start();
  Client client(port_);
  const auto response = client.Get("/api/orders/../orderz");
  EXPECT_EQ(response.result_int(), 404u);
  EXPECT_EQ(Header(response, "Content-Type"), "application/json");
  EXPECT_EQ(response.body(), R"({"error":"no route","path":"/api/orderz"})");
  // The connection stays usable.
  EXPECT_EQ(client.Get("/api/order").result_int(), 200u);
}

TEST_F(ProxyLoopbackTest, NoConfigYetIs503) {
  Start(/*publish=*/false);
  Client client(port_);
  const auto response = client.Get("/anything");
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response.body(), R"({"error":"no config loaded"})");
}

TEST_F(ProxyLoopbackTest, ReusesPooledUpstreamConnections) {
  ScriptedUpstream upstream([](int, int, const TestRequest&) { return Answer("ok"); });
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  for (int i = 0; i < 3; ++i) {
    Client client(port_);  // a new client connection each time: the pool is the worker's
    EXPECT_EQ(client.Get("/a").result_int(), 200u);
  }
  EXPECT_EQ(upstream.connections(), 1);
}

TEST_F(ProxyLoopbackTest, DoesNotPoolAConnectionTheUpstreamCloses) {
  ScriptedUpstream upstream([](int, int, const TestRequest&) {
    Action action = Answer("bye");
    action.keep_alive = false;
    return action;
  });
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  EXPECT_EQ(client.Get("/a").result_int(), 200u);
  EXPECT_EQ(client.Get("/a").result_int(), 200u);  // the client side stays keep-alive
  EXPECT_EQ(upstream.connections(), 2);
}

TEST_F(ProxyLoopbackTest, RoundRobinsOverTheServicesEndpoints) {
  ScriptedUpstream a([](int, int, const TestRequest&) { return Answer("a"); });
  ScriptedUpstream b([](int, int, const TestRequest&) { return Answer("b"); });
  AddService("svc", {a.port(), b.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  std::string order;
  for (int i = 0; i < 4; ++i) order += client.Get("/x").body();
  EXPECT_EQ(order, "abab");
}

TEST_F(ProxyLoopbackTest, SkipsARefusingEndpoint) {
  ScriptedUpstream live([](int, int, const TestRequest&) { return Answer("live"); });
  AddService("svc", {ClosedPort(), live.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(client.Get("/x").body(), "live");
}

TEST_F(ProxyLoopbackTest, EveryEndpointRefusingIs502) {
  AddService("svc", {ClosedPort(), ClosedPort()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  const auto response = client.Get("/x");
  EXPECT_EQ(response.result_int(), 502u);
  EXPECT_EQ(response.body(), R"({"error":"upstream connect failed"})");
  EXPECT_EQ(Header(response, "X-Request-Id").size(), 32u);
}

TEST_F(ProxyLoopbackTest, SlowUpstreamIs504) {
  settings_.upstream_timeout = 200ms;
  ScriptedUpstream slow([](int, int, const TestRequest&) {
    Action action = Answer("late");
    action.delay = 1000ms;
    return action;
  });
  AddService("svc", {slow.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  const auto started = std::chrono::steady_clock::now();
  const auto response = client.Get("/x");
  EXPECT_EQ(response.result_int(), 504u);
  EXPECT_EQ(response.body(), R"({"error":"upstream timeout"})");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 900ms);
}

// The upstream answers the first request of each connection, then closes the connection when
// the next request arrives: what a server does when its keep-alive timeout races a request.
Action ClosesAfterFirst(int, int index, const TestRequest&) {
  if (index == 0) return Answer("fresh");
  Action action;
  action.kind = Action::kCloseWithoutAnswer;
  return action;
}

TEST_F(ProxyLoopbackTest, RetriesAnIdempotentRequestOnceOnAFreshConnection) {
  ScriptedUpstream upstream(ClosesAfterFirst);
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  EXPECT_EQ(client.Get("/x").body(), "fresh");
  const auto response = client.Send(TestRequest{http::verb::put, "/x", 11});
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "fresh");
  EXPECT_EQ(upstream.connections(), 2);
}

TEST_F(ProxyLoopbackTest, NeverResendsANonIdempotentRequest) {
  ScriptedUpstream upstream(ClosesAfterFirst);
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  EXPECT_EQ(client.Get("/x").body(), "fresh");
  TestRequest post{http::verb::post, "/x", 11};
  post.body() = "pay once";
  const auto response = client.Send(std::move(post));
  EXPECT_EQ(response.result_int(), 502u);
  int posts = 0;
  for (const auto& seen : upstream.seen()) posts += seen.method == "POST";
  EXPECT_EQ(posts, 1);
}

TEST_F(ProxyLoopbackTest, ResolvesDnsTargets) {
  ScriptedUpstream upstream([](int, int, const TestRequest&) { return Answer("by name"); });
  AddRoute("/", "localhost:" + std::to_string(upstream.port()));
  Start();
  Client client(port_);
  EXPECT_EQ(client.Get("/x").body(), "by name");
}

TEST_F(ProxyLoopbackTest, UnresolvableTargetIs503) {
  AddRoute("/", "no-such-host.invalid:8080");
  Start();
  Client client(port_);
  const auto response = client.Get("/x");
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response.body(), R"({"error":"upstream unavailable"})");
}

TEST_F(ProxyLoopbackTest, ForwardsBodiesAndRefusesOversizedOnes) {
  settings_.max_body_size = 64;
  ScriptedUpstream upstream([](int, int, const TestRequest& request) {
    return Answer("got " + std::to_string(request.body().size()));
  });
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  {
    Client client(port_);
    TestRequest post{http::verb::post, "/x", 11};
    post.body() = std::string(64, 'a');
    EXPECT_EQ(client.Send(std::move(post)).body(), "got 64");
  }
  Client client(port_);
  TestRequest big{http::verb::post, "/x", 11};
  big.body() = std::string(65, 'a');
  const auto response = client.Send(std::move(big));
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_FALSE(response.keep_alive());
}

TEST_F(ProxyLoopbackTest, NeverResendsARequestWhoseBodyWasSent) {
  ScriptedUpstream upstream(ClosesAfterFirst);
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  EXPECT_EQ(client.Get("/x").body(), "fresh");
  TestRequest put{http::verb::put, "/x", 11};  // idempotent, but its body already streamed
  put.body() = "streamed";
  EXPECT_EQ(client.Send(std::move(put)).result_int(), 502u);
  int puts = 0;
  for (const auto& seen : upstream.seen()) puts += seen.method == "PUT";
  EXPECT_EQ(puts, 1);
}

TEST_F(ProxyLoopbackTest, SendsAShortChunkedBodyWithALengthAndALongOneChunked) {
  ScriptedUpstream upstream([](int, int, const TestRequest& request) {
    return Answer("got " + std::to_string(request.body().size()));
  });
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  auto response = client.SendRaw(
      "POST /x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n");
  EXPECT_EQ(response.body(), "got 8");
  // Longer than one relay buffer: streamed on, still chunked.
  const std::string chunk(50000, 'z');
  std::string raw = "POST /x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) raw += "c350\r\n" + chunk + "\r\n";
  raw += "0\r\n\r\n";
  response = client.SendRaw(raw);
  EXPECT_EQ(response.body(), "got 150000");
  const auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(Header(seen[0].headers, "Content-Length"), "8");
  EXPECT_EQ(Header(seen[0].headers, "Transfer-Encoding"), "<absent>");
  EXPECT_EQ(Header(seen[1].headers, "Transfer-Encoding"), "chunked");
  EXPECT_EQ(Header(seen[1].headers, "Content-Length"), "<absent>");
}

TEST_F(ProxyLoopbackTest, StopsAChunkedBodyAtTheLimit) {
  settings_.max_body_size = 8;
  ScriptedUpstream upstream(
      [](int, int, const TestRequest& request) { return Answer("got " + request.body()); });
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  {
    Client client(port_);
    const auto response = client.SendRaw(
        "POST /x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n");
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.body(), "got abcdefgh");
  }
  Client client(port_);
  const auto response = client.SendRaw(
      "POST /x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n");
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_FALSE(response.keep_alive());
  // The upstream never got a complete request beyond the limit.
  EXPECT_EQ(upstream.seen().size(), 1u);
}

// POST `target` with a body of `size` bytes and a Content-Length.
TestRequest Post(std::string target, size_t size) {
  TestRequest post{http::verb::post, target, 11};
  post.body() = std::string(size, 'b');
  return post;
}

// The same as one chunked request, in chunks of at most `chunk` bytes.
std::string ChunkedPost(std::string_view target, size_t size, size_t chunk) {
  std::string raw = "POST " + std::string(target) +
                    " HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t sent = 0; sent < size; sent += chunk) {
    const size_t n = std::min(chunk, size - sent);
    char hex[20];
    std::snprintf(hex, sizeof hex, "%zx", n);
    raw += std::string(hex) + "\r\n" + std::string(n, 'c') + "\r\n";
  }
  return raw + "0\r\n\r\n";
}

TEST_F(ProxyLoopbackTest, ARoutesBodyLimitWinsOverTheGatewaysEitherWay) {
  settings_.max_body_size = 16;
  ScriptedUpstream upstream([](int, int, const TestRequest& request) {
    return Answer("got " + std::to_string(request.body().size()));
  });
  AddService("svc", {upstream.port()});
  AddRoute("/big", "svc", 64);   // more than the gateway's 16
  AddRoute("/small", "svc", 8);  // less
  AddRoute("/plain", "svc");     // the gateway's
  Start();
  for (const auto& [target, limit] :
       std::vector<std::pair<std::string, size_t>>{{"/big", 64}, {"/small", 8}, {"/plain", 16}}) {
    {
      Client client(port_);
      EXPECT_EQ(client.Send(Post(target, limit)).body(), "got " + std::to_string(limit)) << target;
      const auto refused = client.Send(Post(target, limit + 1));
      EXPECT_EQ(refused.result_int(), 413u) << target;
      EXPECT_FALSE(refused.keep_alive()) << target;
    }
    Client client(port_);
    EXPECT_EQ(client.SendRaw(ChunkedPost(target, limit, 5)).body(), "got " + std::to_string(limit))
        << target;
    const auto refused = client.SendRaw(ChunkedPost(target, limit + 1, 5));
    EXPECT_EQ(refused.result_int(), 413u) << target;
    EXPECT_FALSE(refused.keep_alive()) << target;
  }
  // Only the requests within their limits reached the upstream.
  EXPECT_EQ(upstream.seen().size(), 6u);
}

TEST_F(ProxyLoopbackTest, WithoutAGatewayLimitOnlyLimitedRoutesRefuse) {
  ScriptedUpstream upstream([](int, int, const TestRequest& request) {
    return Answer("got " + std::to_string(request.body().size()));
  });
  AddService("svc", {upstream.port()});
  AddRoute("/limited", "svc", 1024);
  AddRoute("/open", "svc");
  Start();
  Client client(port_);
  EXPECT_EQ(client.Send(Post("/open", 200000)).body(), "got 200000");
  EXPECT_EQ(client.Send(Post("/limited", 1024)).body(), "got 1024");
  EXPECT_EQ(client.Send(Post("/limited", 1025)).result_int(), 413u);
}

TEST_F(ProxyLoopbackTest, AChunkedBodyIsStoppedWhereItCrossesTheRoutesLimit) {
  // Past the first relay buffer (64 KiB) the upstream is already open and the body streams:
  // the limit still holds for the chunks read after that.
  ScriptedUpstream upstream([](int, int, const TestRequest& request) {
    return Answer("got " + std::to_string(request.body().size()));
  });
  AddService("svc", {upstream.port()});
  AddRoute("/exact", "svc", 150000);
  AddRoute("/under", "svc", 120000);
  Start();
  {
    Client client(port_);
    EXPECT_EQ(client.SendRaw(ChunkedPost("/exact", 150000, 50000)).body(), "got 150000");
  }
  Client client(port_);
  const auto refused = client.SendRaw(ChunkedPost("/under", 150000, 50000));
  EXPECT_EQ(refused.result_int(), 413u);
  EXPECT_FALSE(refused.keep_alive());
  // The upstream got the start of that request, never a complete one.
  const auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/exact");
}

TEST_F(ProxyLoopbackTest, AnOverLimitBodyThatWaitsFor100ContinueIsRefusedAtOnce) {
  ScriptedUpstream upstream([](int, int, const TestRequest&) { return Answer("nope"); });
  AddService("svc", {upstream.port()});
  AddRoute("/upload", "svc", 1000);
  Start();
  Client client(port_);
  // No body follows: the client waits for 100 Continue, which must not come.
  const auto refused = client.SendRaw(
      "POST /upload HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1001\r\n"
      "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(refused.result_int(), 413u);
  EXPECT_FALSE(refused.keep_alive());
  EXPECT_EQ(upstream.connections(), 0);
}

TEST_F(ProxyLoopbackTest, ALimitRaisedLiveAppliesToAnIdleKeepAliveConnection) {
  // The connection waits for its next request under the old table; the request arrives under
  // the new one, which allows its body.
  ScriptedUpstream upstream([](int, int, const TestRequest& request) {
    return Answer("got " + std::to_string(request.body().size()));
  });
  AddService("svc", {upstream.port()});
  AddRoute("/upload", "svc", 100);
  Start();
  Client client(port_);
  EXPECT_EQ(client.Send(Post("/upload", 100)).body(), "got 100");
  config_.mutable_routes(0)->set_max_body_size(5000);
  config_.set_version(2);
  std::string error;
  holder_.Store(RouteTable::Build(config_, 100, &error));
  EXPECT_EQ(client.Send(Post("/upload", 5000)).body(), "got 5000");
  EXPECT_EQ(client.Send(Post("/upload", 5001)).result_int(), 413u);
}

TEST_F(ProxyLoopbackTest, AnswersPipelinedRequestsInOrder) {
  ScriptedUpstream upstream([](int, int, const TestRequest& request) {
    return Answer(std::string(ToStd(request.target())) + ":" + request.body());
  });
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  // Three requests in one write: the gateway reads past the first and must keep the rest.
  const auto first = client.SendRaw(
      "GET /one HTTP/1.1\r\nHost: gw.test\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: gw.test\r\n\r\n");
  EXPECT_EQ(first.body(), "/one:");
  EXPECT_EQ(client.Read().body(), "/two:abc");
  EXPECT_EQ(client.Read().body(), "/three:");
}

TEST_F(ProxyLoopbackTest, KeepsServingTheTableARequestStartedWith) {
  // A new table published while nothing is in flight takes effect on the next request.
  ScriptedUpstream a([](int, int, const TestRequest&) { return Answer("a"); });
  ScriptedUpstream b([](int, int, const TestRequest&) { return Answer("b"); });
  AddService("svc-a", {a.port()});
  AddService("svc-b", {b.port()});
  AddRoute("/api", "svc-a");
  Start();
  Client client(port_);
  EXPECT_EQ(client.Get("/api/payment").body(), "a");
  AddRoute("/api/payment", "svc-b");
  config_.set_version(2);
  std::string error;
  holder_.Store(RouteTable::Build(config_, 100, &error));
  EXPECT_EQ(client.Get("/api/payment").body(), "b");
  EXPECT_EQ(client.Get("/api/order").body(), "a");
}

TEST_F(ProxyLoopbackTest, AResponseWrittenWhileDrainingSaysConnectionClose) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ScriptedUpstream upstream([released](int, int, const TestRequest&) {
    released.wait();  // holds the response until the worker drains
    return Answer("late");
  });
  AddService("svc", {upstream.port()});
  AddRoute("/", "svc");
  Start();
  Client client(port_);
  auto pending = std::async(std::launch::async, [&client] { return client.Get("/x"); });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (upstream.seen().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(upstream.seen().size(), 1u);
  // Queued on the worker before the upstream can answer: the response is framed after it.
  worker_->Drain();
  release.set_value();
  const TestResponse response = pending.get();
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "late");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_EQ(Header(response, "Connection"), "close");
  EXPECT_TRUE(client.ClosedByPeer());
}

// A request on a route with retries counts in its service's retry budget only while its exchange
// lasts: the next request on the connection, after a config swap freed the old service's state,
// must not give a count back to it (ASan: heap-use-after-free when it did).
TEST_F(ProxyLoopbackTest, ARetryBudgetCountEndsWithItsExchange) {
  ScriptedUpstream upstream([](int, int, const TestRequest&) { return Answer("order"); });
  AddService("order-svc", {upstream.port()});
  AddRoute("/api/order", "order-svc");
  config_.mutable_routes(0)->set_retries(1);
  Start();
  Client client(port_);
  EXPECT_EQ(client.Get("/api/order").result_int(), 200u);

  Republish();  // a new state for order-svc: the old table and its service state go
  EXPECT_EQ(client.Get("/api/order").result_int(), 200u);
}

// ---------------------------------------------------------------- aggregate routes

class AggregateLoopbackTest : public ProxyLoopbackTest {
 protected:
  // A route at `path` whose parts are (key, target, path prefix).
  gateway::v1::Route& AddAggregate(
      const std::string& path,
      const std::vector<std::tuple<std::string, std::string, std::string>>& parts) {
    auto* route = config_.add_routes();
    route->set_path(path);
    route->set_match(gateway::v1::MATCH_PREFIX);
    for (const auto& [key, target, prefix] : parts) {
      auto* part = route->add_aggregate();
      part->set_key(key);
      part->set_target(target);
      part->set_path_prefix(prefix);
    }
    return *route;
  }

  static std::string At(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }
};

Action Json(std::string body, unsigned status = 200,
            std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
  Action action;
  action.status = status;
  action.body = std::move(body);
  action.delay = delay;
  return action;
}

TEST_F(AggregateLoopbackTest, MergesThePartsInOrderWithThePathAndQueryCarriedToEach) {
  ScriptedUpstream users([](int, int, const TestRequest&) { return Json(R"({"id":7})"); });
  ScriptedUpstream carts([](int, int, const TestRequest&) { return Json(" [1, 2]\n"); });
  ScriptedUpstream recs([](int, int, const TestRequest&) { return Json(R"("r")"); });
  AddService("users-svc", {users.port()});
  AddService("cart-svc", {carts.port()});
  AddAggregate("/api/home", {{"user", "users-svc", "/users"},
                             {"cart", "cart-svc", "/carts"},
                             {"recs", At(recs.port()), ""}});
  Start();

  Client client(port_);
  TestRequest request{http::verb::get, "/api/home/7?x=1", 11};
  request.set("Accept-Encoding", "gzip");
  request.set("Range", "bytes=0-1");
  request.set("If-None-Match", "\"v1\"");
  const TestResponse response = client.Send(std::move(request));
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(Header(response, "Content-Type"), "application/json");
  EXPECT_EQ(response.body(), "{\"user\":{\"id\":7},\"cart\": [1, 2]\n,\"recs\":\"r\"}");
  EXPECT_EQ(Header(response, "X-Aggregate-Status"), "<absent>");
  EXPECT_EQ(Header(response, "X-Aggregate-Failed"), "<absent>");

  const std::string id = Header(response, "X-Request-Id");
  EXPECT_EQ(id.size(), 32u);
  for (const auto& [upstream, target] :
       {std::pair{&users, "/users/7?x=1"}, {&carts, "/carts/7?x=1"}, {&recs, "/api/home/7?x=1"}}) {
    const auto seen = upstream->seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, target);
    EXPECT_EQ(Header(seen[0].headers, "X-Request-Id"), id);
    EXPECT_EQ(Header(seen[0].headers, "X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(Header(seen[0].headers, "Host"), "gw.test");
    for (const char* dropped : {"Accept-Encoding", "Range", "If-None-Match"}) {
      EXPECT_EQ(Header(seen[0].headers, dropped), "<absent>") << dropped;
    }
  }
  // The parts' connections went back to the pool: the next call reuses them.
  EXPECT_EQ(client.Get("/api/home").result_int(), 200u);
  EXPECT_EQ(users.connections() + carts.connections() + recs.connections(), 3);
  EXPECT_EQ(users.seen().back().target, "/users");
}

TEST_F(AggregateLoopbackTest, ThePartsAreFetchedInParallel) {
  const auto slow = [](int, int, const TestRequest&) { return Json("1", 200, 400ms); };
  ScriptedUpstream a(slow), b(slow), c(slow);
  AddAggregate("/home",
               {{"a", At(a.port()), ""}, {"b", At(b.port()), ""}, {"c", At(c.port()), ""}});
  Start();
  Client client(port_);
  const auto started = std::chrono::steady_clock::now();
  const TestResponse response = client.Get("/home");
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(response.body(), R"({"a":1,"b":1,"c":1})");
  EXPECT_LT(took, 1200ms);  // one after another would take 1.2 s at least
}

TEST_F(AggregateLoopbackTest, AFailedPartIs502NamingItOrNullWithPartial) {
  ScriptedUpstream user([](int, int, const TestRequest&) { return Json(R"({"id":1})"); });
  ScriptedUpstream cart([](int, int, const TestRequest&) { return Json(R"({"e":1})", 500); });
  ScriptedUpstream text([](int, int, const TestRequest&) { return Json("not json"); });
  auto& route = AddAggregate("/home", {{"user", At(user.port()), ""},
                                       {"cart", At(cart.port()), ""},
                                       {"text", At(text.port()), ""}});
  Start();
  Client client(port_);
  TestResponse response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 502u);
  EXPECT_EQ(Header(response, "Content-Type"), "application/json");
  EXPECT_EQ(Header(response, "X-Aggregate-Failed"), "cart, text");
  EXPECT_EQ(response.body(), R"({"error":"aggregate_part_failed","failed":["cart","text"],)"
                             R"("reasons":{"cart":"upstream_5xx","text":"not_json"}})");

  route.set_aggregate_partial(true);
  Republish();
  response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(Header(response, "X-Aggregate-Failed"), "cart, text");
  EXPECT_EQ(response.body(), R"({"user":{"id":1},"cart":null,"text":null})");
}

TEST_F(AggregateLoopbackTest, ASlowPartIs504AtTheAggregateTimeoutOrNullWithPartial) {
  ScriptedUpstream fast([](int, int, const TestRequest&) { return Json("true"); });
  ScriptedUpstream slow([](int, int, const TestRequest&) { return Json("false", 200, 1500ms); });
  auto& route =
      AddAggregate("/home", {{"fast", At(fast.port()), ""}, {"slow", At(slow.port()), ""}});
  route.set_aggregate_timeout_ms(200);
  Start();
  Client client(port_);
  auto started = std::chrono::steady_clock::now();
  TestResponse response = client.Get("/home");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1400ms);
  EXPECT_EQ(response.result_int(), 504u);
  EXPECT_EQ(Header(response, "X-Aggregate-Failed"), "slow");
  EXPECT_EQ(
      response.body(),
      R"({"error":"aggregate_timeout","failed":["slow"],"reasons":{"slow":"aggregate_timeout"}})");

  route.set_aggregate_partial(true);
  Republish();
  response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(Header(response, "X-Aggregate-Failed"), "slow");
  EXPECT_EQ(response.body(), R"({"fast":true,"slow":null})");
}

TEST_F(AggregateLoopbackTest, APartsOwnTimeoutCountsAsTimeToo) {
  ScriptedUpstream slow([](int, int, const TestRequest&) { return Json("1", 200, 1500ms); });
  auto& route = AddAggregate("/home", {{"slow", At(slow.port()), ""}});
  route.set_timeout_ms(200);
  Start();
  Client client(port_);
  const TestResponse response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 504u);
  EXPECT_EQ(
      response.body(),
      R"({"error":"aggregate_timeout","failed":["slow"],"reasons":{"slow":"upstream_timeout"}})");
}

TEST_F(AggregateLoopbackTest, ClientErrorsAreKeptAndNoted) {
  ScriptedUpstream user([](int, int, const TestRequest&) { return Json(R"({"id":1})"); });
  ScriptedUpstream cart(
      [](int, int, const TestRequest&) { return Json(R"({"error":"no cart"})", 404); });
  ScriptedUpstream recs([](int, int, const TestRequest&) { return Json("<html>", 403); });
  AddAggregate("/home", {{"user", At(user.port()), ""},
                         {"cart", At(cart.port()), ""},
                         {"recs", At(recs.port()), ""}});
  Start();
  Client client(port_);
  const TestResponse response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(Header(response, "X-Aggregate-Status"), "cart=404, recs=403");
  EXPECT_EQ(Header(response, "X-Aggregate-Failed"), "<absent>");
  EXPECT_EQ(response.body(), R"({"user":{"id":1},"cart":{"error":"no cart"},"recs":null})");
}

TEST_F(AggregateLoopbackTest, OnlyGetAndHeadAreTaken) {
  ScriptedUpstream user([](int, int, const TestRequest&) { return Json(R"({"id":1})"); });
  AddAggregate("/home", {{"user", At(user.port()), ""}});
  Start();
  Client client(port_);
  TestRequest post{http::verb::post, "/home", 11};
  post.body() = "{}";
  TestResponse response = client.Send(std::move(post));
  EXPECT_EQ(response.result_int(), 405u);
  EXPECT_EQ(Header(response, "Allow"), "GET, HEAD");
  EXPECT_EQ(user.seen().size(), 0u);

  // HEAD: the parts get a GET, the client the length of the answer without it.
  Client head_client(port_);
  response = head_client.Head("/home");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(Header(response, "Content-Length"), "17");  // {"user":{"id":1}}
  EXPECT_EQ(response.body(), "");
  ASSERT_EQ(user.seen().size(), 1u);
  EXPECT_EQ(user.seen()[0].method, "GET");
  EXPECT_EQ(head_client.Get("/home").body(), R"({"user":{"id":1}})");  // nothing was left over
}

TEST_F(AggregateLoopbackTest, APartOverTheBodyLimitFails) {
  ScriptedUpstream big(
      [](int, int, const TestRequest&) { return Json("\"" + std::string(2000, 'x') + "\""); });
  auto& route = AddAggregate("/home", {{"big", At(big.port()), ""}});
  route.set_max_body_size(1000);
  Start();
  Client client(port_);
  const TestResponse response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 502u);
  EXPECT_EQ(
      response.body(),
      R"({"error":"aggregate_part_failed","failed":["big"],"reasons":{"big":"body_too_large"}})");
}

TEST_F(AggregateLoopbackTest, AWorkerOverItsBudgetAnswers503) {
  settings_.aggregate_buffer = 1500;
  ScriptedUpstream big(
      [](int, int, const TestRequest&) { return Json("\"" + std::string(2000, 'x') + "\""); });
  AddAggregate("/home", {{"big", At(big.port()), ""}});
  Start();
  Client client(port_);
  const TestResponse response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response.body(), R"({"error":"aggregate_busy"})");
}

TEST_F(AggregateLoopbackTest, ChunkedPartsAreReadWholeUpToTheLimit) {
  // 100 KB in one chunk: the part's buffer grows from 16 KiB to hold it.
  const std::string big = "[" + std::string(100'000, '1') + "]";
  const std::string at_limit = "\"" + std::string(998, 'x') + "\"";  // 1000 bytes
  const std::string over_limit = "\"" + std::string(999, 'x') + "\"";
  ScriptedUpstream upstream([&](int, int, const TestRequest& request) {
    Action action = Json(request.target() == "/big"     ? big
                         : request.target() == "/exact" ? at_limit
                                                        : over_limit);
    action.chunked = true;
    return action;
  });
  AddAggregate("/big", {{"big", At(upstream.port()), "/big"}});
  AddAggregate("/exact", {{"exact", At(upstream.port()), "/exact"}}).set_max_body_size(1000);
  AddAggregate("/over", {{"over", At(upstream.port()), "/over"}}).set_max_body_size(1000);
  Start();
  Client client(port_);
  TestResponse response = client.Get("/big");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "{\"big\":" + big + "}");
  response = client.Get("/exact");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "{\"exact\":" + at_limit + "}");
  response = client.Get("/over");
  EXPECT_EQ(response.result_int(), 502u);
  EXPECT_EQ(
      response.body(),
      R"({"error":"aggregate_part_failed","failed":["over"],"reasons":{"over":"body_too_large"}})");
}

TEST_F(AggregateLoopbackTest, AClientErrorOverTheLimitIsNullNotAFailure) {
  ScriptedUpstream big(
      [](int, int, const TestRequest&) { return Json("\"" + std::string(2000, 'x') + "\"", 404); });
  AddAggregate("/home", {{"big", At(big.port()), ""}}).set_max_body_size(1000);
  Start();
  Client client(port_);
  const TestResponse response = client.Get("/home");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(Header(response, "X-Aggregate-Status"), "big=404");
  EXPECT_EQ(response.body(), R"({"big":null})");
}

TEST_F(AggregateLoopbackTest, AnExhaustedBudgetAnswersAtOnce) {
  settings_.aggregate_buffer = 1500;
  ScriptedUpstream big(
      [](int, int, const TestRequest&) { return Json("\"" + std::string(2000, 'x') + "\""); });
  ScriptedUpstream slow([](int, int, const TestRequest&) { return Json("1", 200, 2000ms); });
  AddAggregate("/home", {{"big", At(big.port()), ""}, {"slow", At(slow.port()), ""}});
  Start();
  Client client(port_);
  const auto started = std::chrono::steady_clock::now();
  const TestResponse response = client.Get("/home");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);  // not after the slow part
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response.body(), R"({"error":"aggregate_busy"})");
}

}  // namespace
}  // namespace gw
