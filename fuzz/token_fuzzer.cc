// Fuzzes consumer credentials: JWT verification (JwtKeySet and each consumer's JwtVerifier) on a
// fixed key set (two HS256 consumers sharing an issuer, an RS256 one, an ES256 one and an HS256
// one on the RS256 consumer's issuer), tokens whose claims the fuzzer writes and this target
// signs (so every claim rule is reached, not only the signature check), JwtVerifier::Create on
// arbitrary secrets, issuers and PEM bytes, and ApiKeySet lookups.
//
// Input: byte 0 picks the mode (modulo 5). Verifying modes read `now` from bytes 1-2: a signed
// big-endian offset in seconds from kBaseTime, the time the seed tokens' exp and nbf are set
// around.
//   0  token:         bytes 3.. are a token, verified as they are.
//   1  claims:        byte 3 = flags, bytes 4.. = header JSON '\n' payload JSON (no '\n': the
//                     payload, under {"alg":"HS256","typ":"JWT"}); encoded, then signed with the
//                     secret of the HS256 consumer (flags & 3) % 3 names. flags & 4: verified
//                     again with the payload padded (leading spaces) to a token of kMaxJwtSize
//                     bytes, or one byte more when flags & 8.
//   2  signing input: byte 3 = flags (signer as in 1), bytes 4.. = "header.payload", signed.
//   3  create:        byte 1 % 4 = what bytes 2.. are: 0 an HS256 secret, 1 a PEM public key,
//                     2 a secret given with a public key too, 3 the issuer (with a valid secret).
//   4  api key:       bytes 1.. are a presented X-API-Key.
//
// Properties (a broken one aborts through FUZZ_CHECK, see request_checks.h):
// - Verify is deterministic, and a refusal's reason is one printable ASCII line, short, with no
//   secret in it; a token over kMaxJwtSize bytes is refused for its length, unparsed;
// - a verified token names a configured issuer and the consumer whose key signed it (the one
//   verifier of the set that accepts it on its own), its three parts are base64url in their only
//   spelling, and `now` is before exp + leeway and not before nbf - leeway, as its claims say;
// - Create is deterministic and refuses with one line that never repeats the secret; a secret it
//   accepts verifies a token signed with it, and no other; a PEM it accepts is a public key;
// - ApiKeySet::Find names a consumer exactly for that consumer's keys; ValidateApiKey follows the
//   documented rule.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/api_key.h"
#include "common/json.h"
#include "common/jwt.h"
#include "fuzz/request_checks.h"

namespace {

using Clock = std::chrono::system_clock;

constexpr int64_t kBaseTime = 1'700'000'000;  // 2023-11-14T22:13:20Z
constexpr size_t kMaxErrorSize = 200;

// Public halves of throwaway keys made for this target (openssl genpkey; the private halves
// signed the RS256 and ES256 seed tokens in fuzz/corpus/token/ and were then discarded).
constexpr std::string_view kRsaPublicKeyPem = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAo9pNPw/t7Op5XWo/kSsT
m9677gG1EDT4z42dvXi2uPgF9gMaDbEKM/HZv3JgPBhi+oq/UfRiuzqojwbErR+D
s/iw3TvWLXXkYMSuxzaC8U2SxOPVbbVlPoNKqP74H4XAV5G/ctLqL/ORCuSd0Ly3
K80MFawOEeFsZ8kvAN74Iadmqx8gUPSEU+3r5bx7+M25YnG9PnuTfRRdG5QZ2b2m
2TtnH7A1klcC8uIp1rfNIQGgoEneFKV/zlA4HgwWgcPPO6Nq2eQGU8De4NGbMUL9
qqhNBAMczTyP54GEwasES4+2L6B2VE1DbaZOMlWTsLwqGxxxoF3O+ZguChMv4yA7
7wIDAQAB
-----END PUBLIC KEY-----
)";
constexpr std::string_view kEcPublicKeyPem = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjBSykQZNx9eyJxtrfvUuht4ReQ4b
GcY3YEX6bp+N7QkfpyBhJfsVKzLTNqW7jm2jhhaTFqXuO7nHpiFkLBckCQ==
-----END PUBLIC KEY-----
)";

