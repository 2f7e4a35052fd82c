// Session: one client connection to the gateway's HTTP listener.
//
// Serves requests one at a time, in order (HTTP/1.1 keep-alive and pipelining, HTTP/1.0
// honoured), each through named phases:
//   1. read the request header (--header-timeout; idle keep-alive waits use --idle-timeout);
//   2. decide on the header alone: framing (a Transfer-Encoding other than "chunked" alone: 400
//      or 501 and close), Host, request-target, path normalization, route (path, host, method,
//      headers), the route's policies (ApplyRoutePolicies: CORS preflight, authentication, rate
//      limit), path and header rewriting, body limit (413 from Content-Length up front, or when
//      a chunked body crosses it);
//   3. open the upstream (Forwarder: the split's target, an endpoint picked by its balancer,
//      pooled connection or connect, retries) and write the header; a
//      chunked body is read first up to one relay buffer: when it ends there it goes upstream
//      with a Content-Length (many upstreams take no chunked requests), else chunked; so is
//      the body of an idempotent request on a route with retries when its Content-Length fits
//      one relay buffer. Such a whole body goes with the head, and again with a resend;
//   4. stream the request body upstream through a fixed buffer (100 Continue first when the
//      client expects it; a stalled body gets 408);
//   5. read the upstream's response header and rewrite it for the client;
//   6. stream the response to the client, the header with the first piece of the body
//      (chunked to HTTP/1.1 when its length is unknown, close-delimited to HTTP/1.0); an
//      upstream failing before anything was written gets 502/504, one failing mid-body aborts
//      the client connection (reset), so a truncated body never looks complete;
//   7. CompleteRequest: the one place where a request ends, whatever happened, with its record.
// A 101 to an upgrade request turns the connection into a Tunnel instead of step 6.
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

#include "gateway/proxy/body_relay.h"
#include "gateway/proxy/forwarder.h"
#include "gateway/proxy/http_message.h"
#include "gateway/proxy/net.h"
#include "gateway/proxy/proxy_error.h"
#include "gateway/proxy/timed_socket.h"
#include "gateway/proxy/tunnel.h"
#include "gateway/router/route_table.h"

namespace gw {

class Worker;

// The worker keeps a list of its sessions (to close idle ones when draining); a session leaves
// it when destroyed.
using SessionListHook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

// What is known about a request when it completes: filled in along its phases, read in one
// place (Session::CompleteRequest).
struct RequestRecord {
  enum class End {
    kResponded,   // a whole response (from the upstream or the gateway) reached the client
    kAborted,     // the client connection was reset mid-response (upstream or write failure)
    kClientGone,  // the client left or stalled before a response could be written
    kUpgraded,    // 101 relayed: the connection became a tunnel
  };
  std::chrono::steady_clock::time_point started;            // the request header began
  std::chrono::steady_clock::time_point upstream_opened;    // upstream chosen, request going
  std::chrono::steady_clock::time_point upstream_answered;  // its response header arrived
  unsigned status = 0;                                      // sent to the client; 0 when none was
  uint64_t bytes_in = 0;                                    // request body bytes sent upstream
  uint64_t bytes_out = 0;             // response body bytes sent to the client
  const RouteEntry* route = nullptr;  // the matched route, if any (valid in CompleteRequest)
  std::string upstream;               // host:port of the endpoint used (with --access-log)
  std::string consumer;               // authenticated by the route's policy; empty: none
  // Why the gateway answered itself (ErrorReply::code, or "cors_preflight"); empty: the
  // upstream answered.
  std::string_view reason;
  uint32_t retries = 0;  // route retries made for this request
  // The route's rate limit let the request through: its RateLimit-* go on the response.
  std::optional<RateLimitDecision> rate_limit;
  End end = End::kResponded;
};

class Session : public std::enable_shared_from_this<Session>,
                public ForwardSink,
                public RelaySink,
                public SessionListHook {
 public:
  Session(Worker& worker, TcpSocket socket);
  ~Session();

  void Start();

  // Draining: closes the connection if it is waiting for a request that has not begun.
  void CloseIfIdle();

 private:
  // 1. The request header.
  void DoReadRequest();
  void DoWaitForRequest();
  void DoReadHeader();
  void OnReadHeader(const boost::system::error_code& ec);
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
  void LogRequest();
  void ContinueOrClose(bool keep_alive);
  void ReplyError(ProxyError error, bool close, std::string_view path = {});
  // A response made by the gateway: `status`, JSON `body` (none for 204), reply_headers_.
  void ReplyLocal(unsigned status, std::string body, bool close);
  // The route's policies before the upstream: CORS preflight, authentication, rate limit.
  // False when the request was answered here.
  bool ApplyRoutePolicies(bool unread_body);
  void OnErrorWritten(const boost::system::error_code& ec, bool close);
  void AbortConnection();
  void DoLingeringClose();

  Worker& worker_;
  TimedSocket stream_;
  boost::beast::flat_buffer buffer_;  // what the client sent and no request consumed yet
  std::optional<RequestParser> parser_;
  Forwarder forwarder_;
  BodyRelay<true> request_relay_;
  BodyRelay<false> response_relay_;
  std::string response_head_;  // the response head as written to the client
  boost::beast::http::response<boost::beast::http::string_body> error_response_;
  std::unique_ptr<Tunnel> tunnel_;
  // The start of a request body read before the upstream is chosen (see DoReadShortBody):
  // handed to request_relay_, or, when it is the whole body and body_with_head_, sent by the
  // forwarder with the head (and with each resend).
  RelayBuffers::Buffer body_start_;
  size_t body_start_size_ = 0;
  uint64_t requests_ = 0;  // requests begun on this connection

  // The request in flight.
  RouteTableConstSharedPtr table_;  // taken once per request; kept until it completes
  RequestRecord record_;
  bool in_request_ = false;  // a request began and has not completed
  std::string client_ip_;
  std::string request_id_;
  std::string upstream_target_;
  std::string upgrade_;  // the protocol the request asks to switch to, if any
  std::string scratch_;
  std::vector<std::pair<std::string, std::string>> reply_headers_;  // for the next ReplyLocal
  unsigned client_version_ = 11;
  bool client_keep_alive_ = true;  // the client's wish; draining overrides it per response
  bool response_keep_alive_ = true;
  bool head_request_ = false;
  bool upstream_chunked_ = false;    // the request goes upstream chunked
  bool request_unfinished_ = false;  // the upstream answered before taking the whole body
  bool short_body_probed_ = false;   // DoReadShortBody looked past a full buffer
  bool body_with_head_ = false;      // body_start_ is the whole body, sent with the head
  BodyFraming response_framing_ = BodyFraming::kRaw;
  bool response_head_sent_ = false;  // written before the response body relay began
  bool expects_continue_ = false;
  bool awaiting_request_ = false;  // waiting for the header of the next request
};

}  // namespace gw
