#include "common/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <atomic>
#include <thread>

// Keys are generated and tokens signed here with OpenSSL; nothing comes from outside the test.
namespace gw {
namespace {

using Clock = std::chrono::system_clock;

constexpr int64_t kNow = 1'700'000'000;  // the injected clock: 2023-11-14
const Clock::time_point kNowTp = Clock::time_point(std::chrono::seconds(kNow));
constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";  // 32 bytes

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string B64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = bits << 8 | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 63]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 63]);
  return out;
}

std::string B64UrlDecode(std::string_view text) {  // for tampering; input known good
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
                                   : 63;
    bits = bits << 6 | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

Pkey Generate(const char* type, const char* param) {
  if (std::string_view(type) == "RSA") {
    return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(std::stoi(param))));
  }
  if (std::string_view(type) == "EC") return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param));
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, type));
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string PrivatePem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string HmacSha256(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  return std::string(reinterpret_cast<char*>(mac), size);
}

// PKCS#1 v1.5 for RSA keys, DER ECDSA-Sig-Value for EC keys.
std::string SignSha256(EVP_PKEY* key, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t size = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  std::string sig(size, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  sig.resize(size);
  EVP_MD_CTX_free(ctx);
  return sig;
}

std::string DerToRaw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

enum class Sig { kHs256, kRs256, kEs256, kEs256Der };

// header.payload.signature over the JSON texts as given.
std::string MakeToken(std::string_view header, std::string_view payload, Sig sig,
                      EVP_PKEY* key = nullptr, std::string_view secret = kSecret) {
  const std::string input = B64Url(header) + "." + B64Url(payload);
  std::string signature;
  switch (sig) {
    case Sig::kHs256:
      signature = HmacSha256(secret, input);
      break;
    case Sig::kRs256:
      signature = SignSha256(key, input);
      break;
    case Sig::kEs256:
      signature = DerToRaw(SignSha256(key, input));
      break;
    case Sig::kEs256Der:
      signature = SignSha256(key, input);
      break;
  }
  return input + "." + B64Url(signature);
}

std::string Claims(int64_t exp = kNow + 300, std::string_view iss = kIssuer,
                   std::string_view extra = R"(,"sub":"user-42")") {
  return R"({"iss":")" + std::string(iss) + R"(","exp":)" + std::to_string(exp) +
         std::string(extra) + "}";
}

constexpr char kHs256Header[] = R"({"alg":"HS256","typ":"JWT"})";
constexpr char kRs256Header[] = R"({"alg":"RS256","typ":"JWT"})";
constexpr char kEs256Header[] = R"({"alg":"ES256","typ":"JWT"})";

class JwtTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = Generate("RSA", "2048").release();
    other_rsa_ = Generate("RSA", "2048").release();
    ec_ = Generate("EC", "P-256").release();
    other_ec_ = Generate("EC", "P-256").release();
  }
  static void TearDownTestSuite() {
    for (EVP_PKEY* k : {rsa_, other_rsa_, ec_, other_ec_}) EVP_PKEY_free(k);
  }

  static std::unique_ptr<const JwtVerifier> Hs256(std::string secret = kSecret) {
    std::string error;
    auto v = JwtVerifier::Create({kIssuer, secret, ""}, &error);
    EXPECT_NE(v, nullptr) << error;
    return v;
  }
  static std::unique_ptr<const JwtVerifier> FromKey(EVP_PKEY* key) {
    std::string error;
    auto v = JwtVerifier::Create({kIssuer, "", PublicPem(key)}, &error);
    EXPECT_NE(v, nullptr) << error;
    return v;
  }
  static std::string CreateError(const JwtCredential& credential) {
    std::string error;
    EXPECT_EQ(JwtVerifier::Create(credential, &error), nullptr);
    return error;
  }

  static EVP_PKEY* rsa_;
  static EVP_PKEY* other_rsa_;
  static EVP_PKEY* ec_;
  static EVP_PKEY* other_ec_;
};

