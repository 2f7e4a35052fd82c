#include "gateway/proxy/forwarder.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <string>
#include <utility>

#include "common/log.h"
#include "gateway/http/header_rewrite.h"
#include "gateway/http/wire_format.h"
#include "gateway/net/eager_write.h"
#include "gateway/proxy/round_robin.h"

namespace gw {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

void LogUpstreamFailure(std::string_view what, const UpstreamEndpoint& endpoint,
                        const boost::system::error_code& ec) {
  std::string line(what);
  line += ' ';
  line += FormatHostPort(endpoint.endpoint.host, endpoint.endpoint.port);
  line += ": ";
  line += ec.message();
  Log(LogLevel::kDebug, line);
}

}  // namespace

Forwarder::Forwarder(const NetExecutor& executor, UpstreamPool& pool, const ProxySettings& settings,
                     uint64_t seed)
    : executor_(executor),
      pool_(pool),
      settings_(settings),
      resolver_(executor),
      random_(seed),
      retry_timer_(executor) {}

void Forwarder::Open(Owner owner, ForwardSink& sink, HttpRequest& request,
                     const UpstreamTarget& target, bool set_host, bool upgrade,
                     const ExchangePolicy& policy, std::string_view body) {
  if (at_hand_) at_hand_ = nullptr;
  Start(std::move(owner), sink, request, target, set_host, upgrade, policy, body);
}

void Forwarder::OpenMultiplexed(Owner owner, ForwardSink& sink, HttpRequest& request,
                                const UpstreamTarget& target, const ExchangePolicy& policy,
                                std::function<bool(const HostPort&)> at_hand) {
  at_hand_ = std::move(at_hand);
  Start(std::move(owner), sink, request, target, false, false, policy, {});
}

void Forwarder::Start(Owner owner, ForwardSink& sink, HttpRequest& request,
                      const UpstreamTarget& target, bool set_host, bool upgrade,
                      const ExchangePolicy& policy, std::string_view body) {
  sink_ = &sink;
  request_ = &request;
  body_ = body;
  target_ = &target;
  set_host_ = set_host;
  upgrade_ = upgrade;
  head_ = request.method() == http::verb::head;
  idempotent_ = IsIdempotentMethod(ToStd(request.method_string()));
  retry_.emplace(policy, target, idempotent_, settings_, random_, std::chrono::steady_clock::now());
  early_ = false;
  upstream_keep_alive_ = false;
  cancelled_ = false;
  parser_.reset();
  hash_.reset();
  circuit_refusal_ = {};
  if (target.endpoints.empty()) return Fail(ProxyError::kUpstreamUnavailable);
  if (target.balancer) {
    if (!target.hash_header.empty()) {
      if (const auto value = request[ToBeast(target.hash_header)]; !value.empty()) {
        hash_ = HashKey(ToStd(value));
      }
    }
  } else {
    first_ = RoundRobinNext(target);
  }
  TryEndpoint(std::move(owner));
}

void Forwarder::Follow(Owner owner, const RetryState::Decision& decision) {
  if (cancelled_) return Fail(ProxyError::kUpstreamFailed);
  switch (decision.next) {
    case RetryState::Next::kOtherEndpoint:
      return NextEndpoint(std::move(owner));
    case RetryState::Next::kSameEndpointFresh:
      connection_.reset();
      return Connect(std::move(owner));
    case RetryState::Next::kAfterBackoff:
      return RetryAfter(std::move(owner), decision.backoff);
    case RetryState::Next::kFail:
      return Fail(decision.error);
    case RetryState::Next::kUseAnswer:
      return UseResponse();
  }
}

void Forwarder::TryEndpoint(Owner owner) {
  const auto& endpoints = target_->endpoints;
  const auto now = std::chrono::steady_clock::now();
  size_t index = 0;
  if (const LoadBalancer* balancer = target_->balancer.get()) {
    // Healthy, not ejected, not tried yet for this request.
    const auto picked = balancer->Pick(hash_, random_, now, retry_->tried());
    if (!picked) return Follow(std::move(owner), retry_->OnNoEndpointLeft(now));
    index = *picked;
    if (balancer->endpoints().policy().balancing == Balancing::kLeastRequest) {
      in_flight_ = balancer->endpoints().StartRequest(index);
    }
  } else {
    // Round-robin's pick first, then the next ones in order.
    const size_t attempt = retry_->tried().size();
    if (attempt == endpoints.size()) return Follow(std::move(owner), retry_->OnNoEndpointLeft(now));
    index = (first_ + attempt) % endpoints.size();
  }
  retry_->EndpointChosen(index);
  endpoint_index_ = index;
  const HostPort& chosen = endpoints[index];
  endpoint_ = &pool_.Use(chosen);
  if (at_hand_) {
    if (!at_hand_(chosen)) return Connect(std::move(owner));
    retry_->Opened();
    return sink_->OnUpstreamOpen(ProxyError::kNone);
  }
  if (set_host_) request_->set(http::field::host, FormatHostPort(chosen.host, chosen.port));
  connection_ = pool_.Acquire(*endpoint_, idempotent_);
  if (connection_) {
    reused_ = true;
    if (!CountReusedConnection()) {
      pool_.Release(*endpoint_, std::move(connection_));
      return Fail(ProxyError::kCircuitOpen);
    }
    return DoWriteHeader(std::move(owner));
  }
  Connect(std::move(owner));
}

