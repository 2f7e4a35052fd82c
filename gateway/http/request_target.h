// RequestTarget: the parts of a client's request-target that routing and forwarding use, and
// the syntax of the authority (Host) the gateway accepts.
//
// The gateway routes on the normalized path and forwards that path with the client's query
// string untouched. A request-target in absolute-form also names the authority, which then
// replaces the Host header (RFC 9112 section 3.2.2). Pure functions of the data path
// (gateway/proxy).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw {

struct RequestTarget {
  std::string_view path;       // before '?', not yet normalized; "/" for an empty absolute path
  std::string_view query;      // after '?', empty when there is none
  bool has_query = false;      // a '?' was present (even with an empty query)
  std::string_view authority;  // absolute-form only: "host[:port]", a valid Host value
  bool absolute_form = false;
};

// Splits an origin-form ("/path?query") or absolute-form ("http://host:port/path?query", scheme
// http or https in any case) request-target. nullopt for any other form (authority-form,
// asterisk-form "*", other schemes) and for an absolute-form whose authority is not a valid
// Host value (userinfo included), which this gateway refuses with 400.
std::optional<RequestTarget> SplitRequestTarget(std::string_view target);

// Whether `value` is a valid Host header value: uri-host [":" port] (RFC 9110 section 7.2,
// RFC 3986 section 3.2.2). uri-host is an IP-literal in brackets (IPv6 or IPvFuture), or a
// non-empty reg-name (unreserved, pct-encoded and sub-delims characters, which covers IPv4);
// port is digits, at most 65535. Empty is not valid here (an HTTP/1.0 caller may treat an empty
// Host as absent).
bool IsValidHost(std::string_view value);

// The uri-host of a valid Host value, without the port ("[::1]" for "[::1]:8080").
std::string_view HostWithoutPort(std::string_view host);

// The request-target sent upstream: `normalized_path` plus the original query, written into
// `out` (its capacity is reused).
void BuildUpstreamTarget(std::string& out, std::string_view normalized_path,
                         const RequestTarget& original);

}  // namespace gw
