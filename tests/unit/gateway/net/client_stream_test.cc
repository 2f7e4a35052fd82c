#include "gateway/net/client_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <csignal>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/net/eager_write.h"
#include "gateway/proxy/body_relay.h"
#include "gateway/proxy/relay_buffers.h"
#include "gateway/proxy/tunnel.h"
#include "gateway/upstream/upstream_pool.h"

namespace gw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Acceptor = asio::basic_socket_acceptor<tcp, NetExecutor>;

constexpr milliseconds kShort{100};
constexpr milliseconds kLoose{20000};  // a bound that only a hang reaches (2 loaded cores, ASan)
// Socket buffers small enough that a few records fill them: writes block, reads find partial
// records (WANT_READ/WANT_WRITE in both directions).
constexpr int kSmallBuffer = 4096;
constexpr size_t kTenMiB = 10 * 1024 * 1024;

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// The gateway's context (a self-signed EC P-256 certificate made here) and the peer's, which
// trusts that certificate and checks it.
struct Contexts {
  SslCtxPtr server;
  SslCtxPtr client;
};

Contexts MakeContexts() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("gateway.test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());

  Contexts contexts{SslCtxPtr(SSL_CTX_new(TLS_server_method())),
                    SslCtxPtr(SSL_CTX_new(TLS_client_method()))};
  SSL_CTX_use_certificate(contexts.server.get(), cert.get());
  SSL_CTX_use_PrivateKey(contexts.server.get(), key.get());
  // No session tickets: a peer closing right after its handshake would leave them unread, and
  // its close would then be a reset, not the FIN a test means.
  SSL_CTX_set_num_tickets(contexts.server.get(), 0);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(contexts.client.get()), cert.get());
  SSL_CTX_set_verify(contexts.client.get(), SSL_VERIFY_PEER, nullptr);
  return contexts;
}

