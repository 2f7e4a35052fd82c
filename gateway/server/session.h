// Session: one client connection to the gateway's HTTP listener.
//
// The HTTP/1.1 carrier of exchanges: serves requests one at a time, in order (keep-alive and
// pipelining, HTTP/1.0 honoured), each with a fresh RequestContext through the exchange's
// phases (gateway/exchange/phases.h), doing itself only what HTTP/1.1 needs:
//   1. read the request header (--header-timeout; idle keep-alive waits use --idle-timeout);
//   2. decide on the header alone: framing (a Transfer-Encoding other than "chunked" alone: 400
//      or 501 and close), Host, request-target, path normalization; then the phases
//      RouteRequest, RequestFilter (CORS preflight, authentication, rate limit), PickUpstream,
//      UpstreamRequestFilter; the body limit (413 from Content-Length up front, or when a
//      chunked body crosses it);
//   3. open the upstream (Forwarder: the split's target, an endpoint picked by its balancer,
//      pooled connection or connect, retries) and write the header; a
//      chunked body is read first up to one relay buffer: when it ends there it goes upstream
//      with a Content-Length (many upstreams take no chunked requests), else chunked; so is
//      the body of an idempotent request on a route with retries when its Content-Length fits
//      one relay buffer. Such a whole body goes with the head, and again with a resend;
//   4. stream the request body upstream through a fixed buffer (100 Continue first when the
//      client expects it; a stalled body gets 408);
//   5. read the upstream's response header and rewrite it for the client (ResponseFilter);
//   6. stream the response to the client, the header with the first piece of the body
//      (chunked to HTTP/1.1 when its length is unknown, close-delimited to HTTP/1.0); an
//      upstream failing before anything was written gets 502/504, one failing mid-body aborts
//      the client connection (reset), so a truncated body never looks complete;
//   7. CompleteRequest: the one place where a request ends, whatever happened (LogExchange).
// A request on an aggregate route takes steps 3-6 through an Aggregator (aggregate/aggregator.h)
// and answers what it composed as a local reply, after FilterComposedReply.
// A request to an h2c service (gRPC) takes steps 3-6 through an H2cBridge (h2c_bridge.h), the
// session being its client side: the body (Content-Length or chunked, its trailers) is read into
// one relay buffer and pulled from it as an HTTP/2 stream on the worker's H2ClientPool; the
// response comes back as HTTP/1.1 (Content-Length when the upstream gave one and the client
// takes no trailers, else chunked, the trailers after the last chunk when the client said
// `TE: trailers`, else dropped), each piece written before the upstream may send more. An
// upgrade to an h2c service is answered 502. A
// 101 to an upgrade request turns the connection into a Tunnel instead of step 6. A
// connection whose first bytes are the HTTP/2 preface (prior knowledge, h2c), or whose TLS
// handshake chose `h2` by ALPN, is handed to the worker's HTTP/2 carrier before step 1
// (Worker::ServeHttp2); Upgrade: h2c is an ordinary upgrade.
// A response written once the worker drains says Connection: close.
// Owned by its pending operations through shared_from_this(); created by a Worker's acceptor
// and run on that worker's thread only. Never throws.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/intrusive/list_hook.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/aggregate/aggregator.h"
#include "gateway/exchange/local_reply.h"
#include "gateway/exchange/request_context.h"
#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/http/wire_format.h"
#include "gateway/net/client_stream.h"
#include "gateway/net/net.h"
#include "gateway/net/timed_socket.h"
#include "gateway/proxy/body_relay.h"
#include "gateway/proxy/forwarder.h"
#include "gateway/proxy/tunnel.h"
#include "gateway/router/route_table.h"
#include "gateway/server/h2c_bridge.h"