EVP_PKEY* JwtTest::rsa_ = nullptr;
EVP_PKEY* JwtTest::other_rsa_ = nullptr;
EVP_PKEY* JwtTest::ec_ = nullptr;
EVP_PKEY* JwtTest::other_ec_ = nullptr;

// ---------------------------------------------------------------- valid tokens

TEST_F(JwtTest, AcceptsValidHs256) {
  auto v = Hs256();
  EXPECT_EQ(v->algorithm(), JwtAlgorithm::kHs256);
  EXPECT_EQ(v->issuer(), kIssuer);
  JwtVerification r = v->Verify(MakeToken(kHs256Header, Claims(), Sig::kHs256), kNowTp);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.issuer, kIssuer);
  EXPECT_EQ(r.subject, "user-42");
  EXPECT_EQ(r.consumer, "");
}

TEST_F(JwtTest, AcceptsValidRs256) {
  auto v = FromKey(rsa_);
  EXPECT_EQ(v->algorithm(), JwtAlgorithm::kRs256);
  JwtVerification r = v->Verify(MakeToken(kRs256Header, Claims(), Sig::kRs256, rsa_), kNowTp);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.subject, "user-42");
}

TEST_F(JwtTest, AcceptsValidEs256WithRawSignature) {
  auto v = FromKey(ec_);
  EXPECT_EQ(v->algorithm(), JwtAlgorithm::kEs256);
  JwtVerification r = v->Verify(MakeToken(kEs256Header, Claims(), Sig::kEs256, ec_), kNowTp);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.subject, "user-42");
}

TEST_F(JwtTest, RefusesEs256SignatureInDer) {
  JwtVerification r =
      FromKey(ec_)->Verify(MakeToken(kEs256Header, Claims(), Sig::kEs256Der, ec_), kNowTp);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "token signature does not verify");
}

TEST_F(JwtTest, SubjectIsOptionalButAStringWhenPresent) {
  auto v = Hs256();
  JwtVerification r =
      v->Verify(MakeToken(kHs256Header, Claims(kNow + 60, kIssuer, ""), Sig::kHs256), kNowTp);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.subject, "");
  r = v->Verify(MakeToken(kHs256Header, Claims(kNow + 60, kIssuer, R"(,"sub":42)"), Sig::kHs256),
                kNowTp);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "token sub claim is not a string");
}

TEST_F(JwtTest, IgnoresUncheckedClaimsAndHeaderParameters) {
  const std::string token =
      MakeToken(R"({"alg":"HS256","kid":"k1","jku":"http://evil.example/keys"})",
                Claims(kNow + 60, kIssuer, R"(,"aud":["a","b"],"iat":1,"jti":"x","n":{"a":[]})"),
                Sig::kHs256);
  JwtVerification r = Hs256()->Verify(token, kNowTp);
  EXPECT_TRUE(r.ok) << r.error;
}

// ---------------------------------------------------------------- wrong keys, tampering

TEST_F(JwtTest, RefusesTokensSignedWithAnotherKey) {
  EXPECT_EQ(Hs256()
                ->Verify(MakeToken(kHs256Header, Claims(), Sig::kHs256, nullptr,
                                   "another-secret-of-32-bytes-or-so!"),
                         kNowTp)
                .error,
            "token signature does not verify");
  EXPECT_EQ(FromKey(rsa_)
                ->Verify(MakeToken(kRs256Header, Claims(), Sig::kRs256, other_rsa_), kNowTp)
                .error,
            "token signature does not verify");
  EXPECT_EQ(
      FromKey(ec_)->Verify(MakeToken(kEs256Header, Claims(), Sig::kEs256, other_ec_), kNowTp).error,
      "token signature does not verify");
}

struct Parts {
  std::string header, payload, signature;
};
Parts Split(const std::string& token) {
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}
std::string Join(const Parts& p) { return p.header + "." + p.payload + "." + p.signature; }