// Deterministic bytes that show a lost, repeated or reordered piece.
std::string Pattern(size_t size) {
  std::string data(size, '\0');
  uint32_t x = 2463534242u;
  for (char& c : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return data;
}

// The other end of a connection: an OpenSSL client (or plain TCP) on a non-blocking socket of
// its own, driven with poll(2) on another thread than the gateway's io_context. Every call
// gives up after kLoose.
class Peer {
 public:
  enum class Io { kOk, kWantRead, kWantWrite, kEof, kFailed };

  // Connects to `port` on loopback (the listen backlog takes it before an accept).
  // `small_buffers`: kSmallBuffer each way, so that the gateway's writes would block.
  Peer(uint16_t port, SSL_CTX* ctx, bool small_buffers = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    for (int option : {SO_SNDBUF, SO_RCVBUF}) {
      if (small_buffers) ::setsockopt(fd_, SOL_SOCKET, option, &kSmallBuffer, sizeof kSmallBuffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    if (!ctx) return;
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    SSL_set_connect_state(ssl_);
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  ~Peer() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }

  bool connected() const { return connected_; }
  SSL* ssl() const { return ssl_; }
  // The peer's close_notify arrived.
  bool got_close_notify() const {
    return ssl_ && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
  }

  bool Handshake() {
    return Drive([&] {
      ERR_clear_error();
      const int result = SSL_do_handshake(ssl_);
      return result == 1 ? Io::kOk : Classify(result);
    });
  }

  // Sends `out` in pieces of `piece` bytes while receiving until `in` holds `want` bytes.
  bool Exchange(std::string_view out, size_t piece, std::string& in, size_t want) {
    return Exchange(out, piece, in, [want](const std::string& in) { return in.size() >= want; });
  }

  // The same, receiving until `enough(in)`.
  bool Exchange(std::string_view out, size_t piece, std::string& in,
                const std::function<bool(const std::string&)>& enough) {
    size_t sent = 0;
    return DriveBoth([&](short& events) {
      for (;;) {
        bool progress = false;
        events = 0;
        if (sent < out.size()) {
          size_t n = 0;
          const Io io = Send(out.data() + sent, std::min(piece, out.size() - sent), n);
          if (io == Io::kOk) {
            sent += n;
            progress = true;
          } else if (!Waits(io, events)) {
            return false;
          }
        }
        if (!enough(in)) {
          char buffer[3001];  // odd: reads end inside records
          size_t n = 0;
          const Io io = Receive(buffer, sizeof buffer, n);
          if (io == Io::kOk) {
            in.append(buffer, n);
            progress = true;
          } else if (!Waits(io, events)) {
            return false;
          }
        }
        if (sent == out.size() && enough(in)) return true;
        if (!progress) return true;  // wait for `events`
      }
    });
  }

  bool Write(std::string_view out) {
    std::string none;
    return Exchange(out, out.size(), none, 0);
  }

  bool Read(std::string& in, size_t want) { return Exchange({}, 0, in, want); }
  bool ReadUntil(std::string& in, const std::function<bool(const std::string&)>& enough) {
    return Exchange({}, 0, in, enough);
  }

  // Reads until the stream ends; true when it ended cleanly (close_notify over TLS, a FIN
  // for plain TCP), false on an error or a timeout.
  bool ReadToEnd(std::string& in) {
    Io end = Io::kOk;
    const bool ended = Drive([&] {
      char buffer[3001];
      size_t n = 0;
      for (;;) {
        const Io io = Receive(buffer, sizeof buffer, n);
        if (io != Io::kOk) {
          end = io;
          return io == Io::kEof ? Io::kOk : io;
        }
        in.append(buffer, n);
      }
    });
    return ended && end == Io::kEof;
  }

  // Sends a close_notify (not waiting for the gateway's).
  bool SendCloseNotify() {
    return Drive([&] {
      ERR_clear_error();
      const int result = SSL_shutdown(ssl_);
      return result >= 0 ? Io::kOk : Classify(result);
    });
  }

  // Ends the TCP connection with a reset (SO_LINGER of 0), without a close_notify.
  void ResetTcp() {
    const linger abort{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(fd_);
    fd_ = -1;
  }

  // Ends the TCP connection without a close_notify.
  void CloseTcp() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  Io Send(const char* data, size_t size, size_t& sent) {
    if (ssl_) {
      ERR_clear_error();
      const int result = SSL_write_ex(ssl_, data, size, &sent);
      return result == 1 ? Io::kOk : Classify(result);
    }
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n >= 0) sent = static_cast<size_t>(n);
    return n >= 0 ? Io::kOk : errno == EAGAIN ? Io::kWantWrite : Io::kFailed;
  }

  Io Receive(char* data, size_t size, size_t& received) {
    if (ssl_) {
      ERR_clear_error();
      const int result = SSL_read_ex(ssl_, data, size, &received);
      return result == 1 ? Io::kOk : Classify(result);
    }
    const ssize_t n = ::recv(fd_, data, size, 0);
    if (n > 0) received = static_cast<size_t>(n);
    return n > 0 ? Io::kOk : n == 0 ? Io::kEof : errno == EAGAIN ? Io::kWantRead : Io::kFailed;
  }

  Io Classify(int result) {
    switch (SSL_get_error(ssl_, result)) {
      case SSL_ERROR_WANT_READ:
        return Io::kWantRead;
      case SSL_ERROR_WANT_WRITE:
        return Io::kWantWrite;
      case SSL_ERROR_ZERO_RETURN:
        return Io::kEof;
      default:
        return Io::kFailed;
    }
  }

  static bool Waits(Io io, short& events) {
    if (io == Io::kWantRead) events |= POLLIN;
    if (io == Io::kWantWrite) events |= POLLOUT;
    return io == Io::kWantRead || io == Io::kWantWrite;
  }

  // Runs `step` until it returns kOk, polling for what it wants in between.
  bool Drive(const std::function<Io()>& step) {
    return DriveBoth([&](short& events) {
      const Io io = step();
      events = 0;
      return io == Io::kOk || Waits(io, events);
    });
  }

  // `step` returns false on failure, and sets `events` to wait for, or none when done.
  bool DriveBoth(const std::function<bool(short&)>& step) {
    const auto deadline = Clock::now() + kLoose;
    for (;;) {
      short events = 0;
      if (!step(events)) return false;
      if (events == 0) return true;
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd poll_fd{fd_, events, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left)) < 0) return false;
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  SSL* ssl_ = nullptr;
};

template <typename T>
bool Ready(const std::future<T>& future) {
  return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

// The gateway's side: an acceptor with small buffers on io_, which the test runs itself.
class ClientStreamTest : public ::testing::Test {
 protected:
  ClientStreamTest() : contexts_(MakeContexts()) {
    std::signal(SIGPIPE, SIG_IGN);  // as main does: OpenSSL writes with write(2)
    acceptor_.open(tcp::v4());
    acceptor_.set_option(asio::socket_base::receive_buffer_size(kSmallBuffer));
    acceptor_.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor_.listen();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // The gateway's end of the connection a Peer made: TLS when `tls`.
  std::unique_ptr<ClientStream> Accept(bool tls) {
    TcpSocket socket = acceptor_.accept();
    socket.set_option(asio::socket_base::send_buffer_size(kSmallBuffer));
    socket.non_blocking(true);
    if (!tls) return std::make_unique<ClientStream>(std::move(socket));
    return std::make_unique<ClientStream>(std::move(socket),
                                          SslPtr(SSL_new(contexts_.server.get())));
  }

  // A TLS connection, handshaken on both sides; the peer is returned ready for its thread.
  std::unique_ptr<ClientStream> Connect(std::unique_ptr<Peer>& peer, bool small_buffers = true) {
    peer = std::make_unique<Peer>(port(), contexts_.client.get(), small_buffers);
    EXPECT_TRUE(peer->connected());
    auto stream = Accept(true);
    auto handshaken = std::async(std::launch::async, [&] { return peer->Handshake(); });
    bool done = false;
    boost::system::error_code error;
    stream->AsyncHandshake(kLoose, [&](boost::system::error_code ec) {
      done = true;
      error = ec;
    });
    EXPECT_TRUE(RunUntil([&] { return done && Ready(handshaken); }));
    EXPECT_FALSE(error) << error.message();
    EXPECT_TRUE(handshaken.get());
    return stream;
  }

  // Runs io_ until `done` or kLoose passed; returns done().
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kLoose;
    while (!done() && Clock::now() < deadline) {
      io_.restart();
      io_.run_for(milliseconds(10));
    }
    return done();
  }

  void RunFor(milliseconds duration) {
    io_.restart();
    io_.run_for(duration);
  }

  Contexts contexts_;
  asio::io_context io_{1};
  Acceptor acceptor_{io_.get_executor()};
};

// Echoes what it reads, in reads of an odd size, until the stream ends.
struct Echo {
  explicit Echo(ClientStream& stream) : stream(stream), buffer(7919) {}

  void Read() {
    stream.async_read_some(asio::buffer(buffer), [this](boost::system::error_code ec, size_t n) {
      if (ec) {
        end = ec;
        done = true;
        return;
      }
      asio::async_write(stream, asio::buffer(buffer.data(), n),
                        [this](boost::system::error_code ec, size_t n) {
                          echoed += n;
                          if (ec) {
                            end = ec;
                            done = true;
                            return;
                          }
                          Read();
                        });
    });
  }

  ClientStream& stream;
  std::vector<char> buffer;
  uint64_t echoed = 0;
  boost::system::error_code end;
  bool done = false;
};

TEST_F(ClientStreamTest, EchoesTenMiBBothWaysOverTls) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  ASSERT_NE(stream->ssl(), nullptr);
  EXPECT_STREQ(SSL_get_version(stream->ssl()), "TLSv1.3");
  const std::string data = Pattern(kTenMiB);
  std::string echoed;
  auto peer_done = std::async(std::launch::async, [&] {
    return peer->Exchange(data, 5003, echoed, data.size()) && peer->SendCloseNotify();
  });
  Echo echo(*stream);
  echo.Read();
  ASSERT_TRUE(RunUntil([&] { return echo.done && Ready(peer_done); }));
  EXPECT_TRUE(peer_done.get());
  EXPECT_EQ(echo.end, asio::error::eof) << echo.end.message();  // the close_notify
  EXPECT_EQ(echo.echoed, data.size());
  EXPECT_TRUE(echoed == data) << "echoed " << echoed.size() << " bytes, not the same";
}

TEST_F(ClientStreamTest, PlainTcpEchoesAsTheTimedSocketDoes) {
  Peer peer(port(), nullptr);
  auto stream = Accept(false);
  EXPECT_EQ(stream->ssl(), nullptr);
  const std::string data = Pattern(1024 * 1024);
  std::string echoed;
  auto peer_done = std::async(std::launch::async, [&] {
    const bool exchanged = peer.Exchange(data, 5003, echoed, data.size());
    peer.CloseTcp();
    return exchanged;
  });
  Echo echo(*stream);
  echo.Read();
  ASSERT_TRUE(RunUntil([&] { return echo.done && Ready(peer_done); }));
  EXPECT_TRUE(peer_done.get());
  EXPECT_EQ(echo.end, asio::error::eof) << echo.end.message();
  EXPECT_EQ(echo.echoed, data.size());
  EXPECT_TRUE(echoed == data);
}

TEST_F(ClientStreamTest, ADeadlineEndsAReadWithATimeoutOnBothPaths) {
  for (const bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "TLS" : "plain");
    std::unique_ptr<Peer> peer;
    std::unique_ptr<ClientStream> stream;
    if (tls) {
      stream = Connect(peer);
    } else {
      peer = std::make_unique<Peer>(port(), nullptr);
      stream = Accept(false);
    }
    const auto start = Clock::now();
    stream->expires_after(kShort);
    bool done = false;
    boost::system::error_code error;
    char buffer[64];
    stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t) {
      done = true;
      error = ec;
    });
    EXPECT_FALSE(done);  // never inside the call
    ASSERT_TRUE(RunUntil([&] { return done; }));
    EXPECT_EQ(error, beast::error::timeout) << error.message();
    EXPECT_GE(Clock::now() - start, kShort);
    EXPECT_TRUE(stream->expired());
    EXPECT_TRUE(stream->socket().is_open());
  }
}

