#include "gateway/policy/cors.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace gw {
namespace {

CorsPolicyConstSharedPtr Build(const CorsConfig& config) {
  std::string error;
  CorsPolicyConstSharedPtr policy = CorsPolicy::Build(config, &error);
  EXPECT_NE(policy, nullptr) << error;
  return policy;
}

// The app's usual policy: one origin, three methods, two request headers, a day of caching.
CorsConfig AppConfig() {
  CorsConfig config;
  config.origins = {"https://app.example.com", "http://localhost:3000"};
  config.methods = {"GET", "POST", "PUT"};
  config.headers = {"Content-Type", "X-Request-Id"};
  config.max_age_seconds = 86400;
  return config;
}

std::map<std::string, std::string> Fields(const CorsHeaders& headers) {
  std::map<std::string, std::string> fields;
  for (const CorsHeader& h : headers) fields[std::string(h.name)] = std::string(h.value);
  return fields;
}

bool HasAccessControlField(const CorsHeaders& headers) {
  for (const CorsHeader& h : headers) {
    if (h.name.starts_with("Access-Control-")) return true;
  }
  return false;
}

TEST(CorsPolicyBuild, RefusesABadConfigWithAReason) {
  std::string error;
  CorsConfig config = AppConfig();
  config.origins = {"foo"};
  EXPECT_EQ(CorsPolicy::Build(config, &error), nullptr);
  EXPECT_EQ(error, "cors origin \"foo\" is not an origin");

  config = AppConfig();
  config.origins = {};
  EXPECT_EQ(CorsPolicy::Build(config, &error), nullptr);
  EXPECT_EQ(error, "cors needs at least one origin");

  config = AppConfig();
  config.methods = {"GET POST"};
  EXPECT_EQ(CorsPolicy::Build(config, &error), nullptr);
  EXPECT_EQ(error, "cors method \"GET POST\" is not a method");

  config = AppConfig();
  config.headers = {"X:Y"};
  EXPECT_EQ(CorsPolicy::Build(config, &error), nullptr);

  config = AppConfig();
  config.max_age_seconds = 86401;
  EXPECT_EQ(CorsPolicy::Build(config, &error), nullptr);
  EXPECT_EQ(error, "cors max age must be at most 86400 seconds");
}

TEST(IsCorsPreflight, NeedsOptionsOriginAndRequestMethod) {
  EXPECT_TRUE(IsCorsPreflight("OPTIONS", "https://app.example.com", "PUT"));
  EXPECT_FALSE(IsCorsPreflight("OPTIONS", "", "PUT"));
  EXPECT_FALSE(IsCorsPreflight("OPTIONS", "https://app.example.com", ""));
  EXPECT_FALSE(IsCorsPreflight("GET", "https://app.example.com", "PUT"));
  EXPECT_FALSE(IsCorsPreflight("options", "https://app.example.com", "PUT"));
}

TEST(AnswerCorsPreflight, AnAllowedPreflightGetsEveryField) {
  const auto policy = Build(AppConfig());
  const CorsPreflightAnswer answer =
      AnswerCorsPreflight(*policy, "https://app.example.com", "PUT", "content-type,x-request-id");
  EXPECT_EQ(answer.status, 204u);
  EXPECT_EQ(answer.refused, CorsRefusal::kNone);
  EXPECT_EQ(Fields(answer.headers),
            (std::map<std::string, std::string>{
                {"Access-Control-Allow-Origin", "https://app.example.com"},
                {"Access-Control-Allow-Methods", "GET, POST, PUT"},
                {"Access-Control-Allow-Headers", "content-type,x-request-id"},
                {"Access-Control-Max-Age", "86400"},
                {"Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
            }));
  for (const CorsHeader& h : answer.headers) EXPECT_EQ(h.append, h.name == "Vary") << h.name;
}

TEST(AnswerCorsPreflight, OriginHostIsCaseInsensitiveAndEchoedAsSent) {
  const auto policy = Build(AppConfig());
  const CorsPreflightAnswer answer =
      AnswerCorsPreflight(*policy, "https://APP.example.com", "GET", "");
  EXPECT_EQ(answer.refused, CorsRefusal::kNone);
  EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Origin"), "https://APP.example.com");
  EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Headers"), "");  // none requested
}

TEST(AnswerCorsPreflight, OriginsDifferingInSchemeOrPortAreOthers) {
  const auto policy = Build(AppConfig());
  for (const char* origin :
       {"http://app.example.com", "https://app.example.com:8443", "https://evil.example.com",
        "https://app.example.com.evil.com", "null", "http://localhost:3001"}) {
    const CorsPreflightAnswer answer = AnswerCorsPreflight(*policy, origin, "GET", "");
    EXPECT_EQ(answer.status, 204u) << origin;
    EXPECT_EQ(answer.refused, CorsRefusal::kOrigin) << origin;
    EXPECT_FALSE(HasAccessControlField(answer.headers)) << origin;
    EXPECT_EQ(answer.headers.Find("Vary"),
              "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  }
}

TEST(AnswerCorsPreflight, ADefaultPortInTheConfigMatchesTheBrowsersOrigin) {
  CorsConfig config = AppConfig();
  config.origins = {"https://app.example.com:443"};
  const auto policy = Build(config);
  EXPECT_EQ(AnswerCorsPreflight(*policy, "https://app.example.com", "GET", "").refused,
            CorsRefusal::kNone);
}

TEST(AnswerCorsPreflight, ADisallowedMethodGetsNoCorsFields) {
  const auto policy = Build(AppConfig());
  CorsPreflightAnswer answer =
      AnswerCorsPreflight(*policy, "https://app.example.com", "DELETE", "");
  EXPECT_EQ(answer.status, 204u);
  EXPECT_EQ(answer.refused, CorsRefusal::kMethod);
  EXPECT_FALSE(HasAccessControlField(answer.headers));
  // Methods are case-sensitive: a script's "put" is not PUT.
  answer = AnswerCorsPreflight(*policy, "https://app.example.com", "put", "");
  EXPECT_EQ(answer.refused, CorsRefusal::kMethod);
  EXPECT_STREQ(CorsRefusalName(answer.refused), "method");
}

TEST(AnswerCorsPreflight, DefaultMethodsAreGetHeadPost) {
  CorsConfig config = AppConfig();
  config.methods = {};
  const auto policy = Build(config);
  for (const char* method : {"GET", "HEAD", "POST"}) {
    const CorsPreflightAnswer answer =
        AnswerCorsPreflight(*policy, "https://app.example.com", method, "");
    EXPECT_EQ(answer.refused, CorsRefusal::kNone) << method;
    EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Methods"), "GET, HEAD, POST");
  }
  EXPECT_EQ(AnswerCorsPreflight(*policy, "https://app.example.com", "PUT", "").refused,
            CorsRefusal::kMethod);
}

TEST(AnswerCorsPreflight, RequestedHeadersMustAllBeAllowedCaseInsensitively) {
  const auto policy = Build(AppConfig());
  CorsPreflightAnswer answer = AnswerCorsPreflight(*policy, "https://app.example.com", "POST",
                                                   " Content-Type , , X-REQUEST-ID ");
  EXPECT_EQ(answer.refused, CorsRefusal::kNone);
  EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Headers"), "Content-Type , , X-REQUEST-ID");

  answer =
      AnswerCorsPreflight(*policy, "https://app.example.com", "POST", "content-type,authorization");
  EXPECT_EQ(answer.status, 204u);
  EXPECT_EQ(answer.refused, CorsRefusal::kHeader);
  EXPECT_FALSE(HasAccessControlField(answer.headers));

  answer = AnswerCorsPreflight(*policy, "https://app.example.com", "POST", "content type");
  EXPECT_EQ(answer.refused, CorsRefusal::kHeader);
}

TEST(AnswerCorsPreflight, WildcardOriginAnswersStar) {
  CorsConfig config = AppConfig();
  config.origins = {"*"};
  const auto policy = Build(config);
  for (const char* origin : {"https://anything.example", "http://localhost:1", "null"}) {
    const CorsPreflightAnswer answer = AnswerCorsPreflight(*policy, origin, "GET", "");
    EXPECT_EQ(answer.refused, CorsRefusal::kNone) << origin;
    EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Credentials"), "");
  }
}

TEST(AnswerCorsPreflight, WildcardOriginWithCredentialsEchoesTheOrigin) {
  CorsConfig config = AppConfig();
  config.origins = {"*"};
  config.allow_credentials = true;
  const auto policy = Build(config);
  const CorsPreflightAnswer answer =
      AnswerCorsPreflight(*policy, "https://anything.example", "GET", "");
  EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Origin"), "https://anything.example");
  EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Credentials"), "true");
  // The opaque origin of a sandboxed frame is never granted credentials.
  EXPECT_EQ(AnswerCorsPreflight(*policy, "null", "GET", "").refused, CorsRefusal::kOrigin);
}

TEST(AnswerCorsPreflight, WildcardMethodsAndHeadersNameWhatWasRequested) {
  CorsConfig config = AppConfig();
  config.methods = {"*"};
  config.headers = {"*"};
  config.max_age_seconds = 0;
  const auto policy = Build(config);
  const CorsPreflightAnswer answer =
      AnswerCorsPreflight(*policy, "https://app.example.com", "PATCH", "x-anything,authorization");
  EXPECT_EQ(answer.refused, CorsRefusal::kNone);
  EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Methods"), "PATCH");
  EXPECT_EQ(answer.headers.Find("Access-Control-Allow-Headers"), "x-anything,authorization");
  EXPECT_EQ(answer.headers.Find("Access-Control-Max-Age"), "");  // 0: none
}

TEST(CorsResponseHeaders, AnAllowedOriginGetsItsFields) {
  CorsConfig config = AppConfig();
  config.expose_headers = {"X-Request-Id", "RateLimit-Remaining"};
  const auto policy = Build(config);
  const CorsHeaders headers = CorsResponseHeaders(*policy, "http://localhost:3000");
  EXPECT_EQ(Fields(headers),
            (std::map<std::string, std::string>{
                {"Access-Control-Allow-Origin", "http://localhost:3000"},
                {"Access-Control-Expose-Headers", "X-Request-Id, RateLimit-Remaining"},
                {"Vary", "Origin"},
            }));
}

TEST(CorsResponseHeaders, OtherOriginsGetNoAccessControlFields) {
  const auto policy = Build(AppConfig());
  for (const char* origin : {"https://evil.example.com", ""}) {
    const CorsHeaders headers = CorsResponseHeaders(*policy, origin);
    EXPECT_FALSE(HasAccessControlField(headers)) << origin;
    ASSERT_EQ(headers.size(), 1u);
    EXPECT_EQ(headers.begin()->name, "Vary");  // a cache must not mix the two answers
    EXPECT_EQ(headers.begin()->value, "Origin");
    EXPECT_TRUE(headers.begin()->append);
  }
}

TEST(CorsResponseHeaders, WildcardAndCredentials) {
  CorsConfig config = AppConfig();
  config.origins = {"*"};
  EXPECT_EQ(
      CorsResponseHeaders(*Build(config), "https://x.example").Find("Access-Control-Allow-Origin"),
      "*");
  config.origins = {"https://app.example.com"};
  config.allow_credentials = true;
  const CorsHeaders headers = CorsResponseHeaders(*Build(config), "https://app.example.com");
  EXPECT_EQ(headers.Find("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(headers.Find("Access-Control-Allow-Credentials"), "true");
}

}  // namespace
}  // namespace gw