TEST_F(JwtTest, RefusesTamperedPayloadHeaderOrSignature) {
  struct Case {
    std::unique_ptr<const JwtVerifier> verifier;
    std::string token;
  };
  Case cases[] = {
      {Hs256(), MakeToken(kHs256Header, Claims(), Sig::kHs256)},
      {FromKey(rsa_), MakeToken(kRs256Header, Claims(), Sig::kRs256, rsa_)},
      {FromKey(ec_), MakeToken(kEs256Header, Claims(), Sig::kEs256, ec_)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.token);
    ASSERT_TRUE(c.verifier->Verify(c.token, kNowTp).ok);
    const Parts good = Split(c.token);

    Parts p = good;  // a later expiry
    p.payload = B64Url(Claims(kNow + 999999));
    EXPECT_EQ(c.verifier->Verify(Join(p), kNowTp).error, "token signature does not verify");

    p = good;  // another subject
    p.payload = B64Url(Claims(kNow + 300, kIssuer, R"(,"sub":"admin")"));
    EXPECT_EQ(c.verifier->Verify(Join(p), kNowTp).error, "token signature does not verify");

    p = good;  // a header parameter added
    std::string header = B64UrlDecode(good.header);
    header.insert(1, R"("kid":"x",)");
    p.header = B64Url(header);
    EXPECT_EQ(c.verifier->Verify(Join(p), kNowTp).error, "token signature does not verify");

    for (size_t byte : {size_t{0}, size_t{20}}) {  // one bit of the signature flipped
      std::string sig = B64UrlDecode(good.signature);
      sig[byte] = static_cast<char>(sig[byte] ^ 0x01);
      p = good;
      p.signature = B64Url(sig);
      EXPECT_EQ(c.verifier->Verify(Join(p), kNowTp).error, "token signature does not verify");
    }
    p = good;  // signature cut short
    p.signature = B64Url(B64UrlDecode(good.signature).substr(1));
    EXPECT_FALSE(c.verifier->Verify(Join(p), kNowTp).ok);
    p = good;  // no signature
    p.signature = "";
    EXPECT_FALSE(c.verifier->Verify(Join(p), kNowTp).ok);
  }
}

// ---------------------------------------------------------------- algorithms

TEST_F(JwtTest, RefusesAlgNone) {
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string header = std::string(R"({"alg":")") + alg + R"("})";
    const std::string input = B64Url(header) + "." + B64Url(Claims());
    for (const std::string& token :
         {input + ".", input + "." + B64Url(HmacSha256(kSecret, input))}) {
      JwtVerification r = Hs256()->Verify(token, kNowTp);
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.error, "unsigned tokens (alg none) are refused");
      EXPECT_FALSE(FromKey(rsa_)->Verify(token, kNowTp).ok);
    }
  }
}

TEST_F(JwtTest, RefusesAlgorithmConfusion) {
  // The classic attack: HMAC-sign with the RSA public key's PEM as the secret, claim HS256.
  const std::string pem = PublicPem(rsa_);
  const std::string forged = MakeToken(kHs256Header, Claims(), Sig::kHs256, nullptr, pem);
  JwtVerification r = FromKey(rsa_)->Verify(forged, kNowTp);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "token alg does not match the key (RS256)");
  // Same against an EC key.
  EXPECT_FALSE(
      FromKey(ec_)
          ->Verify(MakeToken(kHs256Header, Claims(), Sig::kHs256, nullptr, PublicPem(ec_)), kNowTp)
          .ok);
  // And the PEM is refused as an HS256 secret in the first place.
  EXPECT_EQ(CreateError({kIssuer, pem, ""}),
            "the HS256 secret looks like a PEM key: give it as a public key instead");

  // The reverse: an HS256 key never takes RS256 or ES256, however the token is signed.
  r = Hs256()->Verify(MakeToken(kRs256Header, Claims(), Sig::kRs256, rsa_), kNowTp);
  EXPECT_EQ(r.error, "token alg does not match the key (HS256)");
  r = Hs256()->Verify(MakeToken(kRs256Header, Claims(), Sig::kHs256), kNowTp);
  EXPECT_EQ(r.error, "token alg does not match the key (HS256)");
  // RS256 vs ES256.
  r = FromKey(ec_)->Verify(MakeToken(kRs256Header, Claims(), Sig::kRs256, rsa_), kNowTp);
  EXPECT_EQ(r.error, "token alg does not match the key (ES256)");
  // Other algorithms and spellings.
  for (const char* header :
       {R"({"alg":"HS384"})", R"({"alg":"hs256"})", R"({"alg":"PS256"})", R"({"alg":"HS256 "})"}) {
    EXPECT_FALSE(Hs256()->Verify(MakeToken(header, Claims(), Sig::kHs256), kNowTp).ok) << header;
  }
}