TEST_F(ClientStreamTest, HandshakeWithASilentPeerTimesOut) {
  Peer peer(port(), nullptr);  // connects, never says hello
  auto stream = Accept(true);
  const auto start = Clock::now();
  bool done = false;
  boost::system::error_code error;
  stream->AsyncHandshake(kShort, [&](boost::system::error_code ec) {
    done = true;
    error = ec;
  });
  EXPECT_FALSE(done);
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(error, beast::error::timeout) << error.message();
  EXPECT_GE(Clock::now() - start, kShort);
  EXPECT_LT(Clock::now() - start, kLoose);
}

TEST_F(ClientStreamTest, AHandshakeFailureCarriesOpenSslsReason) {
  Peer peer(port(), nullptr);
  auto stream = Accept(true);
  auto sent = std::async(std::launch::async, [&] {
    return peer.Write("GET / HTTP/1.1\r\nHost: gateway.test\r\n\r\n");  // HTTP to a TLS port
  });
  bool done = false;
  boost::system::error_code error;
  stream->AsyncHandshake(kLoose, [&](boost::system::error_code ec) {
    done = true;
    error = ec;
  });
  ASSERT_TRUE(RunUntil([&] { return done && Ready(sent); }));
  EXPECT_EQ(error.category(), asio::error::get_ssl_category());
  EXPECT_NE(error.message().find("http request"), std::string::npos) << error.message();
  // After a fatal error no close_notify goes out (OpenSSL's rule); Shutdown does not fail.
  stream->Shutdown();
}