struct FuzzConsumer {
  std::string_view name;
  std::string_view issuer;
  std::string_view secret;  // HS256 test constants, else empty
  std::string_view public_key_pem;
};

// In the config's order (by name). alice and bob share an issuer with different secrets; erin's
// HS256 key shares carol's RS256 issuer (a token's alg picks the key, never the reverse).
constexpr std::array<FuzzConsumer, 5> kConsumers = {{
    {"alice", "https://issuer.test", "fuzz-test-secret-alice-0123456789abcdef", ""},
    {"bob", "https://issuer.test", "fuzz-test-secret-bob-0123456789abcdef0123", ""},
    {"carol", "https://rsa.issuer.test", "", kRsaPublicKeyPem},
    {"dave", "https://ec.issuer.test", "", kEcPublicKeyPem},
    {"erin", "https://rsa.issuer.test", "fuzz-test-secret-erin-0123456789abcdef01", ""},
}};
constexpr std::array<size_t, 3> kHs256Consumers = {0, 1, 4};  // indexes into kConsumers

// The API keys of ApiKeySet's consumers: the shortest and the longest a key may be.
const std::array<std::string, 2>& ApiKeys() {
  static const std::array<std::string, 2> keys = {"fuzz-test-key-16", std::string(256, 'k')};
  return keys;
}
constexpr std::array<std::string_view, 2> kApiKeyConsumers = {"alice", "bob"};

struct Keys {
  std::unique_ptr<const gw::JwtKeySet> set;
  std::vector<std::unique_ptr<const gw::JwtVerifier>> verifiers;  // as kConsumers
  std::unique_ptr<const gw::ApiKeySet> api_keys;
};

const Keys& FuzzKeys() {
  static const Keys keys = [] {
    Keys k;
    std::vector<gw::JwtConsumer> consumers;
    for (const FuzzConsumer& c : kConsumers) {
      const gw::JwtCredential credential{std::string(c.issuer), std::string(c.secret),
                                         std::string(c.public_key_pem)};
      consumers.push_back({std::string(c.name), credential});
      k.verifiers.push_back(gw::JwtVerifier::Create(credential));
      FUZZ_CHECK(k.verifiers.back() != nullptr);
    }
    k.set = gw::JwtKeySet::Build(consumers);
    FUZZ_CHECK(k.set != nullptr && k.set->size() == kConsumers.size());
    std::vector<gw::ApiKeyConsumer> api_consumers;
    for (size_t i = 0; i < ApiKeys().size(); ++i) {
      api_consumers.push_back(
          {std::string(kApiKeyConsumers[i]), {gw::ApiKeySha256Hex(ApiKeys()[i])}});
    }
    k.api_keys = gw::ApiKeySet::Build(api_consumers);
    FUZZ_CHECK(k.api_keys != nullptr && k.api_keys->size() == ApiKeys().size());
    return k;
  }();
  return keys;
}

// ---------------------------------------------------------------- encoding and signing

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string EncodeBase64Url(std::string_view in) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (const unsigned char c : in) {
    bits = bits << 8 | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kBase64UrlAlphabet[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) out.push_back(kBase64UrlAlphabet[(bits << (6 - count)) & 0x3f]);
  return out;
}