TEST_F(JwtTest, RefusesMissingOrNonStringAlg) {
  for (const char* header :
       {R"({"typ":"JWT"})", R"({"alg":256})", R"({"alg":null})", R"({"alg":["HS256"]})"}) {
    JwtVerification r = Hs256()->Verify(MakeToken(header, Claims(), Sig::kHs256), kNowTp);
    EXPECT_EQ(r.error, "token header has no alg") << header;
  }
}

TEST_F(JwtTest, RefusesCritHeader) {
  JwtVerification r = Hs256()->Verify(
      MakeToken(R"({"alg":"HS256","crit":["exp"],"exp":1})", Claims(), Sig::kHs256), kNowTp);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "token header has crit extensions, which are not supported");
}

// ---------------------------------------------------------------- claims

TEST_F(JwtTest, ExpiryHasThirtySecondsOfLeeway) {
  auto v = Hs256();
  auto at = [&](int64_t exp) {
    return v->Verify(MakeToken(kHs256Header, Claims(exp), Sig::kHs256), kNowTp);
  };
  EXPECT_TRUE(at(kNow + 1).ok);
  EXPECT_TRUE(at(kNow).ok);  // expired, within the leeway
  EXPECT_TRUE(at(kNow - 29).ok);
  EXPECT_EQ(at(kNow - 30).error, "token expired");
  EXPECT_EQ(at(kNow - 3600).error, "token expired");
  EXPECT_EQ(at(0).error, "token expired");
  // The same token, later.
  const std::string token = MakeToken(kHs256Header, Claims(kNow + 100), Sig::kHs256);
  EXPECT_TRUE(v->Verify(token, kNowTp + std::chrono::seconds(129)).ok);
  EXPECT_FALSE(v->Verify(token, kNowTp + std::chrono::seconds(130)).ok);
}

TEST_F(JwtTest, NotBeforeHasThirtySecondsOfLeeway) {
  auto v = Hs256();
  auto nbf = [&](int64_t nbf) {
    return v->Verify(
        MakeToken(kHs256Header, Claims(kNow + 3600, kIssuer, ",\"nbf\":" + std::to_string(nbf)),
                  Sig::kHs256),
        kNowTp);
  };
  EXPECT_TRUE(nbf(kNow - 10).ok);
  EXPECT_TRUE(nbf(kNow).ok);
  EXPECT_TRUE(nbf(kNow + 30).ok);
  EXPECT_EQ(nbf(kNow + 31).error, "token not valid yet (nbf)");
  EXPECT_EQ(nbf(kNow + 3000).error, "token not valid yet (nbf)");
}

TEST_F(JwtTest, RefusesWrongOrMissingIssuer) {
  auto v = Hs256();
  JwtVerification r = v->Verify(
      MakeToken(kHs256Header, Claims(kNow + 60, "https://evil.example.com"), Sig::kHs256), kNowTp);
  EXPECT_EQ(r.error, "token issuer does not match");
  r = v->Verify(
      MakeToken(kHs256Header, Claims(kNow + 60, "https://auth.example.com/"), Sig::kHs256), kNowTp);
  EXPECT_EQ(r.error, "token issuer does not match");
  r = v->Verify(MakeToken(kHs256Header, R"({"exp":1700000300})", Sig::kHs256), kNowTp);
  EXPECT_EQ(r.error, "token has no iss (issuer) claim");
  r = v->Verify(MakeToken(kHs256Header, R"({"iss":1,"exp":1700000300})", Sig::kHs256), kNowTp);
  EXPECT_EQ(r.error, "token has no iss (issuer) claim");
}

