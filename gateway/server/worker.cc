#include "gateway/server/worker.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <exception>
#include <memory>
#include <random>
#include <string>

#include "common/log.h"
#include "gateway/net/client_stream.h"
#include "gateway/net/timed_socket.h"
#include "gateway/server/http2_exchange.h"

namespace gw {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

uint64_t RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

Worker::Worker(const ProxySettings& settings, const RouteTableHolder& routes)
    : settings_(settings),
      routes_(routes),
      request_ids_(RandomSeed()),
      random_(RandomSeed()),
      pool_(UpstreamPool::Limits{settings.upstream_max_idle, settings.upstream_idle_timeout}),
      sweep_timer_(io_),
      drained_future_(drained_.get_future()) {
  h2_settings_.max_header_list_size = settings.max_header_size;
}

Worker::~Worker() {
  Stop();
  Join();
  // Sessions still owned by abandoned handlers go with the io_context; the pools go first.
  pool_.Close();
  h2_pool_.Close();
}

boost::system::error_code Worker::Listen(const tcp::endpoint& endpoint, bool reuse_port, bool tls) {
  auto listener = std::make_unique<Listener>(io_, tls);
  tcp::acceptor& acceptor = listener->acceptor;
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  if (tls) exchange_.https_port = acceptor.local_endpoint().port();  // for --https-redirect
  listeners_.push_back(std::move(listener));
  return ec;
}

tcp::endpoint Worker::local_endpoint(size_t index) const {
  return listeners_.at(index)->acceptor.local_endpoint();
}

void Worker::Start() {
  thread_ = std::thread([this] {
    for (const auto& listener : listeners_) DoAccept(*listener);
    ScheduleSweep();
    // Handlers report failures through error codes and never throw; should one throw anyway
    // (out of memory), the request it served is lost but the worker keeps serving the others.
    while (true) {
      try {
        io_.run();
        break;
      } catch (const std::exception& e) {
        LogError(std::string("worker: request dropped after an unexpected error: ") + e.what());
      }
    }
    drained_.set_value();
  });
}

void Worker::DoAccept(Listener& listener) {
  listener.acceptor.async_accept(io_,
                                 [this, &listener](boost::system::error_code ec, TcpSocket socket) {
                                   OnAccept(listener, ec, std::move(socket));
                                 });
}

void Worker::OnAccept(Listener& listener, const boost::system::error_code& ec, TcpSocket socket) {
  if (ec == asio::error::operation_aborted || draining_) return;
  if (ec) {
    // Typically out of file descriptors: wait a little instead of spinning.
    LogWarn("accept failed: " + ec.message());
    auto retry = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
    retry->async_wait([this, &listener, retry](boost::system::error_code wait_ec) {
      if (!wait_ec && !draining_) DoAccept(listener);
    });
    return;
  }
  SslPtr ssl;
  if (listener.tls) {
    // The certificates of this moment serve this handshake. With none configured yet, the
    // connection is closed: there is nothing to serve it with.
    const CertificateTableConstSharedPtr table = certificates_ ? certificates_->Load() : nullptr;
    if (table) ssl = table->NewConnection();
    if (!ssl) {
      DoAccept(listener);
      return;  // the socket closes as it goes
    }
  }
  auto session = std::make_shared<Session>(*this, std::move(socket), std::move(ssl));
  sessions_.push_back(*session);
  session->Start();
  DoAccept(listener);
}

void Worker::ServeHttp2(TcpSocket socket, SslPtr ssl, std::string_view received,
                        std::string client_ip) {
  if (http2_connections_.size() >= 64 &&
      http2_connections_.size() == http2_connections_.capacity()) {
    std::erase_if(http2_connections_, [](const auto& weak) { return weak.expired(); });
  }
  const bool tls = ssl != nullptr;
  auto factory = MakeExchangeHandlerFactory(*this, std::move(client_ip), tls);
  http2::Connection* made;
  if (tls) {
    made = new http2::SocketConnection<ClientStream>(io_.get_executor(), http2_settings_,
                                                     std::move(factory), http2_counters_,
                                                     std::move(socket), std::move(ssl));
  } else {
    made = new http2::SocketConnection<TimedSocket>(io_.get_executor(), http2_settings_,
                                                    std::move(factory), http2_counters_,
                                                    std::move(socket));
  }
  // Counted among the client connections (the session that handed it over no longer is) until
  // the last of its operations and streams lets it go.
  WorkerMetrics* metrics = exchange_.metrics;
  if (metrics) metrics->client_connections.Increment();
  std::shared_ptr<http2::Connection> connection(made, [metrics](http2::Connection* done) {
    delete done;
    if (metrics) metrics->client_connections.Decrement();
  });
  http2_connections_.push_back(connection);
  connection->Start(received);
}

void Worker::ScheduleSweep() {
  const auto period = std::clamp<std::chrono::milliseconds>(settings_.upstream_idle_timeout / 4,
                                                            std::chrono::milliseconds(250),
                                                            std::chrono::milliseconds(5000));
  sweep_timer_.expires_after(period);
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || draining_) return;
    const auto now = std::chrono::steady_clock::now();
    pool_.Sweep(now);
    h2_pool_.CloseIdle(now - settings_.upstream_idle_timeout);
    relay_buffers_.Trim();
    ScheduleSweep();
  });
}

void Worker::Drain() {
  asio::post(io_, [this] {
    if (draining_) return;
    draining_ = true;
    boost::system::error_code ignored;
    for (const auto& listener : listeners_) listener->acceptor.close(ignored);
    sweep_timer_.cancel();
    pool_.Close();
    DrainH2Pool();
    for (Session& session : sessions_) session.CloseIfIdle();
    for (const auto& weak : http2_connections_) {
      if (const auto connection = weak.lock()) connection->Drain();
    }
    http2_connections_.clear();
  });
}

void Worker::DrainH2Pool() {
  // The h2c connections without a stream close now; the others once their calls finished,
  // looked at every 100 ms (a call in flight is not cut; one that outlasts the drain deadline
  // is abandoned with the worker).
  h2_pool_.CloseIdle(std::chrono::steady_clock::time_point::max());
  if (h2_pool_.connection_count() == 0) return;
  sweep_timer_.expires_after(std::chrono::milliseconds(100));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) DrainH2Pool();
  });
}

bool Worker::WaitUntilDrained(std::chrono::steady_clock::time_point deadline) {
  if (!thread_.joinable()) return true;
  return drained_future_.wait_until(deadline) == std::future_status::ready;
}

void Worker::Stop() { io_.stop(); }

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace gw
