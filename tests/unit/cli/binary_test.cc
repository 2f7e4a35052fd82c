// The built gatewayctl binary (GATEWAYCTL_BINARY), run as a user would: exit statuses, one-line
// errors, and an unreachable control plane reported fast, naming its address.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>

namespace {

struct ProcessRun {
  int exit = -1;
  std::string output;  // stdout and stderr together
};

ProcessRun RunShell(const std::string& command_line) {
  ProcessRun run;
  FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    run.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// A loopback port with nothing listening: bound to learn a free one, then closed.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

const std::string kBinary = GATEWAYCTL_BINARY;

TEST(GatewayctlBinary, UnreachableControlPlaneFailsFastNamingTheAddress) {
  const int port = UnusedPort();
  ASSERT_GT(port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  for (const std::string command : {"status", "route list", "route add /api order-svc"}) {
    const auto start = std::chrono::steady_clock::now();
    const ProcessRun run =
        RunShell("env -u GATEWAYCTL_SERVER " + kBinary + " --server " + address + " " + command);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(5)) << command;
    EXPECT_EQ(run.exit, 1) << command;
    EXPECT_EQ(run.output,
              "gatewayctl: cannot reach control plane at " + address + " (connection refused)\n")
        << command;
  }
}

TEST(GatewayctlBinary, ServerComesFromTheEnvironment) {
  const int port = UnusedPort();
  ASSERT_GT(port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const ProcessRun run = RunShell("GATEWAYCTL_SERVER=" + address + " " + kBinary + " status");
  EXPECT_EQ(run.exit, 1);
  EXPECT_EQ(run.output,
            "gatewayctl: cannot reach control plane at " + address + " (connection refused)\n");
}

TEST(GatewayctlBinary, UsageErrorsExit2InOneLine) {
  for (const std::string args : {"", "route list --no-such-flag", "route add /api",
                                 "route get /a --exact --prefix", "-o yaml status", "frob"}) {
    const ProcessRun run = RunShell(kBinary + " " + args);
    EXPECT_EQ(run.exit, 2) << args;
    ASSERT_FALSE(run.output.empty()) << args;
    EXPECT_EQ(run.output.find('\n'), run.output.size() - 1) << args << ": " << run.output;
    EXPECT_EQ(run.output.rfind("gatewayctl: ", 0), 0u) << run.output;
  }
}

TEST(GatewayctlBinary, HelpExits0) {
  const ProcessRun run = RunShell(kBinary + " --help");
  EXPECT_EQ(run.exit, 0);
  EXPECT_NE(run.output.find("Usage: gatewayctl"), std::string::npos);
  const ProcessRun sub = RunShell(kBinary + " service add --help");
  EXPECT_EQ(sub.exit, 0);
  EXPECT_NE(sub.output.find("--endpoint"), std::string::npos);
}

}  // namespace