TEST_F(JwtTest, RequiresExpAsWholeSeconds) {
  auto v = Hs256();
  auto with = [&](std::string_view payload) {
    return v->Verify(MakeToken(kHs256Header, payload, Sig::kHs256), kNowTp).error;
  };
  const std::string iss = std::string(R"({"iss":")") + kIssuer + R"(")";
  EXPECT_EQ(with(iss + "}"), "token has no exp (expiry) claim");
  EXPECT_EQ(with(iss + R"(,"exp":null})"), "token exp claim is not a whole number of seconds");
  EXPECT_EQ(with(iss + R"(,"exp":"1700000300"})"),
            "token exp claim is not a whole number of seconds");
  EXPECT_EQ(with(iss + R"(,"exp":1700000300.5})"),
            "token exp claim is not a whole number of seconds");
  EXPECT_EQ(with(iss + R"(,"exp":-1})"), "token exp claim is not a whole number of seconds");
  EXPECT_EQ(with(iss + R"(,"exp":1e300})"), "token exp claim is not a whole number of seconds");
  EXPECT_EQ(with(iss + R"(,"exp":1700000300,"nbf":"0"})"),
            "token nbf claim is not a whole number of seconds");
  EXPECT_EQ(with(iss + R"(,"exp":1700000300,"nbf":1.25})"),
            "token nbf claim is not a whole number of seconds");
  // 1.7e9 written as a float with no fraction is a whole number.
  EXPECT_EQ(with(iss + R"(,"exp":1.7000003e9})"), "");
}

// ---------------------------------------------------------------- malformed tokens

TEST_F(JwtTest, RefusesMalformedStructure) {
  auto v = Hs256();
  const std::string good = MakeToken(kHs256Header, Claims(), Sig::kHs256);
  ASSERT_TRUE(v->Verify(good, kNowTp).ok);
  const Parts p = Split(good);
  const std::string compact = "token is not a compact JWS (header.payload.signature)";
  EXPECT_EQ(v->Verify("", kNowTp).error, "empty token");
  EXPECT_EQ(v->Verify("abc", kNowTp).error, compact);
  EXPECT_EQ(v->Verify(p.header + "." + p.payload, kNowTp).error, compact);
  EXPECT_EQ(v->Verify(good + ".", kNowTp).error, compact);
  EXPECT_EQ(v->Verify(good + ".abc.def", kNowTp).error, compact);  // five parts: a JWE
  EXPECT_EQ(v->Verify("..", kNowTp).error, "token header is not a JSON object");
  EXPECT_FALSE(v->Verify(" " + good, kNowTp).ok);
  EXPECT_FALSE(v->Verify(good + "\n", kNowTp).ok);
}

TEST_F(JwtTest, RefusesLooseBase64) {
  auto v = Hs256();
  const Parts p = Split(MakeToken(kHs256Header, Claims(), Sig::kHs256));
  auto with_header = [&](const std::string& h) {
    return v->Verify(h + "." + p.payload + "." + p.signature, kNowTp).error;
  };
  auto with_signature = [&](const std::string& s) {
    return v->Verify(p.header + "." + p.payload + "." + s, kNowTp).error;
  };
  const std::string bad_header = "token header is not base64url";
  // The header {"alg":"HS256","typ":"JWT"} is 27 bytes: 36 characters, no padding needed.
  ASSERT_EQ(p.header.size(), 36u);
  EXPECT_EQ(with_header(p.header + "=="), bad_header);
  EXPECT_EQ(with_header(p.header + "A"), bad_header);  // 37 characters: length % 4 == 1
  std::string plus = p.header;
  plus[3] = '+';
  EXPECT_EQ(with_header(plus), bad_header);
  std::string slash = p.header;
  slash[3] = '/';
  EXPECT_EQ(with_header(slash), bad_header);
  EXPECT_EQ(with_header(p.header.substr(0, 10) + " " + p.header.substr(10)), bad_header);
  EXPECT_EQ(v->Verify(p.header + ".e30*." + p.signature, kNowTp).error,
            "token payload is not base64url");

  // A 32-byte HMAC is 43 characters, the last one carrying 2 unused bits that must be zero.
  ASSERT_EQ(p.signature.size(), 43u);
  EXPECT_EQ(with_signature(p.signature + "="), "token signature is not base64url");
  std::string loose = p.signature;
  const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t last = std::string_view(kAlphabet).find(loose.back());
  loose.back() = kAlphabet[last | 1];  // same decoded bytes, a non-zero unused bit
  ASSERT_NE(loose, p.signature);
  EXPECT_EQ(with_signature(loose), "token signature is not base64url");
}

TEST_F(JwtTest, RefusesHeaderOrPayloadThatIsNotAJsonObject) {
  auto v = Hs256();
  for (const char* header : {"", "[]", R"("HS256")", R"({"alg":"HS256")", "not json",
                             R"({"alg":"HS256","alg":"none"})"}) {
    EXPECT_EQ(v->Verify(MakeToken(header, Claims(), Sig::kHs256), kNowTp).error,
              "token header is not a JSON object")
        << header;
  }
  // Duplicate names are refused rather than resolved one way or the other.
  const std::string dup = Claims(kNow + 60, kIssuer, R"(,"iss":"https://evil.example.com")");
  // What protobuf's lenient parser would take but JSON is not: unquoted names, single quotes,
  // a trailing comma (each signed correctly).
  const std::string exp = std::to_string(kNow + 60);
  for (const std::string& payload :
       {std::string("[1]"), std::string("{"), std::string("\xff"), dup, Claims() + "{}",
        "{iss:\"" + std::string(kIssuer) + "\",exp:" + exp + "}",
        "{'iss':'" + std::string(kIssuer) + "','exp':" + exp + "}",
        R"({"iss":")" + std::string(kIssuer) + R"(","exp":)" + exp + ",}"}) {
    EXPECT_EQ(v->Verify(MakeToken(kHs256Header, payload, Sig::kHs256), kNowTp).error,
              "token payload is not a JSON object")
        << payload;
  }
}

TEST_F(JwtTest, RefusesOversizedTokens) {
  auto v = Hs256();
  auto token_with = [&](size_t pad) {
    return MakeToken(kHs256Header,
                     Claims(kNow + 60, kIssuer, R"(,"pad":")" + std::string(pad, 'x') + "\""),
                     Sig::kHs256);
  };
  // The biggest token within the limit passes; one byte more of claims and it is refused.
  size_t pad = 0;
  while (token_with(pad + 1).size() <= kMaxJwtSize) ++pad;
  ASSERT_LE(token_with(pad).size(), kMaxJwtSize);
  ASSERT_GT(token_with(pad).size(), kMaxJwtSize - 4);
  EXPECT_TRUE(v->Verify(token_with(pad), kNowTp).ok);
  JwtVerification r = v->Verify(token_with(pad + 1), kNowTp);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "token longer than 8192 bytes");
  EXPECT_EQ(v->Verify(std::string(1 << 20, 'a'), kNowTp).error, "token longer than 8192 bytes");
}

