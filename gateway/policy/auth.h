// Authenticate: who a request comes from, by a route's auth kind (API key or JWT).
//
// The consumer is never taken from the client: an API key (exactly one X-API-Key header: with
// two, which one a client meant is ambiguous) is looked up in the config's ApiKeySet; a JWT
// (Authorization: Bearer) is verified against the config's JwtKeySet, or found in the worker's
// VerifiedTokens under the same config version. A refusal carries the WWW-Authenticate
// challenge for the 401. Pure over the header fields and the key sets; the caller removes the
// API key before the request goes upstream and sets X-Consumer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/api_key.h"
#include "common/jwt.h"
#include "gateway.pb.h"
#include "gateway/http/http_message.h"
#include "gateway/policy/verified_tokens.h"

namespace gw {

// The credentials a config version accepts (null set: none of that kind).
struct AuthKeys {
  const ApiKeySet* api_keys = nullptr;
  const JwtKeySet* jwt_keys = nullptr;
  uint64_t version = 0;  // the config version, under which VerifiedTokens remembers tokens
};

struct AuthResult {
  bool ok = false;
  std::string consumer;   // when ok: the authenticated consumer (empty for AUTH_NONE)
  std::string challenge;  // when refused: the WWW-Authenticate value
};

AuthResult Authenticate(gateway::v1::AuthKind kind, const HttpFields& fields, const AuthKeys& keys,
                        VerifiedTokens& cache, std::chrono::system_clock::time_point now);

}  // namespace gw
