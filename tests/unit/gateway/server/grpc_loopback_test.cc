// gRPC behind the gateway on loopback: an nghttp2 client → a real Worker → an h2c service
// (protocol UPSTREAM_H2C) served by an nghttp2 server of the test's own. Client and upstream
// run on the test's thread, the worker on its own. Covers the h2c bridge of the exchange
// (server/http2_exchange.h, server/h2c_bridge.h): unary calls, server streaming with trailers,
// interleaved bidirectional messages, 5 MiB both ways, resets from either side, the upstream
// down; and HTTP/1.1 clients to the same service (server/session.h), raw on a socket.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/router/route_table_holder.h"
#include "gateway/server/worker.h"

namespace gw {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Fields = std::vector<std::pair<std::string, std::string>>;

char Pattern(size_t i) { return static_cast<char>('a' + i % 23); }

std::string PatternBody(size_t size) {
  std::string body(size, '\0');
  for (size_t i = 0; i < size; ++i) body[i] = Pattern(i);
  return body;
}

std::vector<nghttp2_nv> Nv(Fields& fields) {
  std::vector<nghttp2_nv> nva;
  for (auto& [n, v] : fields) {
    nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                   n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nva;
}

// What one side of the test queues for a stream's body: bytes, then the end, maybe trailers.
struct Outgoing {
  std::string data;
  size_t offset = 0;
  bool end = false;
  Fields trailers;
};

ssize_t ReadOutgoing(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                     uint32_t* flags, nghttp2_data_source* source, void*) {
  auto& out = *static_cast<Outgoing*>(source->ptr);
  const size_t n = std::min(length, out.data.size() - out.offset);
  std::copy_n(out.data.data() + out.offset, n, buf);
  out.offset += n;
  if (out.offset == out.data.size()) {
    out.data.clear();
    out.offset = 0;
    if (!out.end) return n > 0 ? static_cast<ssize_t>(n) : ssize_t{NGHTTP2_ERR_DEFERRED};
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!out.trailers.empty()) {
      auto nva = Nv(out.trailers);
      nghttp2_submit_trailer(session, id, nva.data(), nva.size());
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  }
  return static_cast<ssize_t>(n);
}

// One nghttp2 session on a socket of the test's io_context; the client and the upstream
// differ only in what they do with frames.
class Peer : public std::enable_shared_from_this<Peer> {
 public:
  struct Stream {
    int status = 0;
    std::map<std::string, std::string> headers, trailers;
    std::string body;
    Outgoing out;
    bool closed = false;
    uint32_t error_code = 0;
    bool ended = false;  // the peer's END_STREAM
  };

  explicit Peer(tcp::socket socket) : socket_(std::move(socket)) {}
  virtual ~Peer() { nghttp2_session_del(session_); }

  void Start(bool server) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Peer::OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Peer::OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Peer::OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Peer::OnStreamClose);
    if (server) {
      nghttp2_session_server_new(&session_, cb, this);
    } else {
      nghttp2_session_client_new(&session_, cb, this);
    }
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
    Read();
    Flush();
  }

  // Queues body bytes (and the end, with trailers) on stream `id`.
  void Send(int32_t id, const std::string& data, bool end = false, Fields trailers = {}) {
    Outgoing& out = streams_[id].out;
    out.data += data;
    out.end = end;
    out.trailers = std::move(trailers);
    nghttp2_session_resume_data(session_, id);
    Flush();
  }
  void Reset(int32_t id, uint32_t code) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
    Flush();
  }
  Stream& stream(int32_t id) { return streams_[id]; }
  bool done(int32_t id) const {
    const auto it = streams_.find(id);
    return it != streams_.end() && it->second.closed;
  }

 protected:
  virtual void OnRequest(int32_t) {}
  virtual void OnBody(int32_t) {}
  virtual void OnEnd(int32_t) {}

  nghttp2_data_provider Provider(int32_t id) {
    nghttp2_data_provider provider{};
    provider.source.ptr = &streams_[id].out;
    provider.read_callback = &ReadOutgoing;
    return provider;
  }
  void Flush() {
    if (writing_ || eof_ || in_recv_) return;  // after mem_recv: Read flushes
    out_.clear();
    const uint8_t* data = nullptr;
    ssize_t n = 0;
    while (out_.size() < 256 * 1024 && (n = nghttp2_session_mem_send(session_, &data)) > 0) {
      out_.insert(out_.end(), data, data + n);
    }
    if (out_.empty()) return;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (!ec) self->Flush();
                      });
  }

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Stream> streams_;

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(in_), [self = shared_from_this()](
                                                   const boost::system::error_code& ec, size_t n) {
      if (ec) {
        self->eof_ = true;
        return;
      }
      self->in_recv_ = true;
      const ssize_t used = nghttp2_session_mem_recv(self->session_, self->in_.data(), n);
      self->in_recv_ = false;
      if (used < 0) {
        self->eof_ = true;
        return;
      }
      self->Flush();
      self->Read();
    });
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto& s = static_cast<Peer*>(user)->streams_[frame->hd.stream_id];
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      s.status = std::stoi(v);
    } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
      s.trailers[n] = v;
    } else {
      s.headers[n] = v;
    }
    return 0;
  }
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& self = *static_cast<Peer*>(user);
    const int32_t id = frame->hd.stream_id;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      self.OnRequest(id);
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      self.streams_[id].ended = true;
      self.OnEnd(id);
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    auto& self = *static_cast<Peer*>(user);
    self.streams_[id].body.append(reinterpret_cast<const char*>(data), len);
    self.OnBody(id);
    return 0;
  }
  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* user) {
    auto& s = static_cast<Peer*>(user)->streams_[id];
    s.closed = true;
    s.error_code = code;
    return 0;
  }

  tcp::socket socket_;
  std::array<uint8_t, 16384> in_;
  std::vector<uint8_t> out_;
  bool writing_ = false;
  bool eof_ = false;
  bool in_recv_ = false;
};

