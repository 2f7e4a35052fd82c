// gatewayctl route add|update|get|list|delete.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/byte_size.h"
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

// --max-body-size as typed, in bytes. The size syntax is the CLI's (the contract carries
// bytes), so a bad one is an invalid value, exit 1; the control plane checks the range.
// Returns "" or why.
std::string ParseMaxBodySize(const Command& command, uint64_t* bytes) {
  std::string error;
  const auto parsed = ParseByteSize(*command.max_body_size, &error);
  if (!parsed) return "bad --max-body-size: " + error;
  *bytes = *parsed;
  return "";
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
      if (command.max_body_size) {
        uint64_t bytes = 0;
        if (std::string error = ParseMaxBodySize(command, &bytes); !error.empty())
          return Fail(err, error);
        request.mutable_route()->set_max_body_size(bytes);
      }
      RouteResponse response;
      if (std::string error = client.CreateRoute(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderRouteWrite(response.route(), "created", response.config_version(),
                              command.output);
      return kExitOk;
    }
    case Action::kRouteUpdate: {
      // Only what was given changes: each field set is named in the update mask.
      UpdateRouteRequest request;
      request.mutable_route()->set_path(command.path);
      request.mutable_route()->set_match(command.match);
      if (!command.target.empty()) {
        request.mutable_route()->set_target(command.target);
        request.mutable_update_mask()->add_paths("target");
      }
      if (command.max_body_size) {
        uint64_t bytes = 0;
        if (std::string error = ParseMaxBodySize(command, &bytes); !error.empty())
          return Fail(err, error);
        request.mutable_route()->set_max_body_size(bytes);
        request.mutable_update_mask()->add_paths("max_body_size");
      }
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
