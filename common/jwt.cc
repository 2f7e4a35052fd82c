#include "common/jwt.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cmath>
#include <cstdint>

#include "common/json.h"

namespace gw {

// A token split at its dots, its parts decoded and the claims the verifier needs read. Views
// point into the token, which outlives this.
struct ParsedJwt {
  std::string_view signing_input;  // "header.payload", the bytes the signature covers
  std::string alg;
  std::string signature;  // decoded
  std::string issuer;
  std::string subject;
  int64_t exp = 0;
  bool has_nbf = false;
  int64_t nbf = 0;
};

namespace {

using Clock = std::chrono::system_clock;

// unique_ptr owners for OpenSSL objects.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// Algorithms fetched once per process (explicit fetching spares OpenSSL 3 a lookup under a lock
// on every call); fetched algorithms are immutable and safe to share between threads. Never
// freed: they live as long as the process.
const EVP_MD* Sha256() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

EVP_MAC* Hmac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

// OpenSSL leaves the reasons of a failure in a per-thread queue; nothing reads them here.
void ForgetOpensslErrors() { ERR_clear_error(); }

// ---------------------------------------------------------------- token parsing

int Base64UrlValue(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// RFC 7515 base64url: the URL-safe alphabet, no padding, no whitespace, and the unused low bits
// of the last character zero, so one byte string has exactly one spelling (a token cannot be
// altered without altering its bytes).
bool DecodeBase64Url(std::string_view in, std::string& out) {
  if (in.size() % 4 == 1) return false;
  out.clear();
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : in) {
    const int v = Base64UrlValue(c);
    if (v < 0) return false;
    bits = bits << 6 | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return (bits & ((1u << count) - 1)) == 0;  // leftover bits (2 or 4) must be zero
}

bool ParseJsonObject(const std::string& json, google::protobuf::Struct& object) {
  // Struct is the JSON object of the protobuf JSON mapping: any object parses into it, anything
  // else (an array, a string, invalid JSON) fails. Numbers come back as doubles. Its parser
  // also takes what JSON is not (single quotes, unquoted keys, trailing commas): RFC 8259 is
  // checked first, so a token means the same to every JSON parser downstream.
  return IsStrictJson(json) && google::protobuf::util::JsonStringToMessage(json, &object).ok();
}

const google::protobuf::Value* Field(const google::protobuf::Struct& object, const char* name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// A NumericDate (RFC 7519 section 2) as we take it: a whole, non-negative number of seconds no
// larger than 2^53 - 1 (every such double is exact).
bool ReadNumericDate(const google::protobuf::Value& value, int64_t& seconds) {
  if (value.kind_case() != google::protobuf::Value::kNumberValue) return false;
  const double d = value.number_value();
  if (!std::isfinite(d) || d < 0 || d > 9007199254740991.0 || std::floor(d) != d) return false;
  seconds = static_cast<int64_t>(d);
  return true;
}

// Splits, decodes and reads the token; on failure returns false with the reason in `error`.
bool ParseJwt(std::string_view token, ParsedJwt& out, std::string& error) {
  if (token.empty()) {
    error = "empty token";
    return false;
  }
  if (token.size() > kMaxJwtSize) {
    error = "token longer than " + std::to_string(kMaxJwtSize) + " bytes";
    return false;
  }
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    error = "token is not a compact JWS (header.payload.signature)";
    return false;
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  out.signing_input = token.substr(0, dot2);

  std::string header_json;
  std::string payload_json;
  if (!DecodeBase64Url(header_b64, header_json)) {
    error = "token header is not base64url";
    return false;
  }
  if (!DecodeBase64Url(payload_b64, payload_json)) {
    error = "token payload is not base64url";
    return false;
  }
  if (!DecodeBase64Url(signature_b64, out.signature)) {
    error = "token signature is not base64url";
    return false;
  }

  google::protobuf::Struct header;
  if (!ParseJsonObject(header_json, header)) {
    error = "token header is not a JSON object";
    return false;
  }
  const google::protobuf::Value* alg = Field(header, "alg");
  if (!alg || alg->kind_case() != google::protobuf::Value::kStringValue) {
    error = "token header has no alg";
    return false;
  }
  out.alg = alg->string_value();
  if (out.alg == "none" || out.alg == "None" || out.alg == "NONE") {
    error = "unsigned tokens (alg none) are refused";
    return false;
  }
  if (Field(header, "crit")) {
    error = "token header has crit extensions, which are not supported";
    return false;
  }

  google::protobuf::Struct claims;
  if (!ParseJsonObject(payload_json, claims)) {
    error = "token payload is not a JSON object";
    return false;
  }
  const google::protobuf::Value* iss = Field(claims, "iss");
  if (!iss || iss->kind_case() != google::protobuf::Value::kStringValue) {
    error = "token has no iss (issuer) claim";
    return false;
  }
  out.issuer = iss->string_value();
  if (const google::protobuf::Value* sub = Field(claims, "sub")) {
    if (sub->kind_case() != google::protobuf::Value::kStringValue) {
      error = "token sub claim is not a string";
      return false;
    }
    out.subject = sub->string_value();
  }
  const google::protobuf::Value* exp = Field(claims, "exp");
  if (!exp) {
    error = "token has no exp (expiry) claim";
    return false;
  }
  if (!ReadNumericDate(*exp, out.exp)) {
    error = "token exp claim is not a whole number of seconds";
    return false;
  }
  if (const google::protobuf::Value* nbf = Field(claims, "nbf")) {
    if (!ReadNumericDate(*nbf, out.nbf)) {
      error = "token nbf claim is not a whole number of seconds";
      return false;
    }
    out.has_nbf = true;
  }
  return true;
}

JwtVerification Refused(std::string error) {
  JwtVerification result;
  result.error = std::move(error);
  return result;
}

// ---------------------------------------------------------------- signatures

bool HmacSha256Matches(std::string_view secret, const ParsedJwt& token) {
  if (token.signature.size() != 32 || !Hmac()) return false;
  MacCtxPtr ctx(EVP_MAC_CTX_new(Hmac()));
  if (!ctx) return false;
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_size = 0;
  if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                   params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(token.signing_input.data()),
                     token.signing_input.size()) != 1 ||
      EVP_MAC_final(ctx.get(), mac, &mac_size, sizeof mac) != 1 || mac_size != 32) {
    return false;
  }
  return CRYPTO_memcmp(mac, token.signature.data(), 32) == 0;  // constant time
}

bool DigestVerify(EVP_PKEY* key, std::string_view signed_bytes, const unsigned char* signature,
                  size_t signature_size) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  // RSA keys default to PKCS#1 v1.5 padding: exactly RS256.
  return EVP_DigestVerifyInit(ctx.get(), nullptr, Sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), signature, signature_size,
                          reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                          signed_bytes.size()) == 1;
}

