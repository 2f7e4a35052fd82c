// H2cBridge: the upstream side of one request to an h2c service (gRPC), whichever protocol the
// client speaks. Both carriers use it: the HTTP/2 exchange (server/http2_exchange.cc) and the
// HTTP/1.1 session (server/session.cc); each implements H2cClient, its side of the bridge.
//
// The request goes as a stream on a connection of the worker's H2ClientPool to the endpoint
// the Forwarder picks (OpenMultiplexed: balancing, health, passive ejection, circuit breaking,
// the connect timeout, failover), or on a new connection, which holds a place under the
// service's max_connections and counts in gateway_upstream_connections for as long as it is
// open. The request body is pulled straight from what the client side received
// (H2cClient::RequestBody, consumed once the upstream took the bytes); the response body comes
// through one relay buffer (ResponseBody, ConsumeResponse once the client took the bytes), so
// bodies of any size move in constant memory. Trailers pass both ways (the request's forwardable
// ones), a trailers-only answer as one header. REFUSED_STREAM is sent again once on another
// connection (the first kReplayWindow bytes of body sent stay unconsumed until the upstream
// answers, for that). The response header waits at most the per-try timeout
// (--upstream-timeout); after it only the route's --timeout bounds the stream, and a gRPC
// request body may be quiet for as long (any other keeps to --body-timeout). A reset or no
// header in time, and a 5xx answer, count toward the endpoint's passive ejection.
//
// Owned by the carrier's exchange, which passes itself as `owner` to Start: the bridge keeps
// it alive while an operation of its own is pending (busy()). One worker's thread; never
// throws. H2cClient callbacks come from the bridge's I/O, or from inside Start and Abort when
// they answer at once (OnBridgeError, OnBridgeAbort, OnBridgeIdle); never from Cancel.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "gateway/exchange/request_context.h"
#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/net/net.h"
#include "gateway/proxy/forwarder.h"
#include "gateway/proxy/relay_buffers.h"
#include "gateway/upstream/h2_client.h"

namespace gw {

class Worker;

// The client side of an H2cBridge: the carrier of the request (an HTTP/2 stream, an HTTP/1.1
// connection).
class H2cClient {
 public:
  // Request body received from the client and not yet consumed, oldest first.
  virtual std::string_view RequestBody() const = 0;
  // The request ended: RequestBody() holds the last of it.
  virtual bool RequestEnded() const = 0;
  // Its trailer section (the bridge forwards the fields IsForwardableTrailer allows).
  virtual const HttpFields& RequestTrailers() const = 0;
  // The first `n` bytes of RequestBody() went upstream for good: the client may send more.
  virtual void ConsumeRequest(size_t n) = 0;
  // No response header came: the gateway answers `error` itself (MakeErrorReply).
  virtual void OnBridgeError(ProxyError error) = 0;
  // The response header, ResponseFilter applied. `has_body`: the body (then maybe trailers)
  // follows in ResponseBody(); else the response is this header alone (HEAD, a gRPC
  // trailers-only answer).
  virtual void OnBridgeResponse(HttpResponseHeader& header, bool has_body) = 0;
  // ResponseBody() was empty and has bytes now, or the response is whole (response_done()).
  virtual void OnBridgeResponseBody() = 0;
  // The response stops short after its header: the client must learn that it is incomplete
  // (`error_code`: NGHTTP2_CANCEL, else INTERNAL_ERROR).
  virtual void OnBridgeAbort(uint32_t error_code) = 0;
  // After Cancel, or once the upstream stream ended: nothing of the bridge is pending any more.
  virtual void OnBridgeIdle() = 0;

 protected:
  ~H2cClient() = default;
};

// "Name: value\r\n" lines (Trailers::wire) as fields: an HTTP/1.1 message's trailers for an
// HTTP/2 peer.
HttpFields ParseWireFields(std::string_view wire);

// How much of a request body sent on an h2c stream the client side keeps unconsumed until the
// upstream answers, for the retry of a REFUSED_STREAM: a unary gRPC call's message, usually.
inline constexpr size_t kReplayWindow = 16 * 1024;

class H2cBridge final : public ForwardSink, private H2UpstreamStream {
 public:
  // `forwarder`, `ctx` (routed, ctx.upstream an h2c service), `request` (rewritten for the
  // upstream hop by UpstreamRequestFilter) and `client` are the carrier's and outlive the bridge.
  H2cBridge(Worker& worker, Forwarder& forwarder, RequestContext& ctx, HttpRequest& request,
            H2cClient& client);
  ~H2cBridge() override;
  H2cBridge(const H2cBridge&) = delete;
  H2cBridge& operator=(const H2cBridge&) = delete;

