// gatewayctl route add|update|get|list|delete: every flag maps to the contract in policy_flags.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/policy_flags.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::CreateRouteRequest;
using gateway::v1::DeleteResponse;
using gateway::v1::DeleteRouteRequest;
using gateway::v1::GetRouteRequest;
using gateway::v1::ListRoutesRequest;
using gateway::v1::ListRoutesResponse;
using gateway::v1::MATCH_UNSPECIFIED;
using gateway::v1::Route;
using gateway::v1::RouteResponse;
using gateway::v1::UpdateRouteRequest;

// "route /api" or, when --exact/--prefix chose one, "route /api (exact)", with the conditions
// that named it.
std::string DescribeKey(const Command& command) {
  std::string what = "route " + command.path;
  if (command.match != MATCH_UNSPECIFIED)
    what += " (" + std::string(MatchName(command.match)) + ")";
  if (!command.host.empty()) what += " host " + command.host;
  for (const auto& method : command.methods) what += " method " + method;
  for (const auto& header : command.headers) what += " header " + header;
  return what;
}

}  // namespace

int RunRouteCommand(const Command& command, AdminClient& client, std::ostream& out,
                    std::ostream& err) {
  switch (command.action) {
    case Action::kRouteAdd: {
      CreateRouteRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      Route* route = request.mutable_route();
      if (std::string error = BuildRouteMatch(command, route); !error.empty())
        return Fail(err, error);
      if (std::string error = BuildRoutePolicies(command, route, nullptr); !error.empty())
        return Fail(err, error);
      RouteResponse response;
      if (std::string error = client.CreateRoute(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderRouteWrite(response.route(), "created", response.config_version(),
                              command.output);
      PrintWarnings(err, response.warnings());
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    case Action::kRouteUpdate: {
      // Only what was given changes: each field given (or reset) is named in the update mask.
      UpdateRouteRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      Route* route = request.mutable_route();
      if (std::string error = BuildRouteMatch(command, route); !error.empty())
        return Fail(err, error);
      if (std::string error = BuildRoutePolicies(command, route, request.mutable_update_mask());
          !error.empty())
        return Fail(err, error);
      RouteResponse response;
      if (std::string error = client.UpdateRoute(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderRouteWrite(response.route(), "updated", response.config_version(),
                              command.output);
      PrintWarnings(err, response.warnings());
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    case Action::kRouteGet: {
      GetRouteRequest request;
      std::string error;
      *request.mutable_key() = BuildRouteKey(command, &error);
      if (!error.empty()) return Fail(err, error);
      RouteResponse response;
      if (std::string error = client.GetRoute(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderRoute(response.route(), command.output);
      return kExitOk;
    }
    case Action::kRouteList: {
      ListRoutesResponse response;
      if (std::string error = client.ListRoutes(ListRoutesRequest(), &response); !error.empty())
        return Fail(err, error);
      out << RenderRoutes(response.routes(), command.output);
      return kExitOk;
    }
    case Action::kRouteDelete: {
      DeleteRouteRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      std::string key_error;
      *request.mutable_key() = BuildRouteKey(command, &key_error);
      if (!key_error.empty()) return Fail(err, key_error);
      DeleteResponse response;
      if (std::string error = client.DeleteRoute(request, &response); !error.empty())
        return Fail(err, error);
      // The route the control plane deleted, named by all of its conditions.
      const std::string what = response.route().path().empty()
                                   ? DescribeKey(command)
                                   : "route " + DescribeRouteMatch(response.route());
      out << RenderDeleted(what, command.path, response.config_version(), command.output);
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    default:
      return Fail(err, "internal error: not a route command");
  }
}

}  // namespace gw::cli
