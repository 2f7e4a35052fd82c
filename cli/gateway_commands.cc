// gatewayctl gateways | status: what the control plane knows about its gateways and itself.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"

namespace gw::cli {

int RunGatewayCommand(const Command& command, AdminClient& client, std::ostream& out,
                      std::ostream& err) {
  switch (command.action) {
    case Action::kGateways: {
      gateway::v1::ListGatewaysResponse response;
      if (std::string error = client.ListGateways(gateway::v1::ListGatewaysRequest(), &response);
          !error.empty())
        return Fail(err, error);
      out << RenderGateways(response.gateways(), command.output);
      return kExitOk;
    }
    case Action::kStatus: {
      gateway::v1::StatusResponse response;
      if (std::string error = client.GetStatus(gateway::v1::GetStatusRequest(), &response);
          !error.empty())
        return Fail(err, error);
      out << RenderStatus(response, client.server(), command.output);
      return kExitOk;
    }
    default:
      return Fail(err, "internal error: not a gateways or status command");
  }
}

}  // namespace gw::cli