// ---------------------------------------------------------------- credentials

TEST_F(JwtTest, RefusesKeysThatDoNotFit) {
  const std::string rsa_pem = PublicPem(rsa_);
  EXPECT_EQ(CreateError({kIssuer, "", "garbage"}),
            "the public key is not one PEM block -----BEGIN PUBLIC KEY-----");
  std::string broken = rsa_pem;
  broken[40] = broken[40] == 'A' ? 'B' : 'A';
  broken.erase(60, 8);
  EXPECT_EQ(CreateError({kIssuer, "", broken}),
            "the public key does not parse as PEM SubjectPublicKeyInfo");
  EXPECT_EQ(CreateError({kIssuer, "", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"}),
            "the public key does not parse as PEM SubjectPublicKeyInfo");
  EXPECT_EQ(CreateError({kIssuer, "", rsa_pem + rsa_pem}),
            "the public key is not one PEM block -----BEGIN PUBLIC KEY-----");

  Pkey rsa1024 = Generate("RSA", "1024");
  EXPECT_EQ(CreateError({kIssuer, "", PublicPem(rsa1024.get())}),
            "RSA key of 1024 bits: RS256 needs 2048 to 8192");
  Pkey p384 = Generate("EC", "P-384");  // ES384 is not supported
  EXPECT_EQ(CreateError({kIssuer, "", PublicPem(p384.get())}),
            "EC key on curve secp384r1: ES256 needs P-256 (prime256v1)");
  Pkey ed25519 = Generate("ED25519", nullptr);
  EXPECT_EQ(CreateError({kIssuer, "", PublicPem(ed25519.get())}),
            "key type ED25519 is not supported (RS256: RSA, ES256: EC P-256)");

  EXPECT_EQ(CreateError({kIssuer, "", PrivatePem(ec_)}),
            "this is a private key: give its public key (openssl pkey -pubout)");
  EXPECT_EQ(CreateError({kIssuer, "",
                         "-----BEGIN RSA PUBLIC KEY-----\nMAo=\n"
                         "-----END RSA PUBLIC KEY-----\n"}),
            "this is a PKCS#1 RSA key: convert it (openssl rsa -RSAPublicKey_in -pubout)");
  EXPECT_EQ(CreateError({kIssuer, "", std::string(kMaxJwtPublicKeyPemSize + 1, 'a')}),
            "the public key is longer than 16384 bytes");
}

TEST_F(JwtTest, RefusesBadSecretsAndIssuers) {
  EXPECT_EQ(CreateError({kIssuer, std::string(31, 's'), ""}),
            "an HS256 secret has 32 to 1024 bytes (this one has 31)");
  EXPECT_EQ(CreateError({kIssuer, std::string(1025, 's'), ""}),
            "an HS256 secret has 32 to 1024 bytes (this one has 1025)");
  EXPECT_EQ(CreateError({kIssuer, "", ""}),
            "a JWT credential needs a secret (HS256) or a public key (RS256, ES256)");
  EXPECT_EQ(CreateError({kIssuer, kSecret, PublicPem(rsa_)}),
            "give a JWT secret or a public key, not both");
  const std::string issuer_rule = "a JWT issuer has 1 to 1024 characters and no control characters";
  EXPECT_EQ(CreateError({"", kSecret, ""}), issuer_rule);
  EXPECT_EQ(CreateError({"iss\n", kSecret, ""}), issuer_rule);
  EXPECT_EQ(CreateError({std::string(1025, 'i'), kSecret, ""}), issuer_rule);
  EXPECT_NE(JwtVerifier::Create({std::string(1024, 'i'), std::string(32, '\0'), ""}), nullptr);
}

TEST_F(JwtTest, AlgorithmNames) {
  EXPECT_EQ(JwtAlgorithmName(JwtAlgorithm::kHs256), "HS256");
  EXPECT_EQ(JwtAlgorithmName(JwtAlgorithm::kRs256), "RS256");
  EXPECT_EQ(JwtAlgorithmName(JwtAlgorithm::kEs256), "ES256");
}

// ---------------------------------------------------------------- key set

TEST_F(JwtTest, KeySetPicksTheConsumerByIssuerAndKey) {
  std::string error;
  auto set = JwtKeySet::Build(
      {{"alice", {"https://a.example", kSecret, ""}},
       {"bob", {"https://b.example", "", PublicPem(rsa_)}},
       // carol and dave share an issuer with different keys.
       {"carol", {"https://shared.example", "", PublicPem(ec_)}},
       {"dave", {"https://shared.example", "", PublicPem(other_ec_)}},
       {"erin", {"https://shared.example", "erin-secret-erin-secret-erin-secret", ""}}},
      &error);
  ASSERT_NE(set, nullptr) << error;
  EXPECT_EQ(set->size(), 5u);

  auto verify = [&](const std::string& token) { return set->Verify(token, kNowTp); };
  JwtVerification r =
      verify(MakeToken(kHs256Header, Claims(kNow + 60, "https://a.example"), Sig::kHs256));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.consumer, "alice");
  EXPECT_EQ(r.issuer, "https://a.example");
  EXPECT_EQ(r.subject, "user-42");

  r = verify(MakeToken(kRs256Header, Claims(kNow + 60, "https://b.example"), Sig::kRs256, rsa_));
  EXPECT_EQ(r.consumer, "bob");
  r = verify(
      MakeToken(kEs256Header, Claims(kNow + 60, "https://shared.example"), Sig::kEs256, ec_));
  EXPECT_EQ(r.consumer, "carol");
  r = verify(
      MakeToken(kEs256Header, Claims(kNow + 60, "https://shared.example"), Sig::kEs256, other_ec_));
  EXPECT_EQ(r.consumer, "dave");
  r = verify(MakeToken(kHs256Header, Claims(kNow + 60, "https://shared.example"), Sig::kHs256,
                       nullptr, "erin-secret-erin-secret-erin-secret"));
  EXPECT_EQ(r.consumer, "erin");

  // alice's secret does not sign for bob's issuer, nor bob's key for alice's.
  r = verify(MakeToken(kHs256Header, Claims(kNow + 60, "https://b.example"), Sig::kHs256));
  EXPECT_EQ(r.error, "token alg does not match the issuer's key");
  r = verify(MakeToken(kRs256Header, Claims(kNow + 60, "https://a.example"), Sig::kRs256, rsa_));
  EXPECT_EQ(r.error, "token alg does not match the issuer's key");
  r = verify(
      MakeToken(kRs256Header, Claims(kNow + 60, "https://b.example"), Sig::kRs256, other_rsa_));
  EXPECT_EQ(r.error, "token signature does not verify");
  EXPECT_EQ(r.consumer, "");
  r = verify(MakeToken(kHs256Header, Claims(kNow + 60, "https://nobody.example"), Sig::kHs256));
  EXPECT_EQ(r.error, "token issuer is not known");
  // The consumer's key verified the signature: its claims decide.
  r = verify(
      MakeToken(kEs256Header, Claims(kNow - 60, "https://shared.example"), Sig::kEs256, other_ec_));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "token expired");
  EXPECT_EQ(r.consumer, "");
  r = verify("not-a-token");
  EXPECT_EQ(r.error, "token is not a compact JWS (header.payload.signature)");
}

