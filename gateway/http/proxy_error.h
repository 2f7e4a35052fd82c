// ProxyError: every way a request can fail inside the gateway, and the HTTP answer each one gets.
//
// The data path never throws: the session and the forwarder classify failures into a ProxyError
// and the client receives the status and the small JSON body mapped here. Pure functions, so the
// mapping is tested without sockets. Owned by the data path (gateway/proxy).
#pragma once

#include <boost/beast/core/error.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gw {

enum class ProxyError {
  kNone,
  kBadRequest,           // 400: unparsable request, bad Host or request-target, bad framing
  kInvalidPath,          // 400: path that cannot be normalized
  kUnderscoreHeader,     // 400: a header name with '_' under --underscore-headers reject
  kUnauthorized,         // 401: the route needs credentials the request lacks
  kRateLimited,          // 429: over the route's rate limit
  kNoRoute,              // 404: no route matches (body also names the path)
  kMethodNotAllowed,     // 405: an aggregate route takes GET and HEAD only (with Allow)
  kRequestTimeout,       // 408: request header or body not received within its timeout
  kBodyTooLarge,         // 413: body beyond --max-body-size
  kUriTooLong,           // 414: the request line alone is beyond --max-header-size
  kHeaderTooLarge,       // 431: header beyond --max-header-size
  kNotImplemented,       // 501: a transfer coding other than chunked
  kNotReady,             // 503: no config loaded yet
  kUpstreamUnavailable,  // 503: DNS failure or no usable endpoint
  kCircuitOpen,          // 503: the service's max_connections or max_pending is reached
  kUpstreamConnect,      // 502: connect refused, unreachable or timed out on every endpoint
  kUpstreamFailed,       // 502: connection lost or invalid response after connecting
  kUpstreamTimeout,      // 504: no complete response within --upstream-timeout
};

struct ErrorReply {
  unsigned status;
  std::string_view message;  // the "error" field of the JSON body
  std::string_view code;     // stable snake_case name: the access log's "reason", the metrics'
};

inline constexpr size_t kProxyErrorCount = static_cast<size_t>(ProxyError::kUpstreamTimeout) + 1;

ErrorReply ReplyFor(ProxyError error);

// {"error":"<message>"}; for kNoRoute {"error":"no route","path":"<path>"}.
std::string ErrorBody(ProxyError error, std::string_view path = {});

// True when a failed client read is worth an answer: the request broke HTTP's rules or a
// limit. False when there is nobody to answer: EOF between or inside requests, a timeout, a
// reset or a cancelled read.
bool IsAnswerableReadError(const boost::beast::error_code& ec);

// What a failed client read means: a request over a limit (413; 414 when the parser had not
// parsed the request line yet (`request_line_parsed` false) and `unparsed`, the bytes it was
// given, does not hold the line's end either: the request-target alone is too long; else 431,
// a header section too large however its lines are cut into packets) or a malformed one (400).
ProxyError ClassifyRequestReadError(const boost::beast::error_code& ec,
                                    std::string_view unparsed = {},
                                    bool request_line_parsed = false);

// Where an upstream attempt failed; the forwarder picks the next step and the final answer
// from this.
enum class UpstreamStage { kResolve, kConnect, kExchange };

ProxyError ClassifyUpstreamError(UpstreamStage stage, const boost::beast::error_code& ec);

// True when `ec` from reading a response on a reused connection means the upstream had closed
// that connection while it sat in the pool (so an idempotent request may be sent again).
bool IsStaleConnectionError(const boost::beast::error_code& ec);

// The answer after every endpoint of a target failed: 502 when at least one endpoint was
// reachable by address but refused or timed out, else 503 (names did not resolve, no endpoint).
ProxyError FinalUpstreamError(bool any_connect_failure);

// The gRPC status codes (grpc/include/grpcpp/support/status_code_enum.h) the gateway's own
// answers carry; only those GrpcStatusFor gives.
enum class GrpcStatus : uint8_t {
  kOk = 0,
  kDeadlineExceeded = 4,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// The status a gRPC client gets for `error`: gRPC clients read grpc-status, not the HTTP
// status, so a local reply to a gRPC request carries this in place of ReplyFor's status.
GrpcStatus GrpcStatusFor(ProxyError error);

// A grpc-message value (gRPC over HTTP/2, "Responses"): bytes outside 0x20-0x7E, and '%'
// itself, as %XX (upper-case hex); the rest as they are.
std::string PercentEncodeGrpcMessage(std::string_view message);

// Idempotent methods (RFC 9110 section 9.2.2) may be resent on a fresh connection.
bool IsIdempotentMethod(std::string_view method);

}  // namespace gw
