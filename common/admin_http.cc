#include "common/admin_http.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <system_error>
#include <thread>

namespace gw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kTimeout = std::chrono::seconds(10);

// One connection: read a request, answer it, repeat while keep-alive.
class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(tcp::socket socket, const AdminHttpServer::Handler& handler)
      : stream_(std::move(socket)), handler_(handler) {}

  void Start() { DoRead(); }

 private:
  void DoRead() {
    request_ = {};
    stream_.expires_after(kTimeout);
    http::async_read(
        stream_, buffer_, request_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return;  // closed, timed out or malformed: drop the connection
    const std::string_view target(request_.target().data(), request_.target().size());
    const size_t question = target.find('?');
    AdminRequest request;
    request.method =
        std::string_view(request_.method_string().data(), request_.method_string().size());
    request.path = target.substr(0, question);
    if (question != std::string_view::npos) request.query = target.substr(question + 1);
    if (const auto found = request_.find(http::field::authorization); found != request_.end())
      request.authorization = std::string_view(found->value().data(), found->value().size());
    AdminResponse answer = handler_(request);
    response_ = {};
    response_.version(request_.version());
    response_.result(answer.status);
    response_.set(http::field::content_type, answer.content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : answer.headers) response_.set(name, value);
    response_.body() = std::move(answer.body);
    response_.prepare_payload();
    // HEAD: the GET's header fields, Content-Length included, and no body.
    if (request_.method() == http::verb::head) response_.body().clear();
    response_.keep_alive(request_.keep_alive());
    stream_.expires_after(kTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->DoRead();
                      });
  }

  beast::tcp_stream stream_;
  const AdminHttpServer::Handler& handler_;
  beast::flat_buffer buffer_{8192};
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

struct AdminHttpServer::State {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  Handler handler;
  std::thread thread;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<AdminSession>(std::move(socket), handler)->Start();
      Accept();
    });
  }
};

AdminHttpServer::AdminHttpServer(const HostPort& listen, Handler handler)
    : state_(std::make_unique<State>()) {
  state_->handler = std::move(handler);
  try {
    tcp::resolver resolver(state_->io);  // a name such as "localhost" is fine too
    const tcp::endpoint endpoint =
        resolver.resolve(listen.host, std::to_string(listen.port), tcp::resolver::numeric_service)
            .begin()
            ->endpoint();
    auto& acceptor = state_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    throw std::system_error(
        e.code().value(), std::generic_category(),
        "cannot listen on " + FormatHostPort(listen.host, listen.port) + " for the admin page");
  }
  state_->Accept();
  state_->thread = std::thread([state = state_.get()] { state->io.run(); });
}

AdminHttpServer::~AdminHttpServer() {
  state_->io.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

std::string AdminHttpServer::address() const {
  const auto endpoint = state_->acceptor.local_endpoint();
  return FormatHostPort(endpoint.address().to_string(), endpoint.port());
}

}  // namespace gw
