#include "gateway/http/proxy_error.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include "common/json.h"

namespace gw {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

ErrorReply ReplyFor(ProxyError error) {
  switch (error) {
    case ProxyError::kNone:
      return {200, "", "none"};
    case ProxyError::kBadRequest:
      return {400, "bad request", "bad_request"};
    case ProxyError::kInvalidPath:
      return {400, "invalid path", "invalid_path"};
    case ProxyError::kUnderscoreHeader:
      return {400, "header names with '_' are refused", "underscore_header"};
    case ProxyError::kUnauthorized:
      return {401, "unauthorized", "unauthorized"};
    case ProxyError::kRateLimited:
      return {429, "rate limited", "rate_limited"};
    case ProxyError::kNoRoute:
      return {404, "no route", "no_route"};
    case ProxyError::kMethodNotAllowed:
      return {405, "method not allowed", "method_not_allowed"};
    case ProxyError::kRequestTimeout:
      return {408, "request timeout", "request_timeout"};
    case ProxyError::kBodyTooLarge:
      return {413, "request body too large", "body_too_large"};
    case ProxyError::kUriTooLong:
      return {414, "request target too long", "uri_too_long"};
    case ProxyError::kHeaderTooLarge:
      return {431, "request header too large", "header_too_large"};
    case ProxyError::kNotImplemented:
      return {501, "transfer coding not implemented", "not_implemented"};
    case ProxyError::kNotReady:
      return {503, "no config loaded", "not_ready"};
    case ProxyError::kUpstreamUnavailable:
      return {503, "upstream unavailable", "upstream_unavailable"};
    case ProxyError::kCircuitOpen:
      return {503, "upstream circuit open", "circuit_open"};
    case ProxyError::kUpstreamConnect:
      return {502, "upstream connect failed", "upstream_connect_failed"};
    case ProxyError::kUpstreamFailed:
      return {502, "bad upstream response", "upstream_failed"};
    case ProxyError::kUpstreamTimeout:
      return {504, "upstream timeout", "upstream_timeout"};
  }
  return {500, "internal error", "internal"};
}

std::string ErrorBody(ProxyError error, std::string_view path) {
  JsonWriter json;
  json.BeginObject().Key("error").String(ReplyFor(error).message);
  if (error == ProxyError::kNoRoute) json.Key("path").String(path);
  json.EndObject();
  return json.str();
}

bool IsAnswerableReadError(const beast::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::end_of_stream).category()) return false;
  return ec != http::error::end_of_stream && ec != http::error::partial_message;
}

ProxyError ClassifyRequestReadError(const beast::error_code& ec, std::string_view unparsed,
                                    bool request_line_parsed) {
  if (ec == http::error::body_limit) return ProxyError::kBodyTooLarge;
  // The read buffer's bound (ReadBufferLimit): a trailer section or a chunk line that does not
  // end.
  if (ec == http::error::buffer_overflow) return ProxyError::kHeaderTooLarge;
  if (ec == http::error::header_limit) {
    // RFC 9110 15.5.15: a request-target too long to parse is 414; the rest of the header 431.
    // Beast consumes each complete header line as it parses: once the request line is parsed,
    // the bytes left are a header line's, and a long one is a 431, not a 414.
    const bool line_unfinished =
        !request_line_parsed && !unparsed.empty() && unparsed.find('\n') == std::string_view::npos;
    return line_unfinished ? ProxyError::kUriTooLong : ProxyError::kHeaderTooLarge;
  }
  return ProxyError::kBadRequest;
}

ProxyError ClassifyUpstreamError(UpstreamStage stage, const beast::error_code& ec) {
  switch (stage) {
    case UpstreamStage::kResolve:
      return ProxyError::kUpstreamUnavailable;
    case UpstreamStage::kConnect:
      return ProxyError::kUpstreamConnect;
    case UpstreamStage::kExchange:
      return ec == beast::error::timeout ? ProxyError::kUpstreamTimeout
                                         : ProxyError::kUpstreamFailed;
  }
  return ProxyError::kUpstreamFailed;
}

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe || ec == asio::error::not_connected;
}

ProxyError FinalUpstreamError(bool any_connect_failure) {
  return any_connect_failure ? ProxyError::kUpstreamConnect : ProxyError::kUpstreamUnavailable;
}

// Where the gateway knows more than an HTTP status says, the code says that; otherwise gRPC's
// mapping of HTTP statuses (doc/http-grpc-status-mapping.md).
GrpcStatus GrpcStatusFor(ProxyError error) {
  switch (error) {
    case ProxyError::kNone:
      return GrpcStatus::kOk;
    // 400: the request broke HTTP's rules, a fault of the client's gRPC stack (the map's 400).
    case ProxyError::kBadRequest:
    case ProxyError::kInvalidPath:
    case ProxyError::kUnderscoreHeader:
      return GrpcStatus::kInternal;
    case ProxyError::kUnauthorized:  // 401, as the map
      return GrpcStatus::kUnauthenticated;
    // 429: the map's UNAVAILABLE is for a 429 of unknown meaning, and gRPC clients may retry
    // UNAVAILABLE at once; the gateway knows it is a quota, which gRPC names RESOURCE_EXHAUSTED.
    case ProxyError::kRateLimited:
      return GrpcStatus::kResourceExhausted;
    case ProxyError::kNoRoute:           // 404, as the map: no such method behind the gateway
    case ProxyError::kMethodNotAllowed:  // 405: not in the map; the route takes no such call
      return GrpcStatus::kUnimplemented;
    // 408: the client's request did not arrive in time; a gRPC client sees its deadline pass.
    case ProxyError::kRequestTimeout:
      return GrpcStatus::kDeadlineExceeded;
    // 413, 414, 431: a message or metadata over a limit, which gRPC's own servers answer with
    // RESOURCE_EXHAUSTED (the map has no entry for them, its default UNKNOWN says nothing).
    case ProxyError::kBodyTooLarge:
    case ProxyError::kUriTooLong:
    case ProxyError::kHeaderTooLarge:
      return GrpcStatus::kResourceExhausted;
    // 501: a transfer coding the gateway does not support; UNIMPLEMENTED is gRPC's "not
    // supported" (the map has no entry: its default UNKNOWN says nothing).
    case ProxyError::kNotImplemented:
      return GrpcStatus::kUnimplemented;
    // 502 and 503, as the map: passing, worth a retry by the client.
    case ProxyError::kNotReady:
    case ProxyError::kUpstreamUnavailable:
    case ProxyError::kCircuitOpen:
    case ProxyError::kUpstreamConnect:
    case ProxyError::kUpstreamFailed:
      return GrpcStatus::kUnavailable;
    // 504: the map says UNAVAILABLE; the gateway knows the upstream's time ran out.
    case ProxyError::kUpstreamTimeout:
      return GrpcStatus::kDeadlineExceeded;
  }
  return GrpcStatus::kInternal;
}

std::string PercentEncodeGrpcMessage(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(message.size());
  for (const char ch : message) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte >= 0x20 && byte <= 0x7E && byte != '%') {
      encoded += ch;
    } else {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0xF];
    }
  }
  return encoded;
}

bool IsIdempotentMethod(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE" || method == "TRACE";
}

}  // namespace gw