  // Sends the request (once). `body_limit` (0: none) bounds the request body: over it, 413.
  void Start(std::shared_ptr<void> owner, uint64_t body_limit);
  // More of the request body is in the client's RequestBody(), or it ended.
  void OnRequestBody();

  // Response body received and not yet taken by the client.
  std::span<const uint8_t> ResponseBody() const {
    return {reinterpret_cast<const uint8_t*>(buffer_.get()) + offset_, filled_ - offset_};
  }
  // The client took the first `n` bytes of ResponseBody(): the upstream may send more.
  void ConsumeResponse(size_t n);
  // The whole response is here: ResponseBody() is its rest, response_trailers() its trailers.
  bool response_done() const { return response_done_; }
  const HttpFields& response_trailers() const { return response_trailers_; }

  // Resets the upstream stream and tells the client `error` (OnBridgeError before the
  // response header, OnBridgeAbort after it); during the pick, once it ended.
  void Abort(ProxyError error);
  // The client is gone: the upstream stream, or the pick in progress, is cancelled;
  // OnBridgeIdle follows unless the bridge is idle already.
  void Cancel();
  // An operation of the bridge is pending (the pick, the upstream stream).
  bool busy() const { return forwarder_pending_ || open_; }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { kOpening, kResponseHeader, kResponseBody, kDone };

  void Open();
  void OnUpstreamOpen(ProxyError error) override;
  void OnResponseHeader(ProxyError error) override;
  void Submit();
  // REFUSED_STREAM before the response header, the body sent still unconsumed (replay_): the
  // request goes once more, on another connection (RFC 9113 section 8.7). False when that was
  // done already or cannot be.
  bool Retry();
  // The upstream stream must end by `at` (time_point::max(): no bound); then Abort.
  void ArmTimer(Clock::time_point at);
  void Fail(ProxyError error);
  // The upstream stream ended and no retry follows: the bridge lets go of the exchange.
  void BecomeIdle();

  // H2UpstreamStream.
  http2::BodyPull PullRequestBody(std::span<uint8_t> out) override;
  void OnResponseHeader(unsigned status, const HttpFields& fields, bool end_stream) override;
  void OnResponseData(std::span<const uint8_t> data) override;
  void OnResponseTrailers(const HttpFields& fields) override;
  void OnClose(uint32_t error_code) override;

  Worker& worker_;
  Forwarder& forwarder_;
  RequestContext& ctx_;
  HttpRequest& request_;
  H2cClient& client_;
  std::shared_ptr<void> owner_;  // while busy()
  SteadyTimer timer_;            // the response header, then the route's timeout
  SteadyTimer body_timer_;       // a quiet request body (not gRPC)
  Phase phase_ = Phase::kOpening;
  uint64_t body_limit_ = 0;
  std::shared_ptr<H2ClientConnection> h2_;       // the connection of the stream, or at hand
  std::shared_ptr<H2ClientConnection> refused_;  // the one that refused the first attempt
  int32_t id_ = 0;
  // Request body bytes sent upstream but left unconsumed on the client side, so that a refused
  // stream can send them again (at most kReplayWindow, before the response header).
  size_t replay_ = 0;
  bool grpc_ = false;                           // the request is a gRPC call
  bool forwarder_pending_ = false;              // OpenMultiplexed will call back
  bool open_ = false;                           // the upstream stream's OnClose is still to come
  bool aborted_ = false;                        // the gateway reset the upstream stream
  bool cancelled_ = false;                      // the client is gone
  ProxyError abort_error_ = ProxyError::kNone;  // Abort came during the pick
  // Response body: the window [offset_, filled_) of buffer_ not yet taken.
  RelayBuffers::Buffer buffer_;
  size_t offset_ = 0;
  size_t filled_ = 0;
  bool response_done_ = false;
  HttpFields response_trailers_;
};

}  // namespace gw