// Decodes leniently (unused trailing bits ignored); false on a byte outside the alphabet.
bool DecodeBase64UrlLoosely(std::string_view in, std::string& out) {
  out.clear();
  uint32_t bits = 0;
  int count = 0;
  for (const char c : in) {
    const size_t v = kBase64UrlAlphabet.find(c);
    if (v == std::string_view::npos) return false;
    bits = bits << 6 | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return true;
}

// header.payload.signature, each part the one base64url spelling of its bytes.
bool IsCanonicalCompactJws(std::string_view token) {
  std::string decoded;
  size_t parts = 0;
  size_t start = 0;
  while (true) {
    const size_t dot = token.find('.', start);
    const std::string_view part =
        token.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!DecodeBase64UrlLoosely(part, decoded) || EncodeBase64Url(decoded) != part) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 3;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const bool ok =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size) != nullptr;
  FUZZ_CHECK(ok && size == 32);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

// "signing_input.signature" with an HS256 signature under `secret`.
std::string SignHs256(std::string_view signing_input, std::string_view secret) {
  std::string token(signing_input);
  token += '.';
  token += EncodeBase64Url(HmacSha256(secret, signing_input));
  return token;
}

// ---------------------------------------------------------------- checks

bool IsPrintableLine(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// A refusal's reason: one short printable line naming no configured secret.
void CheckReason(std::string_view error) {
  FUZZ_CHECK(!error.empty());
  FUZZ_CHECK(error.size() <= kMaxErrorSize);
  FUZZ_CHECK(IsPrintableLine(error));  // so no '\n' or '\r' either
  for (const FuzzConsumer& c : kConsumers) {
    if (!c.secret.empty()) FUZZ_CHECK(error.find(c.secret) == std::string_view::npos);
  }
}

bool SameVerification(const gw::JwtVerification& a, const gw::JwtVerification& b) {
  return a.ok == b.ok && a.error == b.error && a.issuer == b.issuer && a.subject == b.subject &&
         a.consumer == b.consumer && a.expires_at == b.expires_at;
}

int64_t Seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// What any Verify answers, from a key set or a single verifier.
void CheckVerification(const gw::JwtVerification& result, std::string_view token,
                       Clock::time_point now) {
  if (!result.ok) {
    CheckReason(result.error);
    FUZZ_CHECK(result.issuer.empty() && result.subject.empty() && result.consumer.empty() &&
               result.expires_at == 0);
    return;
  }
  FUZZ_CHECK(result.error.empty());
  FUZZ_CHECK(token.size() <= gw::kMaxJwtSize);
  FUZZ_CHECK(result.expires_at > 0);
  FUZZ_CHECK(Seconds(now) < result.expires_at + gw::kJwtClockLeeway.count());
  FUZZ_CHECK(IsCanonicalCompactJws(token));
}

// Verifies `token` with the key set and with each consumer's verifier alone; returns the key
// set's answer. The set accepts a token exactly when one of its verifiers does, and then names
// that verifier's consumer.
gw::JwtVerification VerifyToken(std::string_view token, Clock::time_point now) {
  const Keys& keys = FuzzKeys();
  const gw::JwtVerification result = keys.set->Verify(token, now);
  CheckVerification(result, token, now);
  FUZZ_CHECK(SameVerification(result, keys.set->Verify(token, now)));
  if (token.size() > gw::kMaxJwtSize) {
    FUZZ_CHECK(result.error == "token longer than " + std::to_string(gw::kMaxJwtSize) + " bytes");
  }
  if (result.ok) {
    FUZZ_CHECK(!result.consumer.empty());
    const auto it = std::find_if(kConsumers.begin(), kConsumers.end(),
                                 [&](const FuzzConsumer& c) { return c.name == result.consumer; });
    FUZZ_CHECK(it != kConsumers.end() && it->issuer == result.issuer);
  }

  const FuzzConsumer* accepted_by = nullptr;
  for (size_t i = 0; i < kConsumers.size(); ++i) {
    const gw::JwtVerifier& verifier = *keys.verifiers[i];
    const gw::JwtVerification alone = verifier.Verify(token, now);
    CheckVerification(alone, token, now);
    FUZZ_CHECK(SameVerification(alone, verifier.Verify(token, now)));
    if (!alone.ok) continue;
    FUZZ_CHECK(alone.consumer.empty() && alone.issuer == verifier.issuer());
    FUZZ_CHECK(accepted_by == nullptr);  // the keys differ: at most one accepts a token
    accepted_by = &kConsumers[i];
    FUZZ_CHECK(result.ok && result.consumer == accepted_by->name);
    FUZZ_CHECK(result.issuer == alone.issuer && result.subject == alone.subject &&
               result.expires_at == alone.expires_at);
  }
  if (result.ok) FUZZ_CHECK(accepted_by != nullptr);
  return result;
}

bool ParseJsonObject(std::string_view json, google::protobuf::Struct& object) {
  return google::protobuf::util::JsonStringToMessage(std::string(json), &object).ok();
}

const google::protobuf::Value* Field(const google::protobuf::Struct& object, const char* name) {
  const auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// A token the fuzzer wrote and `signer` signed verified: its header and claims say it may.
void CheckAcceptedClaims(std::string_view header_json, std::string_view payload_json,
                         const FuzzConsumer& signer, const gw::JwtVerification& result,
                         Clock::time_point now) {
  FUZZ_CHECK(result.consumer == signer.name && result.issuer == signer.issuer);
  google::protobuf::Struct header;
  google::protobuf::Struct claims;
  FUZZ_CHECK(ParseJsonObject(header_json, header) && ParseJsonObject(payload_json, claims));
  const google::protobuf::Value* alg = Field(header, "alg");
  FUZZ_CHECK(alg && alg->string_value() == "HS256" && !Field(header, "crit"));
  const google::protobuf::Value* iss = Field(claims, "iss");
  FUZZ_CHECK(iss && iss->kind_case() == google::protobuf::Value::kStringValue &&
             iss->string_value() == signer.issuer);
  const google::protobuf::Value* sub = Field(claims, "sub");
  FUZZ_CHECK(sub ? sub->kind_case() == google::protobuf::Value::kStringValue &&
                       sub->string_value() == result.subject
                 : result.subject.empty());
  const google::protobuf::Value* exp = Field(claims, "exp");
  FUZZ_CHECK(exp && exp->kind_case() == google::protobuf::Value::kNumberValue &&
             exp->number_value() == static_cast<double>(result.expires_at));
  if (const google::protobuf::Value* nbf = Field(claims, "nbf")) {
    FUZZ_CHECK(nbf->kind_case() == google::protobuf::Value::kNumberValue &&
               nbf->number_value() <=
                   static_cast<double>(Seconds(now) + gw::kJwtClockLeeway.count()));
  }
}

// ---------------------------------------------------------------- modes

// The HS256 consumer whose secret signs a token the fuzzer wrote: flags & 3, modulo 3.
const FuzzConsumer& Signer(uint8_t flags) {
  return kConsumers[kHs256Consumers[(flags & 3) % kHs256Consumers.size()]];
}

// Mode 1: header and claims written by the fuzzer, signed here.
void FuzzSignedClaims(Clock::time_point now, uint8_t flags, std::string_view rest) {
  const FuzzConsumer& signer = Signer(flags);
  std::string_view header_json = R"({"alg":"HS256","typ":"JWT"})";
  std::string_view payload_json = rest;
  if (const size_t newline = rest.find('\n'); newline != std::string_view::npos) {
    header_json = rest.substr(0, newline);
    payload_json = rest.substr(newline + 1);
  }
  const std::string header_b64 = EncodeBase64Url(header_json);
  const std::string token =
      SignHs256(header_b64 + "." + EncodeBase64Url(payload_json), signer.secret);
  const gw::JwtVerification result = VerifyToken(token, now);
  if (result.ok) CheckAcceptedClaims(header_json, payload_json, signer, result, now);
  if ((flags & 4) == 0) return;

  // The same claims after leading JSON whitespace, in a token of kMaxJwtSize bytes (or one less),
  // or of one more (or two) with flags & 8.
  const size_t target = gw::kMaxJwtSize + ((flags & 8) ? 1 : 0);
  auto token_size = [&](size_t payload_size) {
    return header_b64.size() + 1 + (payload_size * 4 + 2) / 3 + 1 + 43;
  };
  if (token_size(payload_json.size()) >= target) return;
  size_t padding = 0;
  while (token_size(payload_json.size() + padding) < target) ++padding;
  if (token_size(payload_json.size() + padding) > target && (flags & 8) == 0) --padding;
  const std::string padded_json = std::string(padding, ' ') + std::string(payload_json);
  const std::string padded =
      SignHs256(header_b64 + "." + EncodeBase64Url(padded_json), signer.secret);
  // A payload byte adds one or two base64url characters: the size lands on the limit or next
  // to it, on the side flags & 8 asks for.
  FUZZ_CHECK((flags & 8)
                 ? padded.size() == gw::kMaxJwtSize + 1 || padded.size() == gw::kMaxJwtSize + 2
                 : padded.size() + 1 == gw::kMaxJwtSize || padded.size() == gw::kMaxJwtSize);
  const gw::JwtVerification padded_result = VerifyToken(padded, now);
  if (padded.size() > gw::kMaxJwtSize) {
    FUZZ_CHECK(!padded_result.ok);
  } else {
    FUZZ_CHECK(padded_result.ok == result.ok);
    if (result.ok) FUZZ_CHECK(padded_result.expires_at == result.expires_at);
  }
}

// Mode 2: the encoded header and payload as the fuzzer wrote them, signed here.
void FuzzSigningInput(Clock::time_point now, uint8_t flags, std::string_view signing_input) {
  const FuzzConsumer& signer = Signer(flags);
  const gw::JwtVerification result = VerifyToken(SignHs256(signing_input, signer.secret), now);
  if (result.ok) FUZZ_CHECK(result.consumer == signer.name && result.issuer == signer.issuer);
}

// Mode 3: a credential from the fuzzer's bytes.
void FuzzCreate(uint8_t kind, std::string_view bytes) {
  gw::JwtCredential credential;
  credential.issuer = "https://create.issuer.test";
  switch (kind % 4) {
    case 0:
      credential.secret = bytes;
      break;
    case 1:
      credential.public_key_pem = bytes;
      break;
    case 2:
      credential.secret = bytes;
      credential.public_key_pem = kRsaPublicKeyPem;
      break;
    default:
      credential.issuer = bytes;
      credential.secret = kConsumers[0].secret;
      break;
  }
  std::string error;
  const std::unique_ptr<const gw::JwtVerifier> verifier =
      gw::JwtVerifier::Create(credential, &error);
  std::string error_again;
  FUZZ_CHECK((gw::JwtVerifier::Create(credential, &error_again) == nullptr) ==
             (verifier == nullptr));
  FUZZ_CHECK(error_again == error);
  if (!verifier) {
    CheckReason(error);
    // The reason never repeats the secret: another secret of its size (and, like it, looking
    // like a PEM key or not) gets the same one.
    if (!credential.secret.empty()) {
      gw::JwtCredential shape = credential;
      shape.secret.assign(credential.secret.size(), 'a');
      constexpr std::string_view kPem = "-----BEGIN";
      if (credential.secret.find(kPem) != std::string::npos)
        shape.secret.replace(0, kPem.size(), kPem);
      std::string shape_error;
      FUZZ_CHECK(gw::JwtVerifier::Create(shape, &shape_error) == nullptr);
      FUZZ_CHECK(shape_error == error);
    }
    return;
  }
  FUZZ_CHECK(error.empty());
  FUZZ_CHECK(credential.secret.empty() != credential.public_key_pem.empty());
  FUZZ_CHECK(verifier->issuer() == credential.issuer);
  FUZZ_CHECK(!credential.issuer.empty() && credential.issuer.size() <= gw::kMaxJwtIssuerSize &&
             std::none_of(credential.issuer.begin(), credential.issuer.end(),
                          [](unsigned char c) { return c < 0x20 || c == 0x7f; }));
  const Clock::time_point now{std::chrono::seconds(kBaseTime)};
  if (!credential.public_key_pem.empty()) {
    FUZZ_CHECK(verifier->algorithm() != gw::JwtAlgorithm::kHs256);
    FUZZ_CHECK(credential.public_key_pem.find("-----BEGIN PUBLIC KEY-----") != std::string::npos);
    // A well-formed token of the key's algorithm with a signature of zeros is refused.
    const bool rsa = verifier->algorithm() == gw::JwtAlgorithm::kRs256;
    const std::string signing_input =
        EncodeBase64Url(rsa ? R"({"alg":"RS256"})" : R"({"alg":"ES256"})") + "." +
        EncodeBase64Url(R"({"iss":"https://create.issuer.test","exp":1700000060})");
    const std::string token =
        signing_input + "." + EncodeBase64Url(std::string(rsa ? 256 : 64, '\0'));
    const gw::JwtVerification result = verifier->Verify(token, now);
    FUZZ_CHECK(!result.ok);
    CheckReason(result.error);
    return;
  }
  // An accepted secret verifies a token signed with it, and not one signed with another.
  FUZZ_CHECK(verifier->algorithm() == gw::JwtAlgorithm::kHs256);
  FUZZ_CHECK(credential.secret.size() >= gw::kMinJwtSecretSize &&
             credential.secret.size() <= gw::kMaxJwtSecretSize);
  const bool ascii_issuer = std::all_of(credential.issuer.begin(), credential.issuer.end(),
                                        [](unsigned char c) { return c < 0x80; });
  if (!ascii_issuer) return;  // a JSON string carries UTF-8 only; proto strings are UTF-8
  const std::string signing_input =
      EncodeBase64Url(R"({"alg":"HS256"})") + "." +
      EncodeBase64Url(R"({"iss":)" + gw::JsonQuote(credential.issuer) + R"(,"exp":1700000060})");
  const gw::JwtVerification good =
      verifier->Verify(SignHs256(signing_input, credential.secret), now);
  FUZZ_CHECK(good.ok && good.issuer == credential.issuer && good.expires_at == kBaseTime + 60);
  const gw::JwtVerification forged =
      verifier->Verify(SignHs256(signing_input, credential.secret + "x"), now);
  FUZZ_CHECK(!forged.ok);
  CheckReason(forged.error);
}

// Mode 4: a presented X-API-Key.
void FuzzApiKey(std::string_view key) {
  const Keys& keys = FuzzKeys();
  std::string error;
  const bool valid = gw::ValidateApiKey(key, &error);
  const bool printable =
      std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  FUZZ_CHECK(valid ==
             (key.size() >= gw::kMinApiKeySize && key.size() <= gw::kMaxApiKeySize && printable));
  if (!valid) {
    CheckReason(error);
    // The reason never echoes the key: a key of the same shape (every visible character
    // replaced) gets the same one. (A plain substring test fails on a key that happens to be
    // part of the fixed message.)
    std::string shape(key);
    for (char& c : shape) {
      if (c > 0x20 && c < 0x7f) c = 'a';
    }
    std::string shape_error;
    gw::ValidateApiKey(shape, &shape_error);
    FUZZ_CHECK(shape_error == error);
  }
  const std::string hex = gw::ApiKeySha256Hex(key);
  FUZZ_CHECK(gw::IsApiKeySha256Hex(hex) && hex == gw::ApiKeySha256Hex(key));
  const std::string* consumer = keys.api_keys->Find(key);
  const auto known = std::find(ApiKeys().begin(), ApiKeys().end(), key);
  if (known == ApiKeys().end()) {
    FUZZ_CHECK(consumer == nullptr);
  } else {
    FUZZ_CHECK(consumer && *consumer == kApiKeyConsumers[known - ApiKeys().begin()]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t mode = data[0] % 5;
  if (mode == 3) {
    if (size >= 2) FuzzCreate(data[1], input.substr(2));
    return 0;
  }
  if (mode == 4) {
    FuzzApiKey(input.substr(1));
    return 0;
  }
  if (size < 3) return 0;
  const auto offset = static_cast<int16_t>(static_cast<uint16_t>(data[1] << 8 | data[2]));
  const Clock::time_point now{std::chrono::seconds(kBaseTime + offset)};
  if (mode == 0) {
    VerifyToken(input.substr(3), now);
  } else if (size >= 4) {
    if (mode == 1) FuzzSignedClaims(now, data[3], input.substr(4));
    if (mode == 2) FuzzSigningInput(now, data[3], input.substr(4));
  }
  return 0;
}