TEST_F(ClientStreamTest, ReadsAnHttpRequestAndWritesTheResponseThenCloseNotify) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  const std::string body = Pattern(300 * 1024);
  std::string received;
  bool clean_end = false;
  auto peer_done = std::async(std::launch::async, [&] {
    if (!peer->Write("POST /orders HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 5\r\n\r\n"
                     "hello")) {
      return false;
    }
    clean_end = peer->ReadToEnd(received);
    return true;
  });

  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::response<http::string_body> response;
  boost::system::error_code read_error, write_error, shutdown_error;
  bool done = false;
  http::async_read(*stream, buffer, request, [&](boost::system::error_code ec, size_t) {
    read_error = ec;
    if (ec) return;
    response.result(http::status::ok);
    response.body() = body;
    response.prepare_payload();
    http::async_write(*stream, response, [&](boost::system::error_code ec, size_t) {
      write_error = ec;
      stream->AsyncShutdown(kLoose, [&](boost::system::error_code ec) {
        shutdown_error = ec;
        done = true;
      });
    });
  });
  ASSERT_TRUE(RunUntil([&] { return done && Ready(peer_done); }));
  EXPECT_TRUE(peer_done.get());
  EXPECT_FALSE(read_error) << read_error.message();
  EXPECT_FALSE(write_error) << write_error.message();
  EXPECT_FALSE(shutdown_error) << shutdown_error.message();
  EXPECT_EQ(request.target(), "/orders");
  EXPECT_EQ(request.body(), "hello");
  EXPECT_TRUE(clean_end);  // the close_notify arrived
  EXPECT_TRUE(peer->got_close_notify());

  http::response_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code parse_error;
  parser.put(asio::buffer(received), parse_error);
  ASSERT_FALSE(parse_error) << parse_error.message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().result_int(), 200u);
  EXPECT_TRUE(parser.get().body() == body);
}

