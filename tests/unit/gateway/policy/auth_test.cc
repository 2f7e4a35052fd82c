#include "gateway/policy/auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <string>

namespace gw {
namespace {

using Clock = std::chrono::system_clock;
constexpr int64_t kNow = 1'700'000'000;
const Clock::time_point kNowTp = Clock::time_point(std::chrono::seconds(kNow));
constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";
constexpr char kKey[] = "mobile-app-key-0123456789";

std::string B64Url(std::string_view bytes) {
  std::string out;
  const auto size = 4 * ((bytes.size() + 2) / 3);
  out.resize(size + 1);
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string Hs256Token(int64_t exp, std::string_view secret = kSecret) {
  const std::string input =
      B64Url(R"({"alg":"HS256","typ":"JWT"})") + "." +
      B64Url(R"({"iss":")" + std::string(kIssuer) + R"(","exp":)" + std::to_string(exp) + "}");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
  return input + "." + B64Url(std::string_view(reinterpret_cast<char*>(mac), size));
}

class AuthTest : public testing::Test {
 protected:
  void SetUp() override {
    api_keys_ = ApiKeySet::Build({ApiKeyConsumer{"mobile", {ApiKeySha256Hex(kKey)}}});
    jwt_keys_ = JwtKeySet::Build({JwtConsumer{"web", JwtCredential{kIssuer, kSecret, {}}}});
    ASSERT_TRUE(api_keys_ && jwt_keys_);
  }

  AuthResult Run(gateway::v1::AuthKind kind, uint64_t version = 7) {
    return Authenticate(kind, fields_, AuthKeys{api_keys_.get(), jwt_keys_.get(), version}, cache_,
                        kNowTp);
  }

  std::unique_ptr<const ApiKeySet> api_keys_;
  std::unique_ptr<const JwtKeySet> jwt_keys_;
  VerifiedTokens cache_;
  HttpFields fields_;
};

TEST_F(AuthTest, NoAuthLetsEveryoneThroughAsNobody) {
  const AuthResult result = Run(gateway::v1::AUTH_NONE);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.consumer, "");
}

TEST_F(AuthTest, AnApiKeyNamesItsConsumer) {
  fields_.set("X-API-Key", kKey);
  const AuthResult result = Run(gateway::v1::AUTH_API_KEY);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.consumer, "mobile");
}

TEST_F(AuthTest, AMissingUnknownOrDoubledApiKeyIsRefusedWithAChallenge) {
  AuthResult result = Run(gateway::v1::AUTH_API_KEY);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.challenge, R"(ApiKey realm="gateway", header="X-API-Key")");

  fields_.set("X-API-Key", "not-a-known-key-0123456789");
  EXPECT_FALSE(Run(gateway::v1::AUTH_API_KEY).ok);

  // Two keys, one of them good: which one the client meant is ambiguous.
  fields_.set("X-API-Key", kKey);
  fields_.insert("X-API-Key", "not-a-known-key-0123456789");
  result = Run(gateway::v1::AUTH_API_KEY);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.consumer, "");
}

TEST_F(AuthTest, ABearerTokenNamesItsConsumerAndIsRememberedUnderItsVersion) {
  const std::string token = Hs256Token(kNow + 300);
  fields_.set("Authorization", "Bearer " + token);
  AuthResult result = Run(gateway::v1::AUTH_JWT);
  ASSERT_TRUE(result.ok) << result.challenge;
  EXPECT_EQ(result.consumer, "web");
  ASSERT_NE(cache_.Find(7, token, kNow), nullptr);
  EXPECT_EQ(*cache_.Find(7, token, kNow), "web");

  // Found in the cache: no key set is needed any more for that version...
  jwt_keys_.reset();
  result = Run(gateway::v1::AUTH_JWT);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.consumer, "web");
  // ...but a new version verifies again, and now nobody has a JWT credential.
  result = Run(gateway::v1::AUTH_JWT, 8);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.challenge, R"(Bearer realm="gateway", error="invalid_token", )"
                              R"(error_description="no consumer has a JWT credential")");
}

TEST_F(AuthTest, ABadOrMissingTokenIsRefusedAndNeverRemembered) {
  AuthResult result = Run(gateway::v1::AUTH_JWT);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.challenge, R"(Bearer realm="gateway")");  // no token: no error to name

  fields_.set("Authorization", "Basic dXNlcjpwYXNz");
  EXPECT_EQ(Run(gateway::v1::AUTH_JWT).challenge, R"(Bearer realm="gateway")");

  const std::string forged = Hs256Token(kNow + 300, "another-secret-0123456789abcdef!!");
  fields_.set("Authorization", "bearer " + forged);  // the scheme is case-insensitive
  result = Run(gateway::v1::AUTH_JWT);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.challenge.find(R"(error="invalid_token")"), std::string::npos);
  EXPECT_EQ(cache_.Find(7, forged, kNow), nullptr);

  const std::string expired = Hs256Token(kNow - kJwtClockLeeway.count());
  fields_.set("Authorization", "Bearer " + expired);
  result = Run(gateway::v1::AUTH_JWT);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.challenge.find("token expired"), std::string::npos) << result.challenge;
  EXPECT_EQ(cache_.Find(7, expired, kNow - 100), nullptr);
}

}  // namespace
}  // namespace gw