class Client : public Peer {
 public:
  using Peer::Peer;
  // A gRPC call to `path` (of `content_type`); `body` is sent at once, the request ends with it
  // when `end`.
  int32_t Call(const std::string& path, const std::string& body, bool end,
               const std::string& content_type = "application/grpc") {
    Fields fields = {{":method", "POST"},
                     {":scheme", "http"},
                     {":authority", "grpc.test"},
                     {":path", path},
                     {"content-type", content_type},
                     {"te", "trailers"}};
    auto nva = Nv(fields);
    const auto next = static_cast<int32_t>(nghttp2_session_get_next_stream_id(session_));
    Outgoing& out = streams_[next].out;
    out.data = body;
    out.end = end;
    const nghttp2_data_provider provider = Provider(next);
    const int32_t id =
        nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, nullptr);
    EXPECT_EQ(id, next);
    Flush();
    return id;
  }
};

// An h2c upstream: /unary answers the whole request body back with grpc-status 0; /stream/N
// sends N messages then trailers; /bidi echoes each piece as it comes and ends after the
// request; /notfound answers trailers-only grpc-status 5; /reset resets the stream at once;
// /reset-mid answers a header and one message, and resets at the request's end; /hang never
// answers; /refused is refused (REFUSED_STREAM) on the first connection, unary on the others.
class Upstream : public Peer {
 public:
  Upstream(tcp::socket socket, bool first) : Peer(std::move(socket)), first_(first) {}

 protected:
  void OnRequest(int32_t id) override {
    Stream& s = streams_[id];
    const std::string& path = s.headers[":path"];
    paths_[id] = path;
    if (path == "/svc/Refused" && first_) return Reset(id, NGHTTP2_REFUSED_STREAM);
    if (path == "/svc/Reset") return Reset(id, NGHTTP2_INTERNAL_ERROR);
    if (path == "/svc/NotFound") {
      Fields fields = {{":status", "200"},
                       {"content-type", "application/grpc"},
                       {"grpc-status", "5"},
                       {"grpc-message", "no such thing"}};
      auto nva = Nv(fields);
      nghttp2_submit_response(session_, id, nva.data(), nva.size(), nullptr);
      return Flush();
    }
    // Answered at the end, or never.
    if (path == "/svc/Unary" || path == "/svc/Refused" || path == "/svc/Hang") return;
    Respond(id);
    if (path.starts_with("/svc/Stream/")) {
      const int count = std::stoi(path.substr(12));
      for (int i = 0; i < count; ++i) Send(id, "message" + std::to_string(i) + ";");
      return Send(id, "", true, {{"grpc-status", "0"}, {"grpc-message", "streamed"}});
    }
    if (path == "/svc/ResetMid") Send(id, "first;");
  }
  void OnBody(int32_t id) override {
    if (paths_[id] != "/svc/Bidi") return;
    Stream& s = streams_[id];
    Send(id, s.body);
    s.body.clear();
  }
  void OnEnd(int32_t id) override {
    const std::string& path = paths_[id];
    if (path == "/svc/Unary" || (path == "/svc/Refused" && !first_)) {
      Respond(id);
      return Send(id, streams_[id].body, true, {{"grpc-status", "0"}});
    }
    if (path == "/svc/Bidi") Send(id, "", true, {{"grpc-status", "0"}});
    if (path == "/svc/ResetMid") Reset(id, NGHTTP2_INTERNAL_ERROR);
  }