// JWS carries an ECDSA signature as r||s, each 32 bytes big-endian (RFC 7518 3.4); OpenSSL
// verifies the DER ECDSA-Sig-Value. A DER signature in the token is refused by its length.
bool Es256Matches(EVP_PKEY* key, const ParsedJwt& token) {
  if (token.signature.size() != 64) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(token.signature.data());
  BignumPtr r(BN_bin2bn(raw, 32, nullptr));
  BignumPtr s(BN_bin2bn(raw + 32, 32, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  const int der_size = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_size <= 0) return false;
  const bool ok = DigestVerify(key, token.signing_input, der, static_cast<size_t>(der_size));
  OPENSSL_free(der);
  return ok;
}

// ---------------------------------------------------------------- keys

bool HasControlCharacter(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The algorithm a PEM public key is for, and the key; nullptr with the reason otherwise.
PkeyPtr ReadPublicKey(std::string_view pem, JwtAlgorithm& algorithm, std::string& error) {
  if (pem.size() > kMaxJwtPublicKeyPemSize) {
    error = "the public key is longer than " + std::to_string(kMaxJwtPublicKeyPemSize) + " bytes";
    return nullptr;
  }
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    error = "this is a private key: give its public key (openssl pkey -pubout)";
    return nullptr;
  }
  if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    error = "this is a certificate: give its public key (openssl x509 -pubkey -noout)";
    return nullptr;
  }
  if (pem.find("-----BEGIN RSA PUBLIC KEY-----") != std::string_view::npos) {
    error = "this is a PKCS#1 RSA key: convert it (openssl rsa -RSAPublicKey_in -pubout)";
    return nullptr;
  }
  if (Count(pem, "-----BEGIN ") != 1 || pem.find("-----BEGIN PUBLIC KEY-----") == pem.npos) {
    error = "the public key is not one PEM block -----BEGIN PUBLIC KEY-----";
    return nullptr;
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    ForgetOpensslErrors();
    error = "the public key does not parse as PEM SubjectPublicKeyInfo";
    return nullptr;
  }
  const int type = EVP_PKEY_get_base_id(key.get());
  if (type == EVP_PKEY_RSA) {
    const int bits = EVP_PKEY_get_bits(key.get());
    if (bits < kMinJwtRsaBits || bits > kMaxJwtRsaBits) {
      error = "RSA key of " + std::to_string(bits) + " bits: RS256 needs " +
              std::to_string(kMinJwtRsaBits) + " to " + std::to_string(kMaxJwtRsaBits);
      return nullptr;
    }
    algorithm = JwtAlgorithm::kRs256;
  } else if (type == EVP_PKEY_EC) {
    char group[64] = {};
    size_t group_size = 0;
    if (EVP_PKEY_get_group_name(key.get(), group, sizeof group, &group_size) != 1 ||
        std::string_view(group) != SN_X9_62_prime256v1) {
      ForgetOpensslErrors();
      error = "EC key on curve " + std::string(group[0] ? group : "(unnamed)") +
              ": ES256 needs P-256 (prime256v1)";
      return nullptr;
    }
    algorithm = JwtAlgorithm::kEs256;
  } else {
    const char* name = EVP_PKEY_get0_type_name(key.get());
    error = std::string("key type ") + (name ? name : "(unknown)") +
            " is not supported (RS256: RSA, ES256: EC P-256)";
    return nullptr;
  }
  // EC keys get OpenSSL's public check (the point is on P-256). RSA keys do not: OpenSSL tests
  // that the modulus is not prime with random Miller-Rabin bases (its quick check too), so a
  // damaged key passed or failed from one call to the next (found by token_fuzzer); acceptance
  // must be deterministic. A damaged RSA key verifies no token, which is all it can do.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  const bool consistent =
      algorithm == JwtAlgorithm::kRs256 || (check && EVP_PKEY_public_check(check.get()) == 1);
  if (!consistent) {
    ForgetOpensslErrors();
    error = "the public key fails OpenSSL's consistency check";
    return nullptr;
  }
  return key;
}

}  // namespace