bool Forwarder::CountReusedConnection() {
  // Idle pooled connections count for no service (Release): one in use again counts for the
  // service using it, whichever service pooled it, within its max_connections.
  const LoadBalancer* balancer = target_->balancer.get();
  if (!balancer || balancer->endpoints().policy().max_connections == 0) return true;
  CircuitSlot slot = balancer->endpoints().TryAcquire(CircuitLimit::kMaxConnections);
  if (!slot) {
    circuit_refusal_ = CircuitLimitName(CircuitLimit::kMaxConnections);
    return false;
  }
  connection_->circuit = std::move(slot);
  return true;
}

void Forwarder::NextEndpoint(Owner owner) {
  in_flight_.Release();
  connection_.reset();
  if (endpoint_) {  // none after a route retry's backoff
    pool_.Unuse(*endpoint_);
    endpoint_ = nullptr;
  }
  TryEndpoint(std::move(owner));
}

void Forwarder::Connect(Owner owner) {
  reused_ = false;
  CircuitSlot place;  // under max_connections
  if (target_->balancer) {
    ServiceEndpoints& service = target_->balancer->endpoints();
    CircuitAdmission admission = service.TryAdmitNewConnection();
    if (!admission.admitted()) {
      // At max_connections, a service with a pending queue lets the request wait for a place.
      if (*admission.refused == CircuitLimit::kMaxConnections && service.policy().max_pending > 0) {
        pending_slot_ = service.TryAcquire(CircuitLimit::kMaxPending);
        if (pending_slot_) {
          wait_until_ = std::chrono::steady_clock::now() + ConnectTimeout();
          return WaitForPlace(std::move(owner));
        }
        admission.refused = CircuitLimit::kMaxPending;
      }
      circuit_refusal_ = CircuitLimitName(*admission.refused);
      return Fail(ProxyError::kCircuitOpen);
    }
    pending_slot_ = std::move(admission.pending);
    place = std::move(admission.connection);
  }
  OpenConnection(std::move(owner), std::move(place));
}

void Forwarder::WaitForPlace(Owner owner) {
  retry_timer_.expires_after(kPlacePollInterval);
  retry_timer_.async_wait([this, owner = std::move(owner)](const boost::system::error_code& ec) {
    if (ec || cancelled_) return Fail(ProxyError::kUpstreamFailed);
    // A connection this worker pooled meanwhile, else a place for a new one: whichever
    // another request gave back first (on any worker: places are counted per service).
    if (!at_hand_ && (connection_ = pool_.Acquire(*endpoint_, idempotent_))) {
      if (CountReusedConnection()) {
        pending_slot_.Release();
        reused_ = true;
        return DoWriteHeader(owner);
      }
      pool_.Release(*endpoint_, std::move(connection_));
    } else if (CircuitSlot place =
                   target_->balancer->endpoints().TryAcquire(CircuitLimit::kMaxConnections)) {
      return OpenConnection(owner, std::move(place));
    }
    if (std::chrono::steady_clock::now() >= wait_until_) {
      pending_slot_.Release();
      circuit_refusal_ = CircuitLimitName(CircuitLimit::kMaxConnections);
      return Fail(ProxyError::kCircuitOpen);
    }
    WaitForPlace(owner);
  });
}

void Forwarder::OpenConnection(Owner owner, CircuitSlot place) {
  connection_ = std::make_unique<UpstreamConnection>(executor_, pool_.open_connections());
  connection_->circuit = std::move(place);
  connection_->buffer.max_size(ReadBufferLimit(settings_));
  if (endpoint_->address) {
    connection_->stream.connect_expires_after(ConnectTimeout());
    connection_->stream.socket().async_connect(
        *endpoint_->address, [this, owner = std::move(owner)](beast::error_code ec) mutable {
          OnConnect(std::move(owner), connection_->stream.Explain(ec));
        });
    return;
  }
  resolver_.async_resolve(endpoint_->endpoint.host, endpoint_->port_text,
                          TcpResolver::numeric_service,
                          [this, owner = std::move(owner)](
                              beast::error_code ec, TcpResolver::results_type results) mutable {
                            OnResolve(std::move(owner), ec, results);
                          });
}