 private:
  void Respond(int32_t id) {
    Fields fields = {{":status", "200"}, {"content-type", "application/grpc"}};
    auto nva = Nv(fields);
    const nghttp2_data_provider provider = Provider(id);
    nghttp2_submit_response(session_, id, nva.data(), nva.size(), &provider);
    Flush();
  }

  std::map<int32_t, std::string> paths_;
  bool first_;  // the test's first upstream connection
};

class GrpcLoopbackTest : public ::testing::Test {
 protected:
  GrpcLoopbackTest() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    settings_.upstream_timeout = 2s;
    settings_.connect_timeout = 1s;
    Accept();
  }
  ~GrpcLoopbackTest() override {
    if (worker_) {
      worker_->Drain();
      EXPECT_TRUE(worker_->WaitUntilDrained(std::chrono::steady_clock::now() + 5s));
      worker_->Stop();
      worker_->Join();
    }
  }

  // `edit` changes the service's config (limits, ejection) before the table is built.
  void Start(uint16_t port = 0, const std::function<void(gateway::v1::Service&)>& edit = {}) {
    auto* service = config_.add_services();
    service->set_name("grpc");
    service->set_protocol(gateway::v1::UPSTREAM_H2C);
    auto* endpoint = service->add_endpoints();
    endpoint->set_host("127.0.0.1");
    endpoint->set_port(port != 0 ? port : acceptor_.local_endpoint().port());
    auto* route = config_.add_routes();
    route->set_path("/svc");
    route->set_match(gateway::v1::MATCH_PREFIX);
    route->set_target("grpc");
    if (edit) edit(*service);
    config_.set_version(1);
    std::string error;
    auto table = RouteTable::Build(config_, 100, &error);
    ASSERT_TRUE(table) << error;
    holder_.Store(std::move(table));
    worker_ = std::make_unique<Worker>(settings_, holder_);
    worker_->Observe(metrics_, nullptr);
    http2::ConnectionSettings h2;
    h2.drain_delay = 10ms;
    worker_->ConfigureHttp2(h2);
    ASSERT_FALSE(worker_->Listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), false));
    worker_->Start();
    tcp::socket socket(io_);
    socket.connect({asio::ip::address_v4::loopback(), worker_->local_endpoint().port()});
    socket.set_option(tcp::no_delay(true));
    client_ = std::make_shared<Client>(std::move(socket));
    client_->Start(false);
  }

  // A gRPC call (or a request of `content_type`); `body` goes at once and, with `end`, ends
  // the request.
  int32_t Call(const std::string& path, const std::string& body, bool end = true,
               const std::string& content_type = "application/grpc") {
    return client_->Call(path, body, end, content_type);
  }

  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(5ms);
      io_.restart();
    }
    return true;
  }

  Upstream& upstream() { return *upstreams_.at(0); }

  ProxySettings settings_;
  WorkerMetrics metrics_;
  gateway::v1::Config config_;
  RouteTableHolder holder_;
  std::unique_ptr<Worker> worker_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Upstream>> upstreams_;
  std::shared_ptr<Client> client_;

 private:
  void Accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      auto upstream = std::make_shared<Upstream>(std::move(socket), upstreams_.empty());
      upstream->Start(true);
      upstreams_.push_back(upstream);
      Accept();
    });
  }
};

TEST_F(GrpcLoopbackTest, UnaryCallPassesTheMessageAndTrailers) {
  Start();
  const int32_t id = Call("/svc/Unary", "hello");
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  auto& response = client_->stream(id);
  EXPECT_EQ(response.error_code, 0U);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["content-type"], "application/grpc");
  EXPECT_FALSE(response.headers["x-request-id"].empty());
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(response.trailers["grpc-status"], "0");
  auto& seen = upstream().stream(1);
  EXPECT_EQ(seen.headers["te"], "trailers");
  EXPECT_EQ(seen.headers[":authority"], "grpc.test");
  EXPECT_EQ(seen.headers[":path"], "/svc/Unary");
  EXPECT_FALSE(seen.headers["x-request-id"].empty());
}

