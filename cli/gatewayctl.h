// gatewayctl as a function: parse the arguments, run the command against the control plane,
// return the exit status (0 done, 1 failed, 2 usage error). main() only hands it argv and the
// environment, so tests can run whole invocations in-process. Owned by cli/.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace gw::cli {

// `args` excludes the program name; `server_from_environment` is $GATEWAYCTL_SERVER.
int RunGatewayctl(const std::vector<std::string>& args,
                  std::optional<std::string_view> server_from_environment, std::ostream& out,
                  std::ostream& err);

}  // namespace gw::cli
