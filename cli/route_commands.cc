// gatewayctl route add|update|get|list|delete.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
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
using gateway::v1::RouteResponse;
using gateway::v1::UpdateRouteRequest;

// "route /api" or, when --exact/--prefix chose one, "route /api (exact)".
std::string DescribeKey(const Command& command) {
  std::string what = "route " + command.path;
  if (command.match != MATCH_UNSPECIFIED)
    what += " (" + std::string(MatchName(command.match)) + ")";
  return what;
}

}  // namespace

int RunRouteCommand(const Command& command, AdminClient& client, std::ostream& out,
                    std::ostream& err) {
  switch (command.action) {
    case Action::kRouteAdd: {
      CreateRouteRequest request;
      request.mutable_route()->set_path(command.path);
      request.mutable_route()->set_match(command.match);
      request.mutable_route()->set_target(command.target);
      RouteResponse response;
      if (std::string error = client.CreateRoute(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderRouteWrite(response.route(), "created", response.config_version(),
                              command.output);
      return kExitOk;
    }
    case Action::kRouteUpdate: {
      UpdateRouteRequest request;
      request.mutable_route()->set_path(command.path);
      request.mutable_route()->set_match(command.match);
      request.mutable_route()->set_target(command.target);
      RouteResponse response;
      if (std::string error = client.UpdateRoute(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderRouteWrite(response.route(), "updated", response.config_version(),
                              command.output);
      return kExitOk;
    }
    case Action::kRouteGet: {
      GetRouteRequest request;
      request.mutable_key()->set_path(command.path);
      request.mutable_key()->set_match(command.match);
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
      request.mutable_key()->set_path(command.path);
      request.mutable_key()->set_match(command.match);
      DeleteResponse response;
      if (std::string error = client.DeleteRoute(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderDeleted(DescribeKey(command), command.path, response.config_version(),
                           command.output);
      return kExitOk;
    }
    default:
      return Fail(err, "internal error: not a route command");
  }
}

}  // namespace gw::cli