TEST_F(GrpcLoopbackTest, RequestTrailersGoUpstream) {
  Start();
  const int32_t id = Call("/svc/Unary", "hello", false);
  client_->Send(id, "", true, {{"x-digest", "sha-256=x"}, {"x-consumer", "evil"}});
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  EXPECT_EQ(client_->stream(id).body, "hello");
  auto& seen = upstream().stream(1);
  EXPECT_EQ(seen.trailers["x-digest"], "sha-256=x");
  EXPECT_EQ(seen.trailers.count("x-consumer"), 0U);  // never a trailer
}

TEST_F(GrpcLoopbackTest, ServerStreamingEndsWithTheUpstreamsTrailers) {
  Start();
  const int32_t id = Call("/svc/Stream/50", "");
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  auto& response = client_->stream(id);
  EXPECT_EQ(response.error_code, 0U);
  std::string expected;
  for (int i = 0; i < 50; ++i) expected += "message" + std::to_string(i) + ";";
  EXPECT_EQ(response.body, expected);
  EXPECT_EQ(response.trailers["grpc-status"], "0");
  EXPECT_EQ(response.trailers["grpc-message"], "streamed");
}

TEST_F(GrpcLoopbackTest, BidirectionalMessagesInterleave) {
  Start();
  const int32_t id = Call("/svc/Bidi", "ping0;", false);
  for (int i = 0; i < 20; ++i) {
    // Each message comes back before the next one goes: neither side waits for the other's end.
    const std::string expected = "ping" + std::to_string(i) + ";";
    ASSERT_TRUE(RunUntil([&] { return client_->stream(id).body == expected; }, 5s)) << i;
    client_->stream(id).body.clear();
    client_->Send(id, "ping" + std::to_string(i + 1) + ";", i == 19);
  }
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  auto& response = client_->stream(id);
  EXPECT_EQ(response.error_code, 0U);
  EXPECT_EQ(response.body, "ping20;");
  EXPECT_EQ(response.trailers["grpc-status"], "0");
}

TEST_F(GrpcLoopbackTest, ACallInFlightWhenTheWorkerDrainsFinishes) {
  Start();
  const int32_t id = Call("/svc/Bidi", "ping0;", false);
  ASSERT_TRUE(RunUntil([&] { return client_->stream(id).body == "ping0;"; }, 5s));
  worker_->Drain();
  client_->stream(id).body.clear();
  client_->Send(id, "ping1;", true);
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  auto& response = client_->stream(id);
  EXPECT_EQ(response.error_code, 0U);
  EXPECT_EQ(response.body, "ping1;");
  EXPECT_EQ(response.trailers["grpc-status"], "0");
  // Then the worker's thread ends: the h2c connection closed once its call ended.
  EXPECT_TRUE(
      RunUntil([&] { return worker_->WaitUntilDrained(std::chrono::steady_clock::now()); }, 5s));
}

TEST_F(GrpcLoopbackTest, FiveMebibytesGoBothWaysInConstantMemory) {
  Start();
  const std::string body = PatternBody(size_t{5} << 20);
  const int32_t unary = Call("/svc/Unary", body);
  const int32_t bidi = Call("/svc/Bidi", body);
  ASSERT_TRUE(RunUntil([&] { return client_->done(unary) && client_->done(bidi); }));
  for (const int32_t id : {unary, bidi}) {
    auto& response = client_->stream(id);
    EXPECT_EQ(response.error_code, 0U);
    EXPECT_EQ(response.body.size(), body.size());
    EXPECT_TRUE(response.body == body);
    EXPECT_EQ(response.trailers["grpc-status"], "0");
  }
}

TEST_F(GrpcLoopbackTest, ATrailersOnlyAnswerPassesAsOne) {
  Start();
  const int32_t id = Call("/svc/NotFound", "x");
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  auto& response = client_->stream(id);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["grpc-status"], "5");
  EXPECT_EQ(response.headers["grpc-message"], "no such thing");
  EXPECT_TRUE(response.body.empty());
  EXPECT_TRUE(response.trailers.empty());
}

TEST_F(GrpcLoopbackTest, AClientResetCancelsTheUpstreamStream) {
  Start();
  const int32_t id = Call("/svc/Hang", "x", false);
  ASSERT_TRUE(RunUntil([&] { return !upstreams_.empty() && upstream().stream(1).body == "x"; }));
  client_->Reset(id, NGHTTP2_CANCEL);
  ASSERT_TRUE(RunUntil([&] { return upstream().done(1); }));
  EXPECT_EQ(upstream().stream(1).error_code, uint32_t{NGHTTP2_CANCEL});
  // The connection stays for the next call.
  const int32_t next = Call("/svc/Unary", "again");
  ASSERT_TRUE(RunUntil([&] { return client_->done(next); }));
  EXPECT_EQ(client_->stream(next).body, "again");
  EXPECT_EQ(upstreams_.size(), 1U);
}

