// Request-path normalization, shared by the gateway (before routing) and the control plane
// (a route path must already be in normal form).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw {

// Normalizes an origin-form path (no query, no fragment) the way RFC 3986 section 6 says:
// percent-encoded unreserved characters are decoded, other escapes get upper-case hex (so
// "%2f" becomes "%2F" and is never decoded into a separator), runs of '/' are merged and
// "." / ".." segments are removed. Returns nullopt, with a reason in *error when given, for
// a path that does not start with '/', holds a character that is not allowed in a path, or
// holds a malformed escape.
std::optional<std::string> NormalizePath(std::string_view path, std::string* error = nullptr);

// True when `path` lies under route prefix `prefix` on a segment boundary:
// "/api/order" covers "/api/order" and "/api/order/7", never "/api/orders". "/" covers all.
bool PrefixCovers(std::string_view prefix, std::string_view path);

}  // namespace gw
