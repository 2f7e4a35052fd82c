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
// A 101 to an upgrade request turns the connection into a Tunnel instead of step 6. A
// connection whose first bytes are the HTTP/2 preface (prior knowledge, h2c), or whose TLS
// handshake chose `h2` by ALPN, is handed to the worker's HTTP/2 carrier before step 1
// (Worker::ServeHttp2); Upgrade: h2c is an ordinary upgrade.
// A response written once the worker drains says Connection: close.
// Owned by its pending operations through shared_from_this(); created by a Worker's acceptor
// and run on that worker's thread only. Never throws.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/intrusive/list_hook.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/exchange/local_reply.h"
#include "gateway/exchange/request_context.h"
#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/net/client_stream.h"
#include "gateway/net/net.h"
#include "gateway/net/timed_socket.h"
#include "gateway/proxy/body_relay.h"
#include "gateway/proxy/forwarder.h"
#include "gateway/proxy/tunnel.h"
#include "gateway/router/route_table.h"

namespace gw {

class Worker;

// The worker keeps a list of its sessions (to close idle ones when draining); a session leaves
// it when destroyed.
using SessionListHook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class Session final : public std::enable_shared_from_this<Session>,
                      public ForwardSink,
                      public RelaySink,
                      public SessionListHook {
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
  bool awaiting_request_ = false;  // waiting for the header of the next request
  bool preface_checked_ = false;   // the first bytes were not HTTP/2's preface
};

}  // namespace gw
