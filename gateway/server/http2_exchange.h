// The exchange of one HTTP/2 stream: the StreamHandler that carries a request from an h2
// client through the exchange's phases to an HTTP/1.1 upstream and its answer back.
//
// Per stream, in the order Session (session.cc) follows for HTTP/1.1: a fresh RequestContext;
// the request-target split and path normalization (Host from :authority is the conversion's);
// RouteRequest, RequestFilter, PickUpstream, UpstreamRequestFilter; a Forwarder of its own opens
// the upstream with the request as HTTP/1.1 (Content-Length when the client's request ended
// with its header or announced one, else chunked with the forwardable trailers); then
// ResponseFilter and LogExchange, exactly once per stream.
//
// Bodies move in constant memory, one window per direction: a request DATA piece is copied into
// a relay buffer, written upstream, and only then Consume()d (which lets the client send more);
// the response body is parsed from the upstream connection into a relay buffer that
// PullResponseBody drains, and the next upstream read starts once it is drained (then Resume).
// An upstream failure before the response header is answered as the HTTP/1.1 session would
// (MakeErrorReply: status, JSON body, reply headers); after it, RST_STREAM(INTERNAL_ERROR). A
// stream the client resets closes the upstream connection (never pooled) and is released once
// nothing of the exchange uses it any more.
//
// A service of protocol UPSTREAM_H2C (gRPC) gets the request as a stream instead, through the
// h2c bridge (h2c_bridge.h: the pick, the worker's H2ClientPool, trailers, resets, the
// REFUSED_STREAM retry, the timeouts), whose client side the exchange is: the request body is
// pulled straight from the client stream's window (Consume once the upstream took the bytes),
// the response pulled from the bridge's buffer (ConsumeResponse once the client took them). A
// client reset cancels the upstream stream; an upstream reset before the response header is the
// gateway's 502 (gRPC UNAVAILABLE), after it a reset.
#pragma once

#include <string>

#include "gateway/http2/stream.h"

namespace gw {

class Worker;

// The handler factory of one h2 connection from `client_ip`, on `worker`'s thread; `tls`: it
// came over TLS (X-Forwarded-Proto https, no --https-redirect).
http2::StreamHandlerFactory MakeExchangeHandlerFactory(Worker& worker, std::string client_ip,
                                                       bool tls);

}  // namespace gw