namespace gw {

class Worker;

// The worker keeps a list of its sessions (to close idle ones when draining); a session leaves
// it when destroyed.
using SessionListHook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class Session final : public std::enable_shared_from_this<Session>,
                      public ForwardSink,
                      public RelaySink,
                      public SessionListHook,
                      private H2cClient {
 public:
  // `ssl`: the connection begins with a TLS handshake on it; null: plain TCP.
  Session(Worker& worker, TcpSocket socket, SslPtr ssl = nullptr);
  ~Session();

  void Start();

  // Draining: closes the connection if it is waiting for a request that has not begun.
  void CloseIfIdle();

 private:
  // TLS: the handshake is done; ALPN `h2` hands the connection over, else HTTP/1.1 begins.
  void OnHandshake();
  // 1. The request header.
  void DoReadRequest();
  void DoWaitForRequest();
  // The first bytes of the connection: HTTP/2's preface hands it over, else HTTP/1.1.
  void CheckPreface();
  void DoReadHeader();
  void OnReadHeader(const boost::system::error_code& ec);
  void BeginRequest();  // a request began: its context is made
  void OnReadError(const boost::system::error_code& ec);
  // 2-3. Header decisions, then the upstream.
  void HandleRequest();
  void DoReadShortBody();
  void OnReadShortBody(const boost::system::error_code& ec);
  void OpenUpstream(std::optional<uint64_t> content_length, bool chunked);
  void OnUpstreamOpen(ProxyError error) override;
  // 4. The request body.
  void StartRequestBody();
  void OnRelayed(bool request_body, const RelayOutcome& outcome) override;
  void OnInputDone(bool request_body) override;
  void OnRequestBodyRelayed(const RelayOutcome& outcome);
  // 5-6. The response.
  void OnResponseHeader(ProxyError error) override;
  void StartResponseBody(std::string_view head);
  void OnResponseBodyRelayed(const RelayOutcome& outcome);
  void StartTunnel();
  // 3-6 for an h2c service, through bridge_.
  void StartH2c(uint64_t body_limit);
  void ReadH2cBody();
  void OnH2cBodyRead(const boost::system::error_code& ec);
  // Writes what is due to the client: the response head, body pieces, the end.
  void WriteH2cResponse();
  void OnH2cWritten(const boost::system::error_code& ec, size_t body_bytes, bool last);
  // Runs `next` once nothing of the h2c exchange is pending: the bridge cancelled and idle, no
  // read (a pending one is cut short) or write on the client connection.
  void AfterH2c(std::function<void()> next);
  void MaybeAfterH2c();
  // H2cClient.
  std::string_view RequestBody() const override;
  // A read in flight may have parsed the end already: it counts once the read completed.
  bool RequestEnded() const override { return parser_->is_done() && !h2c_.reading; }
  const HttpFields& RequestTrailers() const override { return h2c_.request_trailers; }
  void ConsumeRequest(size_t n) override;
  void OnBridgeError(ProxyError error) override;
  void OnBridgeResponse(HttpResponseHeader& header, bool has_body) override;
  void OnBridgeResponseBody() override { WriteH2cResponse(); }
  void OnBridgeAbort(uint32_t error_code) override;
  void OnBridgeIdle() override;
  // 3-6 for an aggregate route: its parts fetched by aggregate_, the answer a local reply.
  void StartAggregate(std::string_view path, const RequestTarget& target, bool unread_body);
  void OnAggregateAnswer(AggregateAnswer& answer, std::string_view upstreams, bool close);
  // 7. The end of a request, and what follows on the connection.
  void CompleteRequest(RequestRecord::End end);
  void ReleaseBodyStart();
  void ContinueOrClose(bool keep_alive);
  void ReplyError(ProxyError error, bool close, std::string_view path = {});
  // A response made by the gateway, with ctx_->reply_headers.
  void ReplyLocal(LocalReply reply, bool close);
  void OnErrorWritten(const boost::system::error_code& ec, bool close);
  void AbortConnection();
  void DoLingeringClose();

  Worker& worker_;
  ClientStream stream_;
  boost::beast::flat_buffer buffer_;  // what the client sent and no request consumed yet
  std::optional<RequestParser> parser_;
  Forwarder forwarder_;
  BodyRelay<true, ClientStream> request_relay_;
  BodyRelay<false, ClientStream> response_relay_;
  std::string response_head_;  // the response head as written to the client
  boost::beast::http::response<boost::beast::http::string_body> error_response_;
  std::unique_ptr<BasicTunnel<ClientStream>> tunnel_;
  // The start of a request body read before the upstream is chosen (see DoReadShortBody):
  // handed to request_relay_, or, when it is the whole body and message_.body_with_head, sent by
  // the forwarder with the head (and with each resend).
  RelayBuffers::Buffer body_start_;
  size_t body_start_size_ = 0;
  uint64_t requests_ = 0;  // requests begun on this connection
  std::string client_ip_;
  std::string scratch_;  // working memory of the phases, its capacity kept across requests
  std::chrono::steady_clock::time_point header_started_;  // of the request being read

  // The request in flight, made fresh when its header was read; none between requests.
  std::optional<RequestContext> ctx_;
  // The HTTP/1.1 side of that request on this connection: fresh for each request.
  struct Message {
    unsigned client_version = 11;
    bool client_keep_alive = true;  // the client's wish; draining overrides it per response
    bool response_keep_alive = true;
    bool upstream_chunked = false;    // the request goes upstream chunked
    bool request_unfinished = false;  // the upstream answered before taking the whole body
    bool short_body_probed = false;   // DoReadShortBody looked past a full buffer
    bool body_with_head = false;      // body_start_ is the whole body, sent with the head
    BodyFraming response_framing = BodyFraming::kRaw;
    bool response_head_sent = false;  // written before the response body relay began
    bool expects_continue = false;
  };
  Message message_;
  // The request to an h2c service, if it is one; made fresh for each (StartH2c).
  std::optional<H2cBridge> bridge_;
  // The request's aggregate (an aggregate route), kept until the request ends: its answer's
  // bytes count against the worker's budget until then.
  std::shared_ptr<Aggregator> aggregate_;
  struct H2cSide {
    size_t consumed = 0;  // of body_start_: [consumed, body_start_size_) not yet taken
    HttpFields request_trailers;
    bool accepts_trailers = false;  // the client's TE names "trailers"
    bool reading = false;           // a read of the request body is in flight
    bool writing = false;           // a write of the response is in flight
    bool responding = false;        // the response header came
    bool head_due = false;          // the response head is still to be written
    bool ended = false;             // the response was written whole
    std::function<void()> then;     // AfterH2c's
    bool posted = false;            // `then` is about to run
    std::array<boost::asio::const_buffer, 4> buffers;
    char size_line[kMaxChunkSizeLine];
    std::string tail;  // the last chunk and the trailers
  };
  H2cSide h2c_;
  bool awaiting_request_ = false;  // waiting for the header of the next request
  bool preface_checked_ = false;   // the first bytes were not HTTP/2's preface
};

}  // namespace gw
