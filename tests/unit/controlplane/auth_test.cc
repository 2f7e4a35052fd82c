#include "controlplane/auth.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/support/temp_dir.h"

namespace gw {
namespace {

TEST(TokenFileTest, ParsesTokensNamesAndRolesSkippingCommentsAndBlankLines) {
  std::string error;
  const auto entries = ParseTokenFile(
      "# token,name,role\n\n  tok-admin-0123456789 , alice , admin \r\n"
      "tok-viewer-0123456789,victor,viewer\ntok-gw-0123456789012,fleet,gateway",
      &error);
  ASSERT_TRUE(entries) << error;
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].name, "alice");
  EXPECT_EQ((*entries)[0].role, Role::kAdmin);
  EXPECT_EQ((*entries)[1].role, Role::kViewer);
  EXPECT_EQ((*entries)[2].name, "fleet");
  EXPECT_EQ((*entries)[2].role, Role::kGateway);
  // Only digests are kept.
  EXPECT_NE((*entries)[0].digest, (*entries)[1].digest);
}

TEST(TokenFileTest, ABadLineIsRefusedByNumberWithoutShowingTheToken) {
  struct Case {
    const char* content;
    const char* error;
  };
  const Case cases[] = {
      {"secret-token-1234567,alice", "line 1: want TOKEN,NAME,ROLE"},
      {"# c\nsecret-token-1234567,alice,admin,extra", "line 2: want TOKEN,NAME,ROLE"},
      {",alice,admin", "line 1: the token is empty"},
      {"secret token 1234567,alice,admin", "line 1: the token is empty or has spaces"},
      {"secret-token-1234567,,admin", "line 1: the name must be"},
      {"secret-token-1234567,alice,root", "line 1: role 'root' is not admin, viewer or gateway"},
      {"secret-token-1234567,a,admin\nsecret-token-1234567,b,viewer",
       "line 2: the same token as line 1"},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseTokenFile(c.content, &error)) << c.content;
    EXPECT_EQ(error.rfind(c.error, 0), 0u) << c.content << " -> " << error;
    EXPECT_EQ(error.find("secret"), std::string::npos) << error;
  }
}

TEST(TokenFileTest, AnEmptyFileHasNoTokens) {
  std::string error;
  const auto entries = ParseTokenFile("# nobody yet\n", &error);
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty());
}

TEST(NodeIdTest, ACertificateAuthorizesOnlyTheNamesItCarries) {
  Caller certificate{"CN=gw-1", {"gw-1", "gw-1.example"}};
  EXPECT_TRUE(Authorizer::CheckNodeId(certificate, "gw-1").ok());
  EXPECT_TRUE(Authorizer::CheckNodeId(certificate, "gw-1.example").ok());
  const grpc::Status other = Authorizer::CheckNodeId(certificate, "gw-2");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(other.error_message().find("gw-2"), std::string::npos);
  EXPECT_NE(other.error_message().find("CN=gw-1"), std::string::npos);
  // A token caller (no certificate) may use any node id.
  EXPECT_TRUE(Authorizer::CheckNodeId(Caller{"fleet", {}}, "gw-2").ok());
}

// The admin page's requests (its dashboard API, /config) carry the token in an HTTP
// Authorization header and get the same decisions as gRPC calls.
TEST(AuthorizeHeaderTest, ReadersPassAGatewayTokenIsDeniedAndAnythingElseIsUnauthenticated) {
  testing::TempDir dir;
  const std::string file = dir.File("tokens.csv");
  std::ofstream(file) << "admin-token-0123456789,alice,admin\n"
                      << "viewer-token-0123456789,victor,viewer\n"
                      << "gateway-token-0123456789,fleet,gateway\n";
  const Authorizer authorizer(AuthOptions{file, false});
  Caller caller;
  EXPECT_TRUE(
      authorizer.AuthorizeHeader("Bearer admin-token-0123456789", Access::kRead, "read", &caller)
          .ok());
  EXPECT_EQ(caller.actor, "alice");
  EXPECT_TRUE(
      authorizer
          .AuthorizeHeader("bearer   viewer-token-0123456789 ", Access::kRead, "read", &caller)
          .ok());
  EXPECT_EQ(caller.actor, "victor");
  const grpc::Status gateway = authorizer.AuthorizeHeader(
      "Bearer gateway-token-0123456789", Access::kRead, "read the dashboard", &caller);
  EXPECT_EQ(gateway.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(gateway.error_message(),
            "token fleet has role gateway, which may not read the dashboard (subscribing to "
            "config only)");
  EXPECT_EQ(
      authorizer.AuthorizeHeader("Bearer viewer-token-0123456789", Access::kWrite, "write", &caller)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  for (const char* header : {"", "Bearer", "Bearer ", "Bearer unknown-token-0123456789",
                             "Basic YWxpY2U6eA==", "admin-token-0123456789"})
    EXPECT_EQ(authorizer.AuthorizeHeader(header, Access::kRead, "read", &caller).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << header;

  // Without a token file everything reads, as anonymous.
  const Authorizer open(AuthOptions{});
  EXPECT_TRUE(open.AuthorizeHeader("", Access::kRead, "read", &caller).ok());
  EXPECT_EQ(caller.actor, "anonymous");
}

}  // namespace
}  // namespace gw
