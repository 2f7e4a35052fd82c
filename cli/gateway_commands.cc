// gatewayctl gateways [prune] | status | version: what the control plane knows about its
// gateways and itself.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/duration.h"

namespace gw::cli {
namespace {

// The control plane answered from what it knows alone: its database is unreachable.
void PrintStoreError(std::ostream& err, const std::string& store_error) {
  if (store_error.empty()) return;
  err << "gatewayctl: warning: only this replica's part is shown: " << OneLine(store_error) << '\n'
      << std::flush;
}

}  // namespace

int RunGatewayCommand(const Command& command, AdminClient& client, std::ostream& out,
                      std::ostream& err) {
  switch (command.action) {
    case Action::kGateways: {
      gateway::v1::ListGatewaysResponse response;
      if (std::string error = client.ListGateways(gateway::v1::ListGatewaysRequest(), &response);
          !error.empty())
        return Fail(err, error);
      out << RenderGateways(response.gateways(), command.output);
      PrintStoreError(err, response.store_error());
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
      gateway::v1::StatusResponse response;
      if (std::string error = client.GetStatus(gateway::v1::GetStatusRequest(), &response);
          !error.empty()) {
        // Ours is known even when the control plane cannot be reached.
        if (command.output == OutputFormat::kTable) out << "gatewayctl " GATEWAY_BUILD_VERSION "\n";
        return Fail(err, error);
      }
      out << RenderVersions(response.build_version(), client.server(), command.output);
      return kExitOk;
    }
    case Action::kStatus: {
      gateway::v1::StatusResponse response;
      if (std::string error = client.GetStatus(gateway::v1::GetStatusRequest(), &response);
          !error.empty())
        return Fail(err, error);
      out << RenderStatus(response, client.server(), command.output);
      PrintStoreError(err, response.store_error());
      return kExitOk;
    }
    default:
      return Fail(err, "internal error: not a gateways, status or version command");
  }
}

}  // namespace gw::cli