std::string_view JwtAlgorithmName(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHs256:
      return "HS256";
    case JwtAlgorithm::kRs256:
      return "RS256";
    case JwtAlgorithm::kEs256:
      return "ES256";
  }
  return "?";
}

void JwtVerifier::PkeyFree::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

JwtVerifier::~JwtVerifier() {
  // The secret does not linger in freed memory.
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
}

std::unique_ptr<const JwtVerifier> JwtVerifier::Create(const JwtCredential& credential,
                                                       std::string* error) {
  std::string reason;
  auto fail = [&]() -> std::unique_ptr<const JwtVerifier> {
    if (error) *error = reason;
    return nullptr;
  };
  if (credential.issuer.empty() || credential.issuer.size() > kMaxJwtIssuerSize ||
      HasControlCharacter(credential.issuer)) {
    reason = "a JWT issuer has 1 to " + std::to_string(kMaxJwtIssuerSize) +
             " characters and no control characters";
    return fail();
  }
  const bool has_secret = !credential.secret.empty();
  const bool has_key = !credential.public_key_pem.empty();
  if (has_secret == has_key) {
    reason = has_secret ? "give a JWT secret or a public key, not both"
                        : "a JWT credential needs a secret (HS256) or a public key (RS256, ES256)";
    return fail();
  }
  std::unique_ptr<JwtVerifier> verifier(new JwtVerifier());
  verifier->issuer_ = credential.issuer;
  if (has_secret) {
    if (credential.secret.size() < kMinJwtSecretSize ||
        credential.secret.size() > kMaxJwtSecretSize) {
      reason = "an HS256 secret has " + std::to_string(kMinJwtSecretSize) + " to " +
               std::to_string(kMaxJwtSecretSize) + " bytes (this one has " +
               std::to_string(credential.secret.size()) + ")";
      return fail();
    }
    if (credential.secret.find("-----BEGIN") != std::string::npos) {
      // A PEM key given as a secret is the classic algorithm-confusion set-up: refuse it.
      reason = "the HS256 secret looks like a PEM key: give it as a public key instead";
      return fail();
    }
    verifier->algorithm_ = JwtAlgorithm::kHs256;
    verifier->secret_ = credential.secret;
    return verifier;
  }
  JwtAlgorithm algorithm = JwtAlgorithm::kRs256;
  PkeyPtr key = ReadPublicKey(credential.public_key_pem, algorithm, reason);
  if (!key) return fail();
  verifier->algorithm_ = algorithm;
  verifier->key_.reset(key.release());
  return verifier;
}