TEST_F(ClientStreamTest, EagerWriteOverTlsWaitsForAPeerThatDoesNotReadThenCompletes) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);

  // A small write goes out inside the call.
  const std::string small = "HTTP/1.1 204 No Content\r\n\r\n";
  bool inline_done = false;
  boost::system::error_code inline_error;
  EagerWrite(*stream, WireBuffers{asio::buffer(small)}, kLoose, [&](boost::system::error_code ec) {
    inline_done = true;
    inline_error = ec;
  });
  EXPECT_TRUE(inline_done);
  EXPECT_FALSE(inline_error) << inline_error.message();

  // A head, a chunk-size line, 2 MiB and a CRLF: far more than the socket buffers hold.
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string size_line = "200000\r\n";
  const std::string data = Pattern(2 * 1024 * 1024);
  const std::string crlf = "\r\n";
  bool done = false;
  boost::system::error_code error;
  EagerWrite(*stream,
             WireBuffers{asio::buffer(head), asio::buffer(size_line), asio::buffer(data),
                         asio::buffer(crlf)},
             kLoose, [&](boost::system::error_code ec) {
               done = true;
               error = ec;
             });
  EXPECT_FALSE(done);  // the socket would block: the rest goes asynchronously
  RunFor(kShort);
  EXPECT_FALSE(done);  // the peer reads nothing yet

  const std::string expected = small + head + size_line + data + crlf;
  std::string received;
  auto peer_done =
      std::async(std::launch::async, [&] { return peer->Read(received, expected.size()); });
  ASSERT_TRUE(RunUntil([&] { return done && Ready(peer_done); }));
  EXPECT_TRUE(peer_done.get());
  EXPECT_FALSE(error) << error.message();
  EXPECT_TRUE(received == expected)
      << "received " << received.size() << " of " << expected.size() << " bytes";
}

TEST_F(ClientStreamTest, APeerClosingWithoutCloseNotifyIsATruncation) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  peer->CloseTcp();
  bool done = false;
  boost::system::error_code error;
  char buffer[64];
  stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t) {
    done = true;
    error = ec;
  });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(error, asio::ssl::error::stream_truncated) << error.message();
  stream->Shutdown();  // no close_notify after a fatal error, and no failure
}

TEST_F(ClientStreamTest, WithIgnoreUnexpectedEofAPeerClosingWithoutCloseNotifyIsEof) {
  SSL_CTX_set_options(contexts_.server.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  peer->CloseTcp();
  bool done = false;
  boost::system::error_code error;
  char buffer[64];
  stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t) {
    done = true;
    error = ec;
  });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(error, asio::error::eof) << error.message();
}

TEST_F(ClientStreamTest, ShutdownSendsCloseNotifyOnceAndReadsGoOn) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  stream->Shutdown();
  stream->Shutdown();  // once: a second call sends nothing more
  EXPECT_TRUE(SSL_get_shutdown(stream->ssl()) & SSL_SENT_SHUTDOWN);

  // The peer sees the close_notify, then the FIN, and may still send (a lingering close).
  std::string received;
  auto peer_done = std::async(std::launch::async, [&] {
    return peer->ReadToEnd(received) && peer->Write("late bytes") && peer->SendCloseNotify();
  });
  std::string read;
  boost::system::error_code end;
  bool done = false;
  char buffer[64];
  std::function<void()> read_more = [&] {
    stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t n) {
      if (ec) {
        end = ec;
        done = true;
        return;
      }
      read.append(buffer, n);
      read_more();
    });
  };
  read_more();
  ASSERT_TRUE(RunUntil([&] { return done && Ready(peer_done); }));
  EXPECT_TRUE(peer_done.get());
  EXPECT_TRUE(received.empty());
  EXPECT_TRUE(peer->got_close_notify());
  EXPECT_EQ(read, "late bytes");
  EXPECT_EQ(end, asio::error::eof) << end.message();
}

