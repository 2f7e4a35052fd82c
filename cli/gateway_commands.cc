// gatewayctl gateways [prune] | status | version: what the control plane knows about its
// gateways and itself.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/duration.h"

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
    case Action::kGatewaysPrune: {
      gateway::v1::PruneGatewaysRequest request;
      if (command.older_than) {
        std::string error;
        const auto older_than = ParseDuration(*command.older_than, &error);
        if (!older_than) return Fail(err, "bad --older-than: " + error);
        request.set_older_than_ms(static_cast<uint64_t>(older_than->count()));
      }
      gateway::v1::PruneGatewaysResponse response;
      if (std::string error = client.PruneGateways(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderPruned(response.node_ids(), command.output);
      return kExitOk;
    }
    case Action::kVersion: {
      // Ours first: it is known even when the control plane cannot be reached.
      out << "gatewayctl " << GATEWAY_BUILD_VERSION << '\n' << std::flush;
      gateway::v1::StatusResponse response;
      if (std::string error = client.GetStatus(gateway::v1::GetStatusRequest(), &response);
          !error.empty())
        return Fail(err, error);
      out << "controlplane "
          << (response.build_version().empty() ? "(older than 0.2.0)" : response.build_version())
          << " at " << client.server() << '\n';
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
      return Fail(err, "internal error: not a gateways, status or version command");
  }
}

}  // namespace gw::cli
