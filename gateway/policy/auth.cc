#include "gateway/policy/auth.h"

#include <boost/beast/core/string.hpp>
#include <utility>

namespace gw {

namespace {

AuthResult AuthenticateApiKey(const HttpFields& fields, const AuthKeys& keys) {
  AuthResult result;
  const std::string* name = keys.api_keys && fields.count("X-API-Key") == 1
                                ? keys.api_keys->Find(ToStd(fields["X-API-Key"]))
                                : nullptr;
  if (!name) {
    result.challenge = R"(ApiKey realm="gateway", header="X-API-Key")";
    return result;
  }
  result.ok = true;
  result.consumer = *name;
  return result;
}

AuthResult AuthenticateJwt(const HttpFields& fields, const AuthKeys& keys, VerifiedTokens& cache,
                           std::chrono::system_clock::time_point now) {
  const std::string_view credentials = ToStd(fields[boost::beast::http::field::authorization]);
  JwtVerification verified;
  if (credentials.size() > 7 &&
      boost::beast::iequals(ToBeast(credentials.substr(0, 7)), "Bearer ")) {
    const std::string_view token = credentials.substr(7);
    const int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (const std::string* known = cache.Find(keys.version, token, now_s)) {
      verified.ok = true;
      verified.consumer = *known;
    } else if (keys.jwt_keys) {
      verified = keys.jwt_keys->Verify(token, now);
      if (verified.ok) cache.Remember(keys.version, token, verified.consumer, verified.expires_at);
    } else {
      verified.error = "no consumer has a JWT credential";
    }
  }
  AuthResult result;
  if (!verified.ok) {
    result.challenge = R"(Bearer realm="gateway")";
    if (!verified.error.empty()) {
      result.challenge += R"(, error="invalid_token", error_description=")" + verified.error + "\"";
    }
    return result;
  }
  result.ok = true;
  result.consumer = std::move(verified.consumer);
  return result;
}

}  // namespace

AuthResult Authenticate(gateway::v1::AuthKind kind, const HttpFields& fields, const AuthKeys& keys,
                        VerifiedTokens& cache, std::chrono::system_clock::time_point now) {
  switch (kind) {
    case gateway::v1::AUTH_API_KEY:
      return AuthenticateApiKey(fields, keys);
    case gateway::v1::AUTH_JWT:
      return AuthenticateJwt(fields, keys, cache, now);
    default:
      return AuthResult{true, {}, {}};
  }
}

}  // namespace gw