TEST_F(GrpcLoopbackTest, AnUpstreamResetIsUnavailableOrAReset) {
  Start();
  const int32_t before = Call("/svc/Reset", "x");
  const int32_t during = Call("/svc/ResetMid", "x", false);
  ASSERT_TRUE(RunUntil([&] { return client_->stream(during).body == "first;"; }));
  client_->Send(during, "", true);
  ASSERT_TRUE(RunUntil([&] { return client_->done(before) && client_->done(during); }));
  // Nothing was answered yet: a gRPC-shaped 502, UNAVAILABLE.
  auto& early = client_->stream(before);
  EXPECT_EQ(early.error_code, 0U);
  EXPECT_EQ(early.status, 200);
  EXPECT_EQ(early.headers["grpc-status"], "14");
  // The header and a message went: only a reset tells the client.
  auto& late = client_->stream(during);
  EXPECT_EQ(late.status, 200);
  EXPECT_EQ(late.error_code, uint32_t{NGHTTP2_INTERNAL_ERROR});
  EXPECT_TRUE(late.trailers.empty());
}

TEST_F(GrpcLoopbackTest, ARefusedStreamIsSentAgainOnAnotherConnection) {
  Start();
  const std::string message = PatternBody(10000);  // within what the client's window keeps
  const int32_t id = Call("/svc/Refused", message);
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  auto& response = client_->stream(id);
  EXPECT_EQ(response.error_code, 0U);
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.body == message);
  EXPECT_EQ(response.trailers["grpc-status"], "0");
  ASSERT_EQ(upstreams_.size(), 2U);
  EXPECT_EQ(upstreams_[0]->stream(1).error_code, uint32_t{NGHTTP2_REFUSED_STREAM});
}

TEST_F(GrpcLoopbackTest, AnH2cConnectionCountsAndHoldsAPlaceUnderMaxConnections) {
  Start(0, [](gateway::v1::Service& service) { service.set_max_connections(1); });
  const int32_t hang = Call("/svc/Hang", "x", false);
  ASSERT_TRUE(RunUntil([&] { return !upstreams_.empty() && upstream().stream(1).body == "x"; }));
  EXPECT_EQ(metrics_.upstream_connections.Load(), 1);
  // Another stream on the same connection needs no place.
  const int32_t unary = Call("/svc/Unary", "hello");
  ASSERT_TRUE(RunUntil([&] { return client_->done(unary); }));
  EXPECT_EQ(client_->stream(unary).body, "hello");
  // A new connection does: the refused call cannot have one while the first is open.
  const int32_t refused = Call("/svc/Refused", "x");
  ASSERT_TRUE(RunUntil([&] { return client_->done(refused); }));
  auto& answer = client_->stream(refused);
  EXPECT_EQ(answer.headers["grpc-status"], "14");
  EXPECT_EQ(answer.headers["x-circuit-breaker"], "max_connections");
  EXPECT_EQ(upstreams_.size(), 1U);
  EXPECT_EQ(metrics_.upstream_connections.Load(), 1);
  client_->Reset(hang, NGHTTP2_CANCEL);
}

TEST_F(GrpcLoopbackTest, AResetBeforeTheHeaderEjectsTheEndpointPassively) {
  Start(0, [](gateway::v1::Service& service) {
    service.set_eject_after(1);
    service.set_eject_for_ms(60000);
  });
  const int32_t reset = Call("/svc/Reset", "x");
  ASSERT_TRUE(RunUntil([&] { return client_->done(reset); }));
  EXPECT_EQ(client_->stream(reset).headers["grpc-status"], "14");
  // Ejected: the next call finds no endpoint and never reaches the upstream.
  const int32_t next = Call("/svc/Unary", "hello");
  ASSERT_TRUE(RunUntil([&] { return client_->done(next); }));
  EXPECT_EQ(client_->stream(next).headers["grpc-status"], "14");
  EXPECT_FALSE(upstream().done(3));
  EXPECT_EQ(upstream().stream(3).headers.count(":path"), 0U);
}

TEST_F(GrpcLoopbackTest, AnAnsweredCallKeepsTheEndpointIn) {
  Start(0, [](gateway::v1::Service& service) {
    service.set_eject_after(2);
    service.set_eject_for_ms(60000);
  });
  // Failure, success, failure: never two in a row.
  for (const char* path : {"/svc/Reset", "/svc/Unary", "/svc/Reset"}) {
    const int32_t id = Call(path, "x");
    ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  }
  const int32_t last = Call("/svc/Unary", "again");
  ASSERT_TRUE(RunUntil([&] { return client_->done(last); }));
  EXPECT_EQ(client_->stream(last).body, "again");
}