// The body relay's sink: records the outcome.
struct RelayResult : RelaySink {
  void OnRelayed(bool, const RelayOutcome& relayed) override {
    outcome = relayed;
    done = true;
  }
  RelayOutcome outcome;
  bool done = false;
};

// A chunked message body of `total` bytes in chunks of odd, varying sizes, last chunk included.
std::string Chunked(const std::string& body) {
  std::string wire;
  size_t at = 0;
  size_t size = 1;
  while (at < body.size()) {
    const size_t n = std::min(size, body.size() - at);
    char line[32];
    wire.append(line, static_cast<size_t>(std::snprintf(line, sizeof line, "%zx\r\n", n)));
    wire.append(body, at, n);
    wire.append("\r\n");
    at += n;
    size = size * 7 % 40009 + 1;
  }
  wire.append("0\r\n\r\n");
  return wire;
}

// A plain upstream connection on io_: the gateway's TimedSocket and the upstream's socket.
struct Upstream {
  Upstream(asio::io_context& io, Acceptor& acceptor)
      : connection(std::make_unique<UpstreamConnection>(io.get_executor(), nullptr)),
        socket(io.get_executor()) {
    connection->stream.socket().connect(acceptor.local_endpoint());
    socket = acceptor.accept();
    connection->stream.socket().non_blocking(true);
  }

  // Reads into `received` until the gateway's side ends it (or fails).
  void ReadAll() {
    socket.async_read_some(asio::buffer(buffer), [this](boost::system::error_code ec, size_t n) {
      if (ec) {
        end = ec;
        if (on_end) on_end();
        return;
      }
      received.append(buffer, n);
      ReadAll();
    });
  }

  UpstreamConnectionPtr connection;
  TcpSocket socket;
  char buffer[8192];
  std::string received;
  boost::system::error_code end;
  std::function<void()> on_end;  // called once ReadAll met the end
};

