#include "gateway/upstream/health_checker.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <string>

#include "gateway/upstream/h2_client.h"

namespace gw {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One checked service: its state, its timer, and which endpoints have a check in progress.
struct HealthChecker::Target {
  Target(asio::io_context& io, ServiceEndpointsSharedPtr endpoints)
      : endpoints(std::move(endpoints)), timer(io), probing(this->endpoints->size(), false) {}
  ServiceEndpointsSharedPtr endpoints;
  asio::steady_timer timer;
  std::vector<bool> probing;
  bool stopped = false;  // removed by a Reconfigure, or the checker stopped
};

// One check of one endpoint: resolve (unless an IP literal), connect, write the GET, read the
// response header, all under one deadline. An h2c service's endpoint (a gRPC server answers no
// HTTP/1.1) gets the GET as the one stream of an HTTP/2 connection with prior knowledge
// (H2ClientConnection), :authority the endpoint.
class HealthChecker::Probe : public std::enable_shared_from_this<Probe>, private H2UpstreamStream {
 public:
  Probe(HealthChecker& checker, std::shared_ptr<Target> target, size_t endpoint,
        std::chrono::milliseconds timeout)
      : checker_(checker),
        target_(std::move(target)),
        endpoint_(endpoint),
        timeout_(timeout),
        resolver_(checker.io_),
        socket_(checker.io_.get_executor()),
        deadline_(checker.io_) {}

  void Start() {
    const HostPort& where = target_->endpoints->endpoint(endpoint_);
    request_.method(http::verb::get);
    const std::string& path = target_->endpoints->policy().health_check->path;
    request_.target(path.empty() ? "/" : path);
    request_.version(11);
    request_.set(http::field::host, FormatHostPort(where.host, where.port));
    request_.set(http::field::user_agent, "gateway-health-check");
    request_.set(http::field::connection, "close");
    parser_.header_limit(static_cast<uint32_t>(checker_.options_.max_header_bytes));

    deadline_.expires_after(timeout_);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->done_) return;
      self->resolver_.cancel();
      beast::error_code ignored;
      self->socket_.close(ignored);       // pending operations complete with an error
      if (self->h2_) self->h2_->Close();  // the stream's OnClose fails the check
    });

    beast::error_code ec;
    const auto address = asio::ip::make_address(where.host, ec);
    if (!ec) {
      socket_.async_connect(
          tcp::endpoint(address, where.port),
          [self = shared_from_this()](beast::error_code ec) { self->OnConnect(ec); });
      return;
    }
    resolver_.async_resolve(
        where.host, std::to_string(where.port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec || self->done_) return self->Done(false);
          asio::async_connect(
              self->socket_, results,
              [self](beast::error_code ec, const tcp::endpoint&) { self->OnConnect(ec); });
        });
  }

 private:
  void OnConnect(beast::error_code ec) {
    if (ec || done_) return Done(false);
    if (target_->endpoints->policy().health_check->h2c) return SubmitH2c();
    http::async_write(socket_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || self->done_) return self->Done(false);
      http::async_read_header(self->socket_, self->buffer_, self->parser_,
                              [self](beast::error_code ec, size_t) { self->OnHeader(ec); });
    });
  }

  void OnHeader(beast::error_code ec) {
    if (ec || done_) return Done(false);
    const unsigned status = parser_.get().result_int();
    Done(status >= 200 && status < 300);
  }

  void SubmitH2c() {
    H2ClientSettings settings;
    settings.max_header_list_size = static_cast<uint32_t>(checker_.options_.max_header_bytes);
    h2_ = MakeH2ClientConnection(std::move(socket_), settings);
    // The deadline's wait holds the probe until Done, which closes the connection: the stream
    // never outlives its handler.
    if (h2_->Submit(request_, true, *this) < 0) Done(false);
  }

  // H2UpstreamStream: the answer's header decides; Done runs outside the connection's
  // callbacks, since it closes the connection.
  http2::BodyPull PullRequestBody(std::span<uint8_t>) override { return {0, true}; }
  void OnResponseHeader(unsigned status, const HttpFields&, bool) override {
    PostDone(status >= 200 && status < 300);
  }
  void OnResponseData(std::span<const uint8_t>) override {}
  void OnResponseTrailers(const HttpFields&) override {}
  void OnClose(uint32_t) override { PostDone(false); }  // after the header, or instead of it
  void PostDone(bool passed) {
    asio::post(checker_.io_, [self = shared_from_this(), passed] { self->Done(passed); });
  }

  void Done(bool passed) {
    if (done_) return;
    done_ = true;
    deadline_.cancel();
    beast::error_code ignored;
    socket_.close(ignored);
    if (h2_) h2_->Close();  // the stream's OnClose follows at once, and does nothing
    h2_.reset();
    checker_.Finish(*target_, endpoint_, passed);
  }

  HealthChecker& checker_;
  std::shared_ptr<Target> target_;
  const size_t endpoint_;
  const std::chrono::milliseconds timeout_;
  tcp::resolver resolver_;
  TcpSocket socket_;
  std::shared_ptr<H2ClientConnection> h2_;  // an h2c check's connection
  asio::steady_timer deadline_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> parser_;
  bool done_ = false;
};

