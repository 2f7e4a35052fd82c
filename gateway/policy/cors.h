// CORS: a route's cross-origin policy, for two phases of a request.
//
// - Right after the match, a preflight (OPTIONS with Origin and Access-Control-Request-Method)
//   on a route with a CORS policy is answered by the gateway itself: it never reaches
//   authentication, the rate limit or the upstream (browsers send preflights without
//   credentials).
// - When the response is rewritten, an actual (non-preflight) response gets the
//   Access-Control-* fields for an allowed Origin, and none for any other origin.
//
// A CorsPolicy is built once per config from a CorsConfig (the lead maps gateway.v1.Cors onto
// it) and held by the published RouteTable through a shared_ptr<const CorsPolicy>; everything
// else here is a pure function over string_views. Immutable, so any worker reads it at once.
// Never throws (short of std::bad_alloc while a policy is built).
//
// Decisions (see the Fetch standard, section 3.2, for what browsers check):
// - Origins compare as scheme://host[:port]: scheme and host case-insensitive, a default port
//   (http 80, https 443) in the config dropped, as browsers never send it. "*" allows every
//   origin; the answer is then "Access-Control-Allow-Origin: *", or the request's own origin when
//   credentials are allowed (a browser refuses "*" with credentials). The opaque origin "null"
//   is never echoed.
// - A preflight that is refused (origin, method or a requested header not allowed) is answered
//   204 with no Access-Control-* field, only Vary. A browser fails the CORS check on the missing
//   fields either way (a 403 fails it the same); this is what Envoy sends back to the browser
//   (no CORS fields; Envoy passes a preflight from another origin on to the upstream, the gateway
//   does not), what Kong and the Go rs/cors library answer, and it does not tell a probe which
//   part was refused. AnswerCorsPreflight says which, for the access log.
// - Methods compare exactly (HTTP methods are case-sensitive; browsers upper-case the standard
//   ones; a script's "patch" stays "patch" and is refused unless configured so). Header names
//   compare case-insensitively. "*" in methods or headers allows any; the answer then names what
//   was requested (which also works with credentials, where "*" would be taken literally).
// - Vary: every response on a CORS route gets "Vary: Origin" (added to the upstream's Vary, not
//   replacing it), also for a request without Origin: a shared cache must not serve a response
//   made without CORS fields to a cross-origin request. A preflight answer also varies on
//   Access-Control-Request-Method and -Headers, since it echoes them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy_validation.h"  // kMaxCorsMaxAgeSeconds

namespace gw {

struct CorsConfig {
  std::vector<std::string> origins;         // "*" or "scheme://host[:port]"; at least one
  std::vector<std::string> methods;         // allowed in a preflight; empty: GET, HEAD, POST;
                                            // "*": any
  std::vector<std::string> headers;         // request headers a preflight may ask for; "*": any
  std::vector<std::string> expose_headers;  // response headers a script may read (not yet a
                                            // gatewayctl flag)
  uint32_t max_age_seconds = 0;             // 0: no Access-Control-Max-Age; at most 86400
  bool allow_credentials = false;           // Access-Control-Allow-Credentials: true (not yet a
                                            // gatewayctl flag)
};

// One field to put on the response. `append`: add it as another field line (Vary: the
// upstream's Vary stays); otherwise set it, replacing any the upstream sent. Values point into
// the CorsPolicy or into the request's own field values: use them before either goes away.
struct CorsHeader {
  std::string_view name;
  std::string_view value;
  bool append = false;
};

class CorsHeaders {
 public:
  const CorsHeader* begin() const { return fields_.data(); }
  const CorsHeader* end() const { return fields_.data() + count_; }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The value of the field `name` (exact spelling as set here), or empty.
  std::string_view Find(std::string_view name) const;
  void Add(std::string_view name, std::string_view value, bool append = false);

 private:
  std::array<CorsHeader, 8> fields_{};
  size_t count_ = 0;
};

class CorsPolicy {
 public:
  // The policy for `config`, or nullptr with a one-line reason in *error ("cors origin \"foo\"
  // is not an origin"). The gateway NACKs a config whose policy does not build.
  static std::shared_ptr<const CorsPolicy> Build(const CorsConfig& config, std::string* error);

  // Whether a request from `origin` (the Origin field's value) may read responses.
  bool AllowsOrigin(std::string_view origin) const;
  // Whether a preflight may ask for `method` (exact).
  bool AllowsMethod(std::string_view method) const;
  // Whether a preflight may ask for the request header `name` (case-insensitive).
  bool AllowsHeader(std::string_view name) const;

  bool allow_credentials() const { return allow_credentials_; }
  bool any_method() const { return any_method_; }  // "*" among the methods
  // "*" when any origin gets "*" (any origin allowed, no credentials); else empty: the
  // request's origin is echoed.
  std::string_view wildcard_origin() const { return wildcard_origin_; }
  std::string_view methods_value() const { return methods_value_; }  // ", "-joined
  std::string_view expose_value() const { return expose_value_; }    // "" when none
  std::string_view max_age_value() const { return max_age_value_; }  // "" when 0

  CorsPolicy(const CorsPolicy&) = delete;
  CorsPolicy& operator=(const CorsPolicy&) = delete;

 private:
  CorsPolicy() = default;

  bool any_origin_ = false;
  bool any_method_ = false;
  bool any_header_ = false;
  bool allow_credentials_ = false;
  std::vector<std::string> origins_;  // lower-case, default port dropped
  std::vector<std::string> methods_;
  std::vector<std::string> headers_;  // lower-case
  std::string wildcard_origin_;
  std::string methods_value_;
  std::string expose_value_;
  std::string max_age_value_;
};

using CorsPolicyConstSharedPtr = std::shared_ptr<const CorsPolicy>;

// Whether a request is a CORS preflight: OPTIONS with a non-empty Origin and a non-empty
// Access-Control-Request-Method (the values of those fields; empty when absent).
bool IsCorsPreflight(std::string_view method, std::string_view origin,
                     std::string_view access_control_request_method);

enum class CorsRefusal { kNone, kOrigin, kMethod, kHeader };

struct CorsPreflightAnswer {
  unsigned status = 204;  // always: refused or not
  CorsRefusal refused = CorsRefusal::kNone;
  CorsHeaders headers;  // Vary, and the Access-Control-* fields when not refused
};

// The gateway's answer to a preflight on a route with `policy`: `origin`,
// `request_method` and `request_headers` are the values of Origin,
// Access-Control-Request-Method and Access-Control-Request-Headers (the latter a comma-separated
// list, its field lines joined with ","; empty when absent). Allowed: Access-Control-Allow-Origin,
// -Allow-Credentials (when allowed), -Allow-Methods (the configured list, or the requested method
// for "*"), -Allow-Headers (the requested names, all allowed; absent when none requested),
// -Max-Age (when configured) and Vary.
CorsPreflightAnswer AnswerCorsPreflight(const CorsPolicy& policy, std::string_view origin,
                                        std::string_view request_method,
                                        std::string_view request_headers);

// The fields to add to an actual response on a route with `policy`, for a request whose Origin
// is `origin` (empty when absent): always Vary: Origin; for an allowed origin also
// Access-Control-Allow-Origin, -Allow-Credentials (when allowed) and -Expose-Headers (when
// configured). The caller should first remove those Access-Control-* fields from the upstream's
// response, so the route's policy is the only one the browser sees.
CorsHeaders CorsResponseHeaders(const CorsPolicy& policy, std::string_view origin);

const char* CorsRefusalName(CorsRefusal refusal);  // "origin", "method", "header", "" for none

}  // namespace gw