bool JwtVerifier::SignatureMatches(const ParsedJwt& token) const {
  bool ok = false;
  switch (algorithm_) {
    case JwtAlgorithm::kHs256:
      ok = HmacSha256Matches(secret_, token);
      break;
    case JwtAlgorithm::kRs256:
      ok = token.signature.size() == static_cast<size_t>(EVP_PKEY_get_size(key_.get())) &&
           DigestVerify(key_.get(), token.signing_input,
                        reinterpret_cast<const unsigned char*>(token.signature.data()),
                        token.signature.size());
      break;
    case JwtAlgorithm::kEs256:
      ok = Es256Matches(key_.get(), token);
      break;
  }
  if (!ok) ForgetOpensslErrors();
  return ok;
}

JwtVerification JwtVerifier::CheckClaims(const ParsedJwt& token, Clock::time_point now) const {
  if (token.issuer != issuer_) return Refused("token issuer does not match");
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const int64_t leeway = kJwtClockLeeway.count();
  if (now_s >= token.exp + leeway) return Refused("token expired");
  if (token.has_nbf && token.nbf > now_s + leeway) return Refused("token not valid yet (nbf)");
  JwtVerification result;
  result.ok = true;
  result.issuer = token.issuer;
  result.subject = token.subject;
  result.expires_at = token.exp;
  return result;
}

JwtVerification JwtVerifier::Verify(std::string_view token, Clock::time_point now) const {
  ParsedJwt parsed;
  std::string error;
  if (!ParseJwt(token, parsed, error)) return Refused(std::move(error));
  if (parsed.alg != JwtAlgorithmName(algorithm_)) {
    return Refused("token alg does not match the key (" +
                   std::string(JwtAlgorithmName(algorithm_)) + ")");
  }
  if (!SignatureMatches(parsed)) return Refused("token signature does not verify");
  return CheckClaims(parsed, now);
}

std::unique_ptr<const JwtKeySet> JwtKeySet::Build(const std::vector<JwtConsumer>& consumers,
                                                  std::string* error) {
  std::unique_ptr<JwtKeySet> set(new JwtKeySet());
  for (const JwtConsumer& consumer : consumers) {
    std::string reason;
    std::unique_ptr<const JwtVerifier> verifier = JwtVerifier::Create(consumer.credential, &reason);
    if (!verifier) {
      if (error) *error = "consumer " + consumer.name + ": " + reason;
      return nullptr;
    }
    set->by_issuer_[consumer.credential.issuer].push_back({consumer.name, std::move(verifier)});
    ++set->size_;
  }
  return set;
}

JwtVerification JwtKeySet::Verify(std::string_view token, Clock::time_point now) const {
  ParsedJwt parsed;
  std::string error;
  if (!ParseJwt(token, parsed, error)) return Refused(std::move(error));
  auto it = by_issuer_.find(parsed.issuer);
  if (it == by_issuer_.end()) return Refused("token issuer is not known");
  bool alg_known = false;
  for (const Entry& entry : it->second) {
    if (parsed.alg != JwtAlgorithmName(entry.verifier->algorithm())) continue;
    alg_known = true;
    if (!entry.verifier->SignatureMatches(parsed)) continue;
    // This consumer's key signed it: its claims decide (expired, not yet valid: refused).
    JwtVerification result = entry.verifier->CheckClaims(parsed, now);
    if (result.ok) result.consumer = entry.consumer;
    return result;
  }
  if (!alg_known) return Refused("token alg does not match the issuer's key");
  return Refused("token signature does not verify");
}

}  // namespace gw