TEST_F(GrpcLoopbackTest, AnUpstreamDownIsUnavailable) {
  tcp::acceptor closed(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = closed.local_endpoint().port();
  closed.close();
  Start(port);
  const int32_t id = Call("/svc/Unary", "x");
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  auto& response = client_->stream(id);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["content-type"], "application/grpc");
  EXPECT_EQ(response.headers["grpc-status"], "14");
}

TEST_F(GrpcLoopbackTest, AQuietStreamOutlivesTheUpstreamTimeoutButNotTheRoutesTimeout) {
  settings_.upstream_timeout = 200ms;
  Start();
  // The response header came: from then on, silence is bounded by the route's timeout alone.
  const int32_t id = Call("/svc/Bidi", "a;", false);
  ASSERT_TRUE(RunUntil([&] { return client_->stream(id).body == "a;"; }));
  io_.run_for(600ms);
  io_.restart();
  EXPECT_FALSE(client_->done(id));
  client_->Send(id, "b;", true);
  ASSERT_TRUE(RunUntil([&] { return client_->done(id); }));
  EXPECT_EQ(client_->stream(id).body, "a;b;");
  EXPECT_EQ(client_->stream(id).trailers["grpc-status"], "0");
  // No response header within --upstream-timeout: DEADLINE_EXCEEDED.
  const int32_t hang = Call("/svc/Hang", "x");
  ASSERT_TRUE(RunUntil([&] { return client_->done(hang); }));
  EXPECT_EQ(client_->stream(hang).headers["grpc-status"], "4");
}

TEST_F(GrpcLoopbackTest, OnlyANonGrpcRequestBodyKeepsToTheBodyTimeout) {
  settings_.body_timeout = 200ms;
  Start();
  const int32_t grpc = Call("/svc/Hang", "x", false);
  ASSERT_TRUE(RunUntil([&] { return !upstreams_.empty() && upstream().stream(1).body == "x"; }));
  const int32_t plain = Call("/svc/Hang", "x", false, "application/json");
  ASSERT_TRUE(RunUntil([&] { return client_->done(plain); }));
  EXPECT_EQ(client_->stream(plain).status, 408);
  ASSERT_TRUE(RunUntil([&] { return upstream().done(3); }));
  EXPECT_EQ(upstream().stream(3).error_code, uint32_t{NGHTTP2_CANCEL});
  // The gRPC stream, as quiet for as long, goes on.
  EXPECT_FALSE(client_->done(grpc));
  EXPECT_FALSE(upstream().done(1));
}

// An HTTP/1.1 response read whole: head, then the body (de-chunked) and the trailer lines.
struct Http1Response {
  std::string head;
  std::string body;
  std::string trailers;
  bool complete = false;  // its framing said where it ends, and it got there
};

Http1Response ParseHttp1(const std::string& wire) {
  Http1Response response;
  const size_t head_end = wire.find("\r\n\r\n");
  if (head_end == std::string::npos) return response;
  response.head = wire.substr(0, head_end + 2);
  size_t at = head_end + 4;
  if (response.head.find("Transfer-Encoding: chunked") == std::string::npos) {
    response.body = wire.substr(at);
    response.complete = true;
    return response;
  }
  while (true) {
    const size_t line_end = wire.find("\r\n", at);
    if (line_end == std::string::npos) return response;
    const size_t size = std::stoul(wire.substr(at, line_end - at), nullptr, 16);
    at = line_end + 2;
    if (size == 0) break;
    if (wire.size() < at + size + 2) return response;
    response.body += wire.substr(at, size);
    at += size + 2;
  }
  const size_t end = wire.find("\r\n\r\n", at - 2);
  if (end == std::string::npos) return response;
  response.trailers = wire.substr(at, end + 2 - at);
  response.complete = true;
  return response;
}

class Http1ToH2cTest : public GrpcLoopbackTest {
 protected:
  // `request` on a connection of its own, written whole; the answer read until the gateway
  // closes the connection (the requests say Connection: close).
  std::string Exchange(const std::string& request) {
    tcp::socket socket(io_);
    socket.connect({asio::ip::address_v4::loopback(), worker_->local_endpoint().port()});
    std::string response;
    bool done = false;
    asio::async_write(socket, asio::buffer(request),
                      [](const boost::system::error_code&, size_t) {});
    asio::async_read(socket, asio::dynamic_buffer(response),
                     [&](const boost::system::error_code&, size_t) { done = true; });
    EXPECT_TRUE(RunUntil([&] { return done; }));
    return response;
  }