void Forwarder::OnResolve(Owner owner, const boost::system::error_code& ec,
                          const TcpResolver::results_type& results) {
  if (cancelled_) return Fail(ProxyError::kUpstreamFailed);
  if (ec || results.empty()) {
    LogUpstreamFailure("cannot resolve upstream", *endpoint_, ec);
    return Follow(std::move(owner), retry_->OnResolveFailed());
  }
  connection_->stream.connect_expires_after(ConnectTimeout());
  asio::async_connect(
      connection_->stream.socket(), results,
      [this, owner = std::move(owner)](beast::error_code ec, const tcp::endpoint&) mutable {
        OnConnect(std::move(owner), connection_->stream.Explain(ec));
      });
}

std::chrono::steady_clock::duration Forwarder::ConnectTimeout() const {
  const std::chrono::milliseconds own =
      target_->connect_timeout.count() > 0 ? target_->connect_timeout : settings_.connect_timeout;
  // Within the route's time for the whole exchange.
  const auto left = retry_->exchange_deadline() - std::chrono::steady_clock::now();
  return std::min<std::chrono::steady_clock::duration>(own, std::max(left, {}));
}

void Forwarder::RecordOutcome(bool success) {
  if (target_) RecordStreamOutcome(*target_, success);
}

void Forwarder::RecordStreamOutcome(const UpstreamTarget& target, bool success) {
  const LoadBalancer* balancer = target.balancer.get();
  if (!balancer) return;
  if (success) {
    balancer->endpoints().RecordSuccess(endpoint_index_);
  } else {
    balancer->endpoints().RecordFailure(endpoint_index_, std::chrono::steady_clock::now());
  }
}

void Forwarder::OnConnect(Owner owner, const boost::system::error_code& ec) {
  pending_slot_.Release();  // connected or not, it no longer waits
  if (cancelled_) return Fail(ProxyError::kUpstreamFailed);
  if (ec) {
    LogUpstreamFailure("cannot connect to upstream", *endpoint_, ec);
    RecordOutcome(false);
    return Follow(std::move(owner), retry_->OnConnectFailed(std::chrono::steady_clock::now()));
  }
  connection_->stream.expires_never();  // the connect deadline closes the socket
  beast::error_code ignored;
  connection_->stream.socket().set_option(tcp::no_delay(true), ignored);
  if (at_hand_) {
    retry_->Opened();
    return sink_->OnUpstreamOpen(ProxyError::kNone);
  }
  connection_->stream.socket().non_blocking(true, ignored);  // for EagerWrite
  DoWriteHeader(std::move(owner));
}

void Forwarder::DoWriteHeader(Owner owner) {
  // A resend is the same head again, with the body that goes with it (a streamed body was
  // not sent yet, or the request is not resent).
  request_head_.clear();
  AppendRequestHead(*request_, request_head_);
  WireBuffers head{asio::buffer(request_head_), asio::buffer(body_.data(), body_.size())};
  EagerWrite(connection_->stream, head, settings_.upstream_timeout,
             [this, owner = std::move(owner)](beast::error_code ec) mutable {
               OnWriteHeader(std::move(owner), ec);
             });
}

void Forwarder::OnWriteHeader(Owner owner, const boost::system::error_code& ec) {
  if (cancelled_) return Fail(ProxyError::kUpstreamFailed);
  if (ec) {
    // A pooled connection the upstream closed fails here or in the read that follows.
    const auto decision = retry_->OnSendFailed(ClassifyUpstreamError(UpstreamStage::kExchange, ec),
                                               ec != beast::error::timeout, reused_);
    if (decision.next == RetryState::Next::kFail) {
      LogUpstreamFailure("cannot send request to upstream", *endpoint_, ec);
    }
    return Follow(std::move(owner), decision);
  }
  if (retry_->opened()) return DoRead(std::move(owner));
  retry_->Opened();
  sink_->OnUpstreamOpen(ProxyError::kNone);
}

void Forwarder::ReadResponse(Owner owner, bool body_sent) {
  if (body_sent) retry_->BodySent();
  deadline_ = retry_->AttemptDeadline(std::chrono::steady_clock::now());
  DoRead(std::move(owner));
}

void Forwarder::ReadEarlyResponse(Owner owner, ProxyError otherwise) {
  retry_->BodySent();  // never sent again, and no answer dropped for a retry
  early_ = true;
  early_otherwise_ = otherwise;
  deadline_ = std::chrono::steady_clock::now() + kEarlyResponseWait;
  DoRead(std::move(owner));
}

