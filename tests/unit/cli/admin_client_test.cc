#include "cli/admin_client.h"

#include <gtest/gtest.h>

namespace gw::cli {
namespace {

using std::chrono::milliseconds;

std::string Describe(grpc::StatusCode code, std::string message, bool reached = true) {
  return DescribeCallFailure(grpc::Status(code, std::move(message)), "127.0.0.1:50051",
                             milliseconds(5000), reached);
}

TEST(DescribeCallFailure, UnreachableNamesTheAddressAndTheReason) {
  EXPECT_EQ(Describe(grpc::StatusCode::UNAVAILABLE,
                     "failed to connect to all addresses; last error: UNKNOWN: "
                     "ipv4:127.0.0.1:50051: Failed to connect to remote host: Connection refused",
                     false),
            "cannot reach control plane at 127.0.0.1:50051 (connection refused)");
  EXPECT_EQ(Describe(grpc::StatusCode::UNAVAILABLE, "DNS resolution failed for nosuch:1", false),
            "cannot reach control plane at 127.0.0.1:50051 (cannot resolve the host name)");
  EXPECT_EQ(Describe(grpc::StatusCode::UNAVAILABLE,
                     "failed to connect to all addresses; last error: UNAVAILABLE: "
                     "ipv4:127.0.0.1:80: Failed parsing HTTP/2",
                     false),
            "cannot reach control plane at 127.0.0.1:50051 (the server there does not speak "
            "gRPC; use the control plane's --listen address)");
  EXPECT_EQ(Describe(grpc::StatusCode::UNAVAILABLE,
                     "failed to connect to all addresses; last error: UNAVAILABLE: something\nnew",
                     false),
            "cannot reach control plane at 127.0.0.1:50051 (something new)");
  EXPECT_EQ(Describe(grpc::StatusCode::UNAVAILABLE, "", false),
            "cannot reach control plane at 127.0.0.1:50051 (unavailable)");
}

TEST(DescribeCallFailure, DeadlineTellsNoConnectionFromNoAnswer) {
  EXPECT_EQ(Describe(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded", false),
            "cannot reach control plane at 127.0.0.1:50051 (no connection within 5s; see "
            "--timeout)");
  EXPECT_EQ(Describe(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded", true),
            "control plane at 127.0.0.1:50051 did not answer within 5s (see --timeout)");
}

TEST(DescribeCallFailure, ServerChosenErrorsAreTheServersMessageInOneLine) {
  EXPECT_EQ(Describe(grpc::StatusCode::INVALID_ARGUMENT, "path 'api' must start with '/'"),
            "path 'api' must start with '/'");
  EXPECT_EQ(Describe(grpc::StatusCode::ALREADY_EXISTS, "route /api (prefix) already exists\n"),
            "route /api (prefix) already exists");
  EXPECT_EQ(Describe(grpc::StatusCode::FAILED_PRECONDITION, "service x is used by\nroute /a"),
            "service x is used by route /a");
  EXPECT_EQ(Describe(grpc::StatusCode::NOT_FOUND, ""),
            "control plane at 127.0.0.1:50051 failed the call with status 5");
  EXPECT_EQ(Describe(grpc::StatusCode::UNIMPLEMENTED, ""),
            "control plane at 127.0.0.1:50051 does not implement this call");
  EXPECT_EQ(Describe(grpc::StatusCode::OK, ""), "");
}

}  // namespace
}  // namespace gw::cli