TEST_F(JwtTest, KeySetBuildNamesTheConsumerWithABadKey) {
  std::string error;
  EXPECT_EQ(JwtKeySet::Build({{"alice", {"https://a.example", kSecret, ""}},
                              {"bob", {"https://b.example", "short", ""}}},
                             &error),
            nullptr);
  EXPECT_EQ(error, "consumer bob: an HS256 secret has 32 to 1024 bytes (this one has 5)");
  auto empty = JwtKeySet::Build({});
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_EQ(empty->Verify(MakeToken(kHs256Header, Claims(), Sig::kHs256), kNowTp).error,
            "token issuer is not known");
}

TEST_F(JwtTest, KeySetIsSafeToShareBetweenThreads) {
  auto set = JwtKeySet::Build({{"alice", {"https://a.example", kSecret, ""}},
                               {"bob", {"https://b.example", "", PublicPem(rsa_)}},
                               {"carol", {"https://c.example", "", PublicPem(ec_)}}});
  ASSERT_NE(set, nullptr);
  const std::string tokens[] = {
      MakeToken(kHs256Header, Claims(kNow + 60, "https://a.example"), Sig::kHs256),
      MakeToken(kRs256Header, Claims(kNow + 60, "https://b.example"), Sig::kRs256, rsa_),
      MakeToken(kEs256Header, Claims(kNow + 60, "https://c.example"), Sig::kEs256, ec_),
      MakeToken(kEs256Header, Claims(kNow + 60, "https://c.example"), Sig::kEs256, other_ec_),
  };
  const char* expected[] = {"alice", "bob", "carol", ""};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const int k = (t + i) % 4;
        if (set->Verify(tokens[k], kNowTp).consumer != expected[k]) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace gw