void Forwarder::DoRead(Owner owner) {
  parser_.emplace();
  parser_->header_limit(settings_.max_header_size);
  // No limit is the largest one: Beast 1.74 compares a Content-Length with an empty limit as
  // if it were exceeded.
  parser_->body_limit(settings_.max_response_body_size > 0 ? settings_.max_response_body_size
                                                           : UINT64_MAX);
  if (head_) parser_->skip(true);  // a response to HEAD has no body, whatever it announces
  connection_->stream.expires_at(deadline_);
  http::async_read_header(connection_->stream, connection_->buffer, *parser_,
                          [this, owner = std::move(owner)](beast::error_code ec, size_t) mutable {
                            OnRead(std::move(owner), ec);
                          });
}

void Forwarder::OnRead(Owner owner, const boost::system::error_code& ec) {
  if (cancelled_) return Fail(ProxyError::kUpstreamFailed);
  if (ec && early_) return Fail(early_otherwise_);  // no answer before the upstream gave up
  if (ec) {
    // Nothing received before the connection closed: maybe one the upstream closed in the pool.
    const bool stale =
        !parser_->got_some() && connection_->buffer.size() == 0 && IsStaleConnectionError(ec);
    const auto decision =
        retry_->OnAttemptFailed(ClassifyUpstreamError(UpstreamStage::kExchange, ec), stale, reused_,
                                std::chrono::steady_clock::now());
    if (decision.next != RetryState::Next::kSameEndpointFresh) {
      LogUpstreamFailure("no valid response from upstream", *endpoint_, ec);
      RecordOutcome(false);
    }
    return Follow(std::move(owner), decision);
  }
  const unsigned status = parser_->get().result_int();
  if (status == 101 && !upgrade_) {  // no switch was asked for
    return Fail(ProxyError::kUpstreamFailed);
  }
  if (status >= 100 && status < 200 && status != 101) return DoRead(std::move(owner));  // interim
  RecordOutcome(status < 500);  // passive ejection counts 5xx answers as failures
  Follow(std::move(owner), retry_->OnUpstreamStatus(status, std::chrono::steady_clock::now()));
}

void Forwarder::UseResponse() {
  upstream_keep_alive_ = KeepAlive(parser_->get(), parser_->get().version());
  sink_->OnResponseHeader(ProxyError::kNone);
}

void Forwarder::RetryAfter(Owner owner, std::chrono::microseconds backoff) {
  connection_.reset();  // never pooled: it failed, or carries an answer nobody reads
  parser_.reset();
  if (endpoint_) {  // none when every endpoint failed to connect
    pool_.Unuse(*endpoint_);
    endpoint_ = nullptr;
  }
  in_flight_.Release();
  retry_timer_.expires_after(backoff);
  retry_timer_.async_wait([this, owner = std::move(owner)](const boost::system::error_code& ec) {
    if (ec) return Fail(ProxyError::kUpstreamFailed);
    const auto now = std::chrono::steady_clock::now();
    deadline_ = retry_->AttemptDeadline(now);
    Follow(owner, retry_->OnBackoffEnded(now));  // opened: the head is written, the answer read
  });
}

void Forwarder::ResponseRead() {
  if (connection_) connection_->circuit.Release();
}

void Forwarder::Release(bool response_complete) {
  if (!endpoint_) return;
  const bool reusable = response_complete && !early_ && upstream_keep_alive_ && parser_ &&
                        parser_->is_done() && !parser_->need_eof() &&
                        connection_->buffer.size() == 0;
  if (reusable) {
    // Idle, it holds no place under the service's max_connections: a limit counts connections
    // in use, so idle ones in other workers' pools never keep a request from connecting.
    connection_->circuit.Release();
    pool_.Release(*endpoint_, std::move(connection_));
  }
  EndExchange();
}

UpstreamConnectionPtr Forwarder::TakeConnection() {
  UpstreamConnectionPtr connection = std::move(connection_);
  EndExchange();
  return connection;
}

void Forwarder::Cancel() {
  cancelled_ = true;
  retry_timer_.cancel();  // a wait for a place, a backoff
  resolver_.cancel();
  if (connection_) connection_->stream.close();  // a connect, the head's write, the read
}

void Forwarder::Fail(ProxyError error) {
  EndExchange();
  ForwardSink* sink = sink_;
  if (retry_->opened()) {
    sink->OnResponseHeader(error);
  } else {
    sink->OnUpstreamOpen(error);
  }
}

void Forwarder::EndExchange() {
  in_flight_.Release();
  retry_->EndExchange();
  pending_slot_.Release();
  connection_.reset();  // unless released to the pool or taken
  if (endpoint_) {
    pool_.Unuse(*endpoint_);
    endpoint_ = nullptr;
  }
  request_ = nullptr;
  body_ = {};
  target_ = nullptr;
}

}  // namespace gw