  std::array<char, 16384> in_;
};

std::string Chunked(const std::string& body, size_t piece, const std::string& trailers = {}) {
  std::string out;
  char line[32];
  for (size_t at = 0; at < body.size(); at += piece) {
    const size_t n = std::min(piece, body.size() - at);
    out.append(line, static_cast<size_t>(std::snprintf(line, sizeof line, "%zx\r\n", n)));
    out.append(body, at, n).append("\r\n");
  }
  return out + "0\r\n" + trailers + "\r\n";
}

TEST_F(Http1ToH2cTest, AUnaryCallGetsTheMessageAndTheTrailersWhenItTakesThem) {
  Start();
  const auto response = ParseHttp1(
      Exchange("POST /svc/Unary HTTP/1.1\r\nHost: grpc.test\r\nContent-Type: application/grpc\r\n"
               "TE: trailers\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"));
  ASSERT_TRUE(response.complete) << response.head;
  EXPECT_TRUE(response.head.starts_with("HTTP/1.1 200")) << response.head;
  EXPECT_NE(response.head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(response.head.find("X-Request-Id"), std::string::npos) << response.head;
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(response.trailers, "grpc-status: 0\r\n");
  auto& seen = upstream().stream(1);
  EXPECT_EQ(seen.headers[":method"], "POST");
  EXPECT_EQ(seen.headers[":authority"], "grpc.test");
  EXPECT_EQ(seen.headers[":path"], "/svc/Unary");
  EXPECT_EQ(seen.headers["te"], "trailers");
  EXPECT_EQ(seen.headers["x-forwarded-for"], "127.0.0.1");
  EXPECT_EQ(seen.headers.count("connection"), 0U);
  EXPECT_EQ(seen.body, "hello");
}

TEST_F(Http1ToH2cTest, TrailersAreDroppedForAClientThatDoesNotTakeThem) {
  Start();
  const auto response =
      ParseHttp1(Exchange("POST /svc/Unary HTTP/1.1\r\nHost: grpc.test\r\nContent-Length: 2\r\n"
                          "Connection: close\r\n\r\nhi"));
  ASSERT_TRUE(response.complete) << response.head;
  EXPECT_TRUE(response.head.starts_with("HTTP/1.1 200")) << response.head;
  EXPECT_EQ(response.body, "hi");
  EXPECT_TRUE(response.trailers.empty()) << response.trailers;
}

TEST_F(Http1ToH2cTest, AGetAndAnEmptyPostHaveNoBodyUpstream) {
  Start();
  const auto get = ParseHttp1(
      Exchange("GET /svc/NotFound HTTP/1.1\r\nHost: grpc.test\r\nConnection: close\r\n\r\n"));
  // A trailers-only answer: its fields in the head, an empty body.
  EXPECT_TRUE(get.head.starts_with("HTTP/1.1 200")) << get.head;
  EXPECT_NE(get.head.find("grpc-status: 5"), std::string::npos) << get.head;
  EXPECT_NE(get.head.find("Content-Length: 0"), std::string::npos) << get.head;
  EXPECT_TRUE(get.body.empty());
  const auto post =
      ParseHttp1(Exchange("POST /svc/Unary HTTP/1.1\r\nHost: grpc.test\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n"));
  ASSERT_TRUE(post.complete);
  EXPECT_TRUE(post.head.starts_with("HTTP/1.1 200")) << post.head;
  EXPECT_TRUE(post.body.empty());
  ASSERT_EQ(upstreams_.size(), 1U);  // one connection for both
  EXPECT_TRUE(upstream().stream(1).ended);
  EXPECT_TRUE(upstream().stream(3).ended);
  EXPECT_TRUE(upstream().stream(3).body.empty());
}

TEST_F(Http1ToH2cTest, FiveMebibytesGoBothWaysChunkedOrWithALength) {
  Start();
  const std::string body = PatternBody(size_t{5} << 20);
  const auto sized =
      ParseHttp1(Exchange("POST /svc/Unary HTTP/1.1\r\nHost: grpc.test\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body));
  ASSERT_TRUE(sized.complete) << sized.head;
  EXPECT_EQ(sized.body.size(), body.size());
  EXPECT_TRUE(sized.body == body);
  const auto chunked = ParseHttp1(
      Exchange("POST /svc/Bidi HTTP/1.1\r\nHost: grpc.test\r\nTransfer-Encoding: chunked\r\n"
               "TE: trailers\r\nConnection: close\r\n\r\n" +
               Chunked(body, 10000, "x-digest: sha-256=x\r\n")));
  ASSERT_TRUE(chunked.complete) << chunked.head;
  EXPECT_EQ(chunked.body.size(), body.size());
  EXPECT_TRUE(chunked.body == body);
  EXPECT_EQ(chunked.trailers, "grpc-status: 0\r\n");
  // The chunked upload's trailers went upstream as HTTP/2 trailers.
  EXPECT_EQ(upstream().stream(3).trailers["x-digest"], "sha-256=x");
}

TEST_F(Http1ToH2cTest, AnUpstreamResetIsA502BeforeTheHeaderAndACutAfterIt) {
  Start();
  const auto early =
      ParseHttp1(Exchange("POST /svc/Reset HTTP/1.1\r\nHost: grpc.test\r\nContent-Length: 1\r\n"
                          "Connection: close\r\n\r\nx"));
  EXPECT_TRUE(early.head.starts_with("HTTP/1.1 502")) << early.head;
  // /svc/ResetMid answers a header and a message, and resets at the request's end.
  tcp::socket socket(io_);
  socket.connect({asio::ip::address_v4::loopback(), worker_->local_endpoint().port()});
  asio::write(socket, asio::buffer(std::string(
                          "POST /svc/ResetMid HTTP/1.1\r\nHost: grpc.test\r\n"
                          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n")));
  std::string wire;
  bool done = false;
  std::function<void()> read = [&] {
    socket.async_read_some(asio::buffer(in_), [&](const boost::system::error_code& ec, size_t n) {
      wire.append(in_.data(), n);
      if (ec) {
        done = true;
        return;
      }
      read();
    });
  };
  read();
  ASSERT_TRUE(RunUntil([&] { return wire.find("first;") != std::string::npos; })) << wire;
  asio::write(socket, asio::buffer(std::string("0\r\n\r\n")));
  ASSERT_TRUE(RunUntil([&] { return done; }));
  const auto late = ParseHttp1(wire);
  EXPECT_TRUE(late.head.starts_with("HTTP/1.1 200")) << late.head;
  EXPECT_FALSE(late.complete);  // no last chunk: the body is cut, not whole
}

TEST_F(Http1ToH2cTest, KeepAliveCarriesTheNextRequest) {
  Start();
  tcp::socket socket(io_);
  socket.connect({asio::ip::address_v4::loopback(), worker_->local_endpoint().port()});
  const std::string request =
      "POST /svc/Unary HTTP/1.1\r\nHost: grpc.test\r\nContent-Length: 3\r\n\r\none";
  std::string wire;
  bool done = false;
  asio::async_write(socket, asio::buffer(request + request.substr(0, request.size() - 3) + "two"),
                    [](const boost::system::error_code&, size_t) {});
  std::function<void()> read = [&] {
    socket.async_read_some(asio::buffer(in_), [&](const boost::system::error_code& ec, size_t n) {
      wire.append(in_.data(), n);
      if (ec || wire.find("0\r\n\r\n", wire.find("two")) != std::string::npos) {
        done = true;
        return;
      }
      read();
    });
  };
  read();
  ASSERT_TRUE(RunUntil([&] { return done; })) << wire;
  EXPECT_NE(wire.find("one"), std::string::npos) << wire;
  EXPECT_NE(wire.find("two"), std::string::npos) << wire;
  EXPECT_EQ(wire.find("Connection: close"), std::string::npos) << wire;
}

TEST_F(Http1ToH2cTest, AnUpgradeToAnH2cServiceIsTold502) {
  Start();
  const std::string response = Exchange(
      "GET /svc/Unary HTTP/1.1\r\nHost: grpc.test\r\nConnection: Upgrade, close\r\n"
      "Upgrade: websocket\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 502")) << response;
  EXPECT_NE(response.find("h2c"), std::string::npos) << response;
  EXPECT_TRUE(upstreams_.empty());
}

TEST_F(Http1ToH2cTest, AStalledUploadIs408) {
  settings_.body_timeout = 300ms;
  Start();
  const auto response = ParseHttp1(
      Exchange("POST /svc/Unary HTTP/1.1\r\nHost: grpc.test\r\nContent-Length: 10\r\n\r\nabc"));
  EXPECT_TRUE(response.head.starts_with("HTTP/1.1 408")) << response.head;
  ASSERT_TRUE(RunUntil([&] { return upstream().done(1); }));
  EXPECT_EQ(upstream().stream(1).error_code, uint32_t{NGHTTP2_CANCEL});
}

}  // namespace
}  // namespace gw
