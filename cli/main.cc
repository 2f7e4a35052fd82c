// gatewayctl: the admin CLI of the API gateway. Everything but reading argv and the environment
// lives in gatewayctl_lib (see cli/gatewayctl.h).
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_line.h"
#include "cli/gatewayctl.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  const char* server = std::getenv(std::string(gw::cli::kServerEnvironmentVariable).c_str());
  const std::optional<std::string_view> server_from_environment =
      server ? std::optional<std::string_view>(server) : std::nullopt;
  return gw::cli::RunGatewayctl(args, server_from_environment, std::cout, std::cerr);
}