TEST_F(ClientStreamTest, RelaysALargeChunkedRequestBodyReadOverTls) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  Acceptor upstream_acceptor(io_.get_executor(),
                             tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  Upstream upstream(io_, upstream_acceptor);
  upstream.ReadAll();

  const std::string body = Pattern(3 * 1024 * 1024 + 17);
  auto peer_done = std::async(std::launch::async, [&] {
    return peer->Write(
        "POST /upload HTTP/1.1\r\nHost: gateway.test\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        Chunked(body));
  });
  RelayBuffers buffers;
  BodyRelay<true, ClientStream> relay(buffers);
  BodyRelay<true, ClientStream>::Parser parser;
  parser.body_limit(UINT64_MAX);
  beast::flat_buffer in_buffer;
  RelayResult result;
  const std::string head = "POST /upload HTTP/1.1\r\nHost: upstream\r\n\r\n";  // as framed
  http::async_read_header(*stream, in_buffer, parser, [&](boost::system::error_code ec, size_t) {
    ASSERT_FALSE(ec) << ec.message();
    relay.Start(std::make_shared<int>(0), result, *stream, in_buffer, parser,
                upstream.connection->stream, head, BodyFraming::kRaw, kLoose, kLoose);
  });
  ASSERT_TRUE(RunUntil([&] { return result.done && Ready(peer_done); }));
  EXPECT_TRUE(peer_done.get());
  EXPECT_EQ(result.outcome.result, RelayOutcome::Result::kDone) << result.outcome.error.message();
  EXPECT_EQ(result.outcome.bytes, body.size());
  ASSERT_TRUE(RunUntil([&] { return upstream.received.size() >= head.size() + body.size(); }));
  EXPECT_TRUE(upstream.received == head + body);
}

TEST_F(ClientStreamTest, RelaysALargeChunkedResponseBodyWrittenOverTls) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  Acceptor upstream_acceptor(io_.get_executor(),
                             tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  Upstream upstream(io_, upstream_acceptor);

  const std::string body = Pattern(3 * 1024 * 1024 + 5);
  const std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked(body);
  bool upstream_written = false;
  asio::async_write(upstream.socket, asio::buffer(response),
                    [&](boost::system::error_code ec, size_t) { upstream_written = !ec; });

  std::string received;
  auto peer_done = std::async(std::launch::async, [&] {
    // Until the last chunk (the relay re-chunks, one chunk per window).
    return peer->ReadUntil(received, [](const std::string& in) {
      return in.size() >= 7 && in.compare(in.size() - 7, 7, "\r\n0\r\n\r\n") == 0;
    });
  });
  RelayBuffers buffers;
  BodyRelay<false, ClientStream> relay(buffers);
  BodyRelay<false, ClientStream>::Parser parser;
  parser.body_limit(UINT64_MAX);
  RelayResult result;
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  http::async_read_header(upstream.connection->stream, upstream.connection->buffer, parser,
                          [&](boost::system::error_code ec, size_t) {
                            ASSERT_FALSE(ec) << ec.message();
                            relay.Start(std::make_shared<int>(0), result,
                                        upstream.connection->stream, upstream.connection->buffer,
                                        parser, *stream, head, BodyFraming::kChunked, kLoose,
                                        kLoose);
                          });
  ASSERT_TRUE(RunUntil([&] { return result.done && Ready(peer_done) && upstream_written; }));
  EXPECT_TRUE(peer_done.get());
  EXPECT_EQ(result.outcome.result, RelayOutcome::Result::kDone) << result.outcome.error.message();
  EXPECT_EQ(result.outcome.bytes, body.size());

  http::response_parser<http::string_body> client_parser;
  client_parser.eager(true);
  client_parser.body_limit(UINT64_MAX);
  boost::system::error_code parse_error;
  client_parser.put(asio::buffer(received), parse_error);
  ASSERT_FALSE(parse_error) << parse_error.message();
  ASSERT_TRUE(client_parser.is_done());
  EXPECT_TRUE(client_parser.get().body() == body);
}

TEST_F(ClientStreamTest, TunnelsBothWaysOverTlsAndPassesEachEndOn) {
  std::unique_ptr<Peer> peer;
  // The client's buffers are the kernel's: with 4 KiB ones, sending and receiving a megabyte at
  // once, Linux's receive window stalled below the gateway's MSS now and then (rwnd_limited in
  // `ss -i`, a kernel corner, not the tunnel's). The gateway's side keeps its small buffers.
  auto stream = Connect(peer, false);
  Acceptor upstream_acceptor(io_.get_executor(),
                             tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  Upstream upstream(io_, upstream_acceptor);

  const std::string up = Pattern(1024 * 1024 + 3);
  const std::string down = Pattern(1024 * 1024 + 11).substr(7);
  beast::flat_buffer client_buffer;  // nothing read past the upgrade request
  BasicTunnel<ClientStream> tunnel(*stream, client_buffer, std::move(upstream.connection), kLoose);
  // The client sends `up` while it reads `down`, ends its side with a close_notify, then reads
  // until the tunnel passes the upstream's end on as the gateway's close_notify.
  std::string client_received;
  bool client_clean_end = false;
  auto peer_done = std::async(std::launch::async, [&] {
    if (!peer->Exchange(up, 6007, client_received, down.size())) return false;
    if (!peer->SendCloseNotify()) return false;
    std::string rest;
    client_clean_end = peer->ReadToEnd(rest) && rest.empty();
    return true;
  });
  // The upstream sends `down` while it reads `up`, and ends once it read the client's end (a FIN).
  bool upstream_sent = false;
  asio::async_write(upstream.socket, asio::buffer(down),
                    [&](boost::system::error_code ec, size_t) { upstream_sent = !ec; });
  upstream.on_end = [&] {
    boost::system::error_code ignored;
    upstream.socket.shutdown(TcpSocket::shutdown_send, ignored);
  };
  upstream.ReadAll();
  tunnel.Start(std::make_shared<int>(0));
  ASSERT_TRUE(RunUntil([&] { return tunnel.closed() && Ready(peer_done); }))
      << "closed=" << tunnel.closed() << " peer=" << Ready(peer_done)
      << " up=" << tunnel.bytes_to_upstream() << "/" << up.size()
      << " down=" << tunnel.bytes_to_client() << "/" << down.size()
      << " client_received=" << client_received.size()
      << " upstream_received=" << upstream.received.size()
      << " upstream_end=" << upstream.end.message() << " sent=" << upstream_sent;
  EXPECT_TRUE(peer_done.get());
  EXPECT_TRUE(upstream_sent);
  EXPECT_EQ(upstream.end, asio::error::eof) << upstream.end.message();  // the client's end
  EXPECT_TRUE(upstream.received == up);
  EXPECT_TRUE(client_received == down);
  EXPECT_TRUE(client_clean_end);
  EXPECT_TRUE(peer->got_close_notify());
  EXPECT_EQ(tunnel.bytes_to_upstream(), up.size());
  EXPECT_EQ(tunnel.bytes_to_client(), down.size());
}

TEST_F(ClientStreamTest, RecordsAlreadyReceivedComeInOneRead) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  // Five records of 100 bytes (one SSL_write each), all in the socket before the first read.
  const std::string data = Pattern(500);
  for (size_t i = 0; i < data.size(); i += 100) {
    ASSERT_TRUE(peer->Write(std::string_view(data).substr(i, 100)));
  }
  constexpr int kRecordOverhead = 22;  // TLS 1.3: the header, the content type, the tag
  const int fd = stream->socket().native_handle();
  ASSERT_TRUE(RunUntil([&] {
    int queued = 0;
    return ::ioctl(fd, FIONREAD, &queued) == 0 && queued >= 5 * (100 + kRecordOverhead);
  }));
  std::string received;
  char buffer[4096];
  bool done = false;
  stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    received.assign(buffer, n);
    done = true;
  });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  // Read ahead in one read(2) and returned together, not one record per completion.
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);

  // Nothing more is buffered: the next read waits for the socket, and meets the close_notify.
  done = false;
  boost::system::error_code end;
  stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t) {
    end = ec;
    done = true;
  });
  RunFor(milliseconds(10));
  EXPECT_FALSE(done);
  ASSERT_TRUE(peer->SendCloseNotify());
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(end, asio::error::eof) << end.message();
}

