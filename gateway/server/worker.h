// Worker: one thread of the gateway's data path, with everything its requests touch.
//
// Each worker runs its own io_context on its own thread with its own SO_REUSEPORT acceptor,
// upstream connection pool and request-id generator, so nothing on the request path is shared
// between threads except the published RouteTable (loaded once per request) and the relaxed
// round-robin counters inside it. Owned by main; Listen/Start at start-up, Drain/Stop/Join at
// shutdown.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/admin/metrics.h"
#include "gateway/aggregate/aggregator.h"
#include "gateway/exchange/access_log.h"
#include "gateway/exchange/request_context.h"
#include "gateway/http/proxy_settings.h"
#include "gateway/http/request_id.h"
#include "gateway/http2/connection.h"
#include "gateway/policy/verified_tokens.h"
#include "gateway/proxy/relay_buffers.h"
#include "gateway/router/route_table_holder.h"
#include "gateway/server/session.h"
#include "gateway/tls/certificate_table_holder.h"
#include "gateway/upstream/h2_client.h"
#include "gateway/upstream/upstream_pool.h"

namespace gw {

class Worker {
 public:
  Worker(const ProxySettings& settings, const RouteTableHolder& routes);
  ~Worker();  // stops and joins the thread if still running

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Start-up, before Start: binds and listens on `endpoint` (port 0 picks one). With
  // `reuse_port`, other workers may bind the same address. With `tls`, each connection begins
  // with a TLS handshake (ServeTls first). Returns what failed, if anything.
  [[nodiscard]] boost::system::error_code Listen(const boost::asio::ip::tcp::endpoint& endpoint,
                                                 bool reuse_port, bool tls = false);
  // The address of the `index`th Listen.
  boost::asio::ip::tcp::endpoint local_endpoint(size_t index = 0) const;

  // Start-up, before a Listen with `tls`: the certificates its handshakes choose from (owned by
  // main, published by the config applier).
  void ServeTls(const CertificateTableHolder& certificates) { certificates_ = &certificates; }

  // Start-up, before Start: where this worker's requests are counted and, with --access-log,
  // logged. Both are owned by main and outlive the worker.
  void Observe(WorkerMetrics& metrics, AccessLogBuffer* access_log) {
    exchange_.metrics = &metrics;
    exchange_.access_log = access_log;
    metrics.http2 = &http2_counters_;
    pool_.CountConnections(&metrics.upstream_connections);
  }

  // Start-up, before Start: the limits of the HTTP/2 connections (h2c with prior knowledge).
  void ConfigureHttp2(const http2::ConnectionSettings& settings) { http2_settings_ = settings; }

  void Start();  // starts the thread: accepting and serving

  // From any thread. Stops accepting, closes idle client and upstream connections, lets the
  // requests in flight finish (their connections close after the response; an HTTP/2 one gets
  // GOAWAY and closes when its streams finished; an h2c upstream connection closes once its calls
  // finished); the thread ends when nothing is left.
  void Drain();
  // True once the thread has nothing left to do (after Drain), false at the deadline.
  bool WaitUntilDrained(std::chrono::steady_clock::time_point deadline);
  void Stop();  // from any thread: abandons whatever is still running
  void Join();

  // For the sessions and forwarders of this worker, on its thread only.
  const ProxySettings& settings() const { return settings_; }
  const RouteTableHolder& routes() const { return routes_; }
  RequestIdGenerator& request_ids() { return request_ids_; }
  uint64_t Random() { return random_(); }  // splits, load balancing: not cryptographic
  UpstreamPool& pool() { return pool_; }
  // The h2c connections to services of protocol UPSTREAM_H2C, and how they are made.
  H2ClientPool& h2_pool() { return h2_pool_; }
  const H2ClientSettings& h2_settings() const { return h2_settings_; }
  RelayBuffers& relay_buffers() { return relay_buffers_; }
  // What this worker's aggregate routes use: its pool, settings, budget and metrics.
  AggregateServices aggregate_services() {
    return {executor(), pool_, settings_, aggregate_budget_, exchange_.metrics};
  }
  VerifiedTokens& verified_tokens() { return verified_tokens_; }
  bool draining() const { return draining_; }
  const CertificateTableHolder* certificates() const { return certificates_; }
  WorkerMetrics* metrics() { return exchange_.metrics; }          // null when not observed
  AccessLogBuffer* access_log() { return exchange_.access_log; }  // null without --access-log
  ExchangeServices& exchange() { return exchange_; }  // what the phases of its requests use
  NetExecutor executor() { return io_.get_executor(); }
  // The counters of this worker's HTTP/2 connections (gateway_http2_*).
  const http2::Http2Counters& http2_counters() const { return http2_counters_; }

  // A connection that speaks HTTP/2 becomes an http2::Connection whose streams are exchanges
  // (http2_exchange.h): a cleartext one that opened with the HTTP/2 preface (`ssl` null,
  // `received`: the bytes read so far), or a TLS one whose handshake chose `h2` by ALPN (`ssl`:
  // its TLS state, ClientStream::ReleaseSsl).
  void ServeHttp2(TcpSocket socket, SslPtr ssl, std::string_view received, std::string client_ip);

 private:
  struct Listener {
    explicit Listener(boost::asio::io_context& io, bool tls) : acceptor(io), tls(tls) {}
    boost::asio::ip::tcp::acceptor acceptor;
    bool tls;
  };
  void DoAccept(Listener& listener);
  void OnAccept(Listener& listener, const boost::system::error_code& ec, TcpSocket socket);
  void ScheduleSweep();
  void DrainH2Pool();

  const ProxySettings& settings_;
  const RouteTableHolder& routes_;
  RequestIdGenerator request_ids_;
  std::mt19937_64 random_;
  RelayBuffers relay_buffers_;
  AggregateBudget aggregate_budget_{settings_.aggregate_buffer};
  VerifiedTokens verified_tokens_;
  ExchangeServices exchange_{settings_, routes_, request_ids_, verified_tokens_};
  // Declared before the io_context: sessions destroyed with it unlink themselves from here.
  boost::intrusive::list<Session, boost::intrusive::constant_time_size<false>> sessions_;
  http2::ConnectionSettings http2_settings_;
  http2::Http2Counters http2_counters_;
  // Live HTTP/2 connections, for Drain: expired ones are dropped as new ones come.
  std::vector<std::weak_ptr<http2::Connection>> http2_connections_;
  // One thread runs it; only posts (Drain) and stop come from other threads, so the reactor's
  // per-socket locking is off.
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  // Declared after the io_context: its sockets must close before the io_context goes.
  UpstreamPool pool_;
  H2ClientPool h2_pool_;
  H2ClientSettings h2_settings_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  boost::asio::steady_timer sweep_timer_;
  bool draining_ = false;
  const CertificateTableHolder* certificates_ = nullptr;
  std::promise<void> drained_;
  std::future<void> drained_future_;
  std::thread thread_;
};

}  // namespace gw