HealthChecker::HealthChecker(Options options) : options_(std::move(options)) {}

HealthChecker::~HealthChecker() { Stop(); }

void HealthChecker::Start() {
  if (thread_.joinable()) return;
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] { io_.run(); });
}

void HealthChecker::Stop() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
  // The thread is gone: nothing else touches the targets now. Probes still queued in io_ are
  // destroyed with it.
  for (const auto& target : targets_) {
    target->stopped = true;
    target->timer.cancel();
  }
  targets_.clear();
}

void HealthChecker::Reconfigure(std::vector<ServiceEndpointsSharedPtr> services) {
  asio::post(io_, [this, services = std::move(services)]() mutable { Apply(std::move(services)); });
}

void HealthChecker::Apply(std::vector<ServiceEndpointsSharedPtr> services) {
  std::vector<std::shared_ptr<Target>> next;
  std::vector<std::shared_ptr<Target>> started;
  for (auto& service : services) {
    if (!service || !service->policy().health_check || service->size() == 0) continue;
    const auto same = std::find_if(targets_.begin(), targets_.end(), [&](const auto& target) {
      return target && target->endpoints == service;
    });
    if (same != targets_.end()) {
      next.push_back(std::move(*same));  // keeps its schedule
      *same = nullptr;
      continue;
    }
    if (std::any_of(next.begin(), next.end(),
                    [&](const auto& target) { return target->endpoints == service; })) {
      continue;  // listed twice
    }
    next.push_back(std::make_shared<Target>(io_, std::move(service)));
    started.push_back(next.back());
  }
  for (const auto& removed : targets_) {
    if (!removed) continue;
    removed->stopped = true;
    removed->timer.cancel();
  }
  targets_ = std::move(next);
  for (const auto& target : started) Tick(target);
}

void HealthChecker::Tick(const std::shared_ptr<Target>& target) {
  if (target->stopped) return;
  const HealthCheckPolicy& check = *target->endpoints->policy().health_check;
  const auto interval = std::max(check.interval, std::chrono::milliseconds(1));
  const auto timeout = std::min(interval, options_.max_timeout);
  for (size_t i = 0; i < target->endpoints->size(); ++i) {
    if (target->probing[i]) continue;  // the last one is still within its timeout
    target->probing[i] = true;
    std::make_shared<Probe>(*this, target, i, timeout)->Start();
  }
  target->timer.expires_after(interval);
  target->timer.async_wait([this, target](beast::error_code ec) {
    if (!ec) Tick(target);
  });
}

void HealthChecker::Finish(Target& target, size_t endpoint, bool passed) {
  target.probing[endpoint] = false;
  if (target.stopped) return;
  checks_completed_.fetch_add(1, std::memory_order_relaxed);
  const HealthChange change = target.endpoints->RecordHealthCheck(endpoint, passed);
  if (change != HealthChange::kNone && options_.on_change) {
    options_.on_change(*target.endpoints, endpoint, change);
  }
}

}  // namespace gw
