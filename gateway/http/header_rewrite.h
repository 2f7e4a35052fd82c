// Header rewriting between the client hop and the upstream hop (both directions).
//
// Every decision the proxy makes about headers lives here as a pure function over Beast fields,
// so it is tested without sockets: request framing checks (Transfer-Encoding), hop-by-hop
// stripping (RFC 9110 section 7.6.1), the X-Forwarded-* headers, the request id, and message
// the framing of a streamed body on each hop.
// Called by the Session for each request on its worker thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/http/http_message.h"
#include "gateway/http/proxy_error.h"
#include "gateway/http/request_id.h"

namespace gw {

// Whether a request's Transfer-Encoding lets the gateway find where its body ends (RFC 9112
// section 6.3), over every Transfer-Encoding line taken as one comma-separated list of codings
// (case-insensitive, empty elements ignored). kNone when there is no Transfer-Encoding, or when
// "chunked" is the final coding and appears exactly once; kNotImplemented (501) when other
// codings precede it, which the gateway does not decode; kBadRequest (400) for anything else
// ("gzip" alone, "xchunked", "chunked, chunked", an empty value, an HTTP/1.0 request with any
// Transfer-Encoding: RFC 9112 section 6.1). Either failure must close the connection: the body's
// end is unknown. (Transfer-Encoding with Content-Length is refused by the parser before this.)
ProxyError CheckTransferEncoding(const HttpFields& fields, unsigned version);

// The request header fields whose name holds '_' (see UnderscoreHeaders): how many there were;
// with `remove` they are erased as well.
size_t StripUnderscoreHeaders(HttpFields& fields, bool remove);

// Removes the hop-by-hop headers Connection, Keep-Alive, Proxy-Connection, TE,
// Transfer-Encoding and Upgrade, and every header that a Connection header names. Trailer,
// which announces a trailer section, is end-to-end (RFC 9110 section 6.6.2): the framing
// functions below drop it when the message they frame is not chunked. Host is never
// removed that way: the upstream needs it.
void StripHopByHop(HttpFields& fields);

// Whether the sender of a message with these fields and HTTP `version` (10, 11) keeps the
// connection open after it: every Connection line counts (a "close" token in any of them
// closes; HTTP/1.0 needs a "keep-alive" token). Beast's keep_alive() reads only the first line.
bool KeepAlive(const HttpFields& fields, unsigned version);

// The longest header value the gateway sets (what Beast's fields can hold).
inline constexpr size_t kMaxHeaderValueSize = 65533;

// The X-Forwarded-For to send upstream: every X-Forwarded-For value the client sent, in order,
// joined by ", ", with `client_ip` appended. Written into `out`. False when the chain would be
// longer than kMaxHeaderValueSize.
bool ForwardedForChain(const HttpFields& fields, std::string_view client_ip, std::string& out);

// The client's X-Request-Id when it is acceptable (IsAcceptableRequestId), else empty.
std::string_view ClientRequestId(const HttpFields& fields);

// All request header decisions for the upstream hop, in this order: hop-by-hop headers are
// stripped first, so a Connection header can never remove what the gateway adds; the request id
// is chosen (the client's if acceptable, else a new one from `ids`) into `request_id`; then
// X-Forwarded-For is appended to, X-Forwarded-Proto set to "http" ("https" when the request
// came over TLS: `tls`), X-Forwarded-Host set to the
// client's Host (dropped when there is none) and X-Request-Id set. Host is kept as the client
// sent it. Expect is dropped: the gateway answers it itself when it starts reading the body.
// `scratch` is working memory whose capacity is reused across requests. False (and nothing
// forwarded) when the X-Forwarded-For chain grew too long: a 431 for the client.
bool RewriteRequestHeaders(HttpFields& fields, std::string_view client_ip, RequestIdGenerator& ids,
                           std::string& request_id, std::string& scratch, bool tls = false);

// Response header decisions for the client hop: hop-by-hop headers stripped, X-Request-Id set.
void RewriteResponseHeaders(HttpFields& fields, std::string_view request_id);

// Completes a client request header for the upstream hop after RewriteRequestHeaders: HTTP/1.1
// (keep-alive is the default there), `target` as request-target, and the framing of the body as
// the client sent it, which the gateway streams through unchanged: `chunked` keeps
// Transfer-Encoding: chunked; else `content_length` is announced (a zero length only for
// methods that carry a body: POST, PUT, PATCH; none at all for the others without a body).
void FrameUpstreamRequest(HttpRequestHeader& request, std::string_view target,
                          std::optional<uint64_t> content_length, bool chunked);

// Completes an upstream response header for the client hop after RewriteResponseHeaders and
// returns whether the connection stays open after it. The client's HTTP version and Connection
// as `keep_alive` and that version require. A body of known length (`content_length`, from the
// upstream's Content-Length) keeps it; a body of unknown length (upstream chunked or
// close-delimited) is sent chunked to an HTTP/1.1 client and close-delimited to an HTTP/1.0
// one (no Content-Length, no chunking, the connection closed after it: then false). A response
// to HEAD keeps the upstream's Content-Length; 1xx, 204 and 304 get no framing header added.
bool FrameClientResponse(HttpResponseHeader& response, bool head_request, unsigned client_version,
                         bool keep_alive, std::optional<uint64_t> content_length);

// The upgrade protocol a request asks for (RFC 9110 section 7.8): the Upgrade header's value
// when a Connection header names "upgrade" and the request is HTTP/1.1; else empty.
std::string_view RequestedUpgrade(const HttpFields& fields, unsigned version);

}  // namespace gw