TEST_F(ClientStreamTest, AnEndReadAheadWithRecordsComesAfterThemAsItIs) {
  // Records and then the end in the socket at once: the records come in one read, and the
  // next read reports that end as it is (a close_notify read ahead with the records is met
  // inside Read's loop and kept for the next read).
  for (const bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset" : "close_notify");
    std::unique_ptr<Peer> peer;
    auto stream = Connect(peer);
    const std::string data = Pattern(300);
    for (size_t i = 0; i < data.size(); i += 100) {
      ASSERT_TRUE(peer->Write(std::string_view(data).substr(i, 100)));
    }
    const int fd = stream->socket().native_handle();
    ASSERT_TRUE(RunUntil([&] {
      int queued = 0;
      return ::ioctl(fd, FIONREAD, &queued) == 0 && queued >= 3 * 122;
    }));
    if (reset) {
      peer->ResetTcp();
    } else {
      ASSERT_TRUE(peer->SendCloseNotify());
    }
    // The end is in the socket too before the first read.
    ASSERT_TRUE(RunUntil([&] {
      pollfd p{fd, POLLIN | POLLRDHUP, 0};
      int queued = 0;
      return ::poll(&p, 1, 0) == 1 &&
             (reset ? (p.revents & (POLLERR | POLLHUP)) != 0
                    : ::ioctl(fd, FIONREAD, &queued) == 0 && queued > 3 * 122);
    }));
    std::string received;
    boost::system::error_code first, second;
    char buffer[4096];
    bool done = false;
    stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t n) {
      first = ec;
      received.assign(buffer, n);
      done = true;
    });
    ASSERT_TRUE(RunUntil([&] { return done; }));
    if (reset && first) {
      // Linux may drop what was received when the reset comes: then the reset is all there is.
      EXPECT_EQ(first, asio::error::connection_reset) << first.message();
      continue;
    }
    EXPECT_FALSE(first) << first.message();
    EXPECT_TRUE(received == data) << received.size() << " bytes";
    done = false;
    stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t) {
      second = ec;
      done = true;
    });
    ASSERT_TRUE(RunUntil([&] { return done; }));
    const boost::system::error_code end =
        reset ? boost::system::error_code(asio::error::connection_reset)
              : boost::system::error_code(asio::error::eof);
    EXPECT_EQ(second, end) << second.message();
  }
}

TEST_F(ClientStreamTest, AStreamDestroyedWithATlsReadPendingCompletesItAborted) {
  std::unique_ptr<Peer> peer;
  auto stream = Connect(peer);
  bool done = false;
  boost::system::error_code error;
  char buffer[64];
  stream->async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, size_t) {
    done = true;
    error = ec;
  });
  RunFor(milliseconds(10));
  stream.reset();
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(error, asio::error::operation_aborted) << error.message();
}

}  // namespace
}  // namespace gw
