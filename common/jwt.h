// JSON Web Tokens (RFC 7519) of consumers, verified with OpenSSL: the control plane parses a
// consumer's JWT credential with JwtVerifier::Create to refuse keys that do not parse; the
// gateway builds one JwtKeySet per config (issuer -> the consumers' verifiers) and verifies
// every `Authorization: Bearer` token with it.
//
// What a token must be to pass (anything else is refused with a one-line reason):
// - a compact JWS (header.payload.signature, base64url without padding, strict alphabet, no
//   non-zero trailing bits), at most kMaxJwtSize bytes; header and payload are JSON objects
//   (RFC 8259 strictly: no single quotes, unquoted names or trailing commas; no duplicate names);
// - header `alg` exactly the key's algorithm: HS256 (HMAC SHA-256, a shared secret), RS256
//   (RSASSA-PKCS1-v1_5 SHA-256, RSA key of 2048..8192 bits) or ES256 (ECDSA P-256 SHA-256, the
//   signature as raw r||s, 64 bytes). `none` and every other algorithm are refused, and an HS256
//   key never accepts an RS256 token or the reverse (no algorithm confusion). A header with
//   `crit` is refused (we understand no extensions); `kid`, `typ`, `jku`, `x5u`, `jwk` are
//   ignored (keys come from the config only, never from a token);
// - claims: `iss` a string equal to the credential's issuer; `exp` required; `exp` and `nbf`
//   (optional) whole numbers of seconds since the epoch, with kJwtClockLeeway (30 s) of
//   tolerance for clock skew between the issuer and the gateway: the token is refused from
//   exp + 30 s on, and before nbf - 30 s. `sub`, if present, is a string. `aud`, `iat` and
//   `jti` are not checked (a consumer has no audience to hold them against).
//
// Threads: JwtVerifier and JwtKeySet are immutable once built; Verify is const and safe to call
// from every worker at once with no lock (each call uses its own OpenSSL contexts; a shared
// EVP_PKEY is only read). Nothing here throws; OpenSSL objects are owned by unique_ptrs.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace gw {

inline constexpr size_t kMaxJwtSize = 8 * 1024;  // a longer token is refused unparsed
inline constexpr std::chrono::seconds kJwtClockLeeway{30};
inline constexpr size_t kMinJwtSecretSize = 32;  // HS256: 256 bits, as RFC 7518 3.2
inline constexpr size_t kMaxJwtSecretSize = 1024;
inline constexpr size_t kMaxJwtPublicKeyPemSize = 16 * 1024;
inline constexpr size_t kMaxJwtIssuerSize = 1024;
inline constexpr int kMinJwtRsaBits = 2048;
inline constexpr int kMaxJwtRsaBits = 8192;  // bounds the cost of one verification

enum class JwtAlgorithm { kHs256, kRs256, kEs256 };
std::string_view JwtAlgorithmName(JwtAlgorithm algorithm);  // "HS256", "RS256", "ES256"

// A consumer's JWT credential as the config carries it: exactly one of `secret` and
// `public_key_pem`.
struct JwtCredential {
  std::string issuer;          // the `iss` its tokens carry: 1..1024 bytes, no control characters
  std::string secret;          // HS256: the secret's bytes as given (32..1024 bytes)
  std::string public_key_pem;  // RS256 or ES256: PEM "-----BEGIN PUBLIC KEY-----" (SPKI)
};

// The outcome of verifying one token. `error` is one line, names no secret and repeats nothing
// from the token, so it can be logged and sent back in WWW-Authenticate's error_description.
struct JwtVerification {
  bool ok = false;
  std::string error;       // why not ok
  std::string issuer;      // ok only: the token's `iss`
  std::string subject;     // ok only: the token's `sub`, "" without one
  std::string consumer;    // JwtKeySet::Verify and ok only: the consumer whose key verified it
  int64_t expires_at = 0;  // ok only: the token's `exp`, seconds since the epoch
};

struct ParsedJwt;  // a token split, decoded and its claims read (jwt.cc)

// One credential's key, parsed once.
class JwtVerifier {
 public:
  // nullptr with a one-line reason in *error when the credential is refused: no or both key
  // kinds, a short secret, a PEM that does not parse, is a private key or a certificate, an RSA
  // key outside 2048..8192 bits, an EC key not on P-256, any other key type.
  static std::unique_ptr<const JwtVerifier> Create(const JwtCredential& credential,
                                                   std::string* error = nullptr);
  ~JwtVerifier();

  // Checks `token` (without "Bearer ") against this key and issuer at time `now`.
  JwtVerification Verify(std::string_view token, std::chrono::system_clock::time_point now) const;

  JwtAlgorithm algorithm() const { return algorithm_; }
  const std::string& issuer() const { return issuer_; }

 private:
  friend class JwtKeySet;
  struct PkeyFree {
    void operator()(evp_pkey_st* key) const;
  };

  JwtVerifier() = default;
  // `token` has passed ParseJwt and names this key's algorithm.
  bool SignatureMatches(const ParsedJwt& token) const;
  // Issuer and times, once the signature matched.
  JwtVerification CheckClaims(const ParsedJwt& token,
                              std::chrono::system_clock::time_point now) const;

  JwtAlgorithm algorithm_ = JwtAlgorithm::kHs256;
  std::string issuer_;
  std::string secret_;                          // HS256
  std::unique_ptr<evp_pkey_st, PkeyFree> key_;  // RS256, ES256
};

// One consumer's credential, as the config carries it.
struct JwtConsumer {
  std::string name;
  JwtCredential credential;
};

// Every consumer's JWT key, by issuer: built once per config, shared read-only by the workers.
// A token's (unverified) `iss` picks the consumers with that issuer; the token is checked against
// each of their keys of the token's algorithm, in the order given (the config's: by name), and
// the first whose key verifies its signature is the consumer. So consumers may share an issuer
// if their keys differ; one verification costs at most that many signature checks.
class JwtKeySet {
 public:
  // nullptr with "consumer NAME: reason" in *error when a credential is refused.
  static std::unique_ptr<const JwtKeySet> Build(const std::vector<JwtConsumer>& consumers,
                                                std::string* error = nullptr);

  JwtVerification Verify(std::string_view token, std::chrono::system_clock::time_point now) const;

  size_t size() const { return size_; }  // consumers with a JWT credential

 private:
  struct Entry {
    std::string consumer;
    std::unique_ptr<const JwtVerifier> verifier;
  };

  JwtKeySet() = default;

  std::map<std::string, std::vector<Entry>, std::less<>> by_issuer_;
  size_t size_ = 0;
};

}  // namespace gw
