// gatewayctl service add|update|list|get|delete.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::CreateServiceRequest;
using gateway::v1::DeleteResponse;
using gateway::v1::DeleteServiceRequest;
using gateway::v1::Endpoint;
using gateway::v1::GetServiceRequest;
using gateway::v1::ListServicesRequest;
using gateway::v1::ListServicesResponse;
using gateway::v1::Service;
using gateway::v1::ServiceResponse;
using gateway::v1::UpdateServiceRequest;

// Builds the Service to send from NAME and the --endpoint values. Endpoints are parsed here with
// the rules the control plane applies, since the message needs host and port apart; a bad one
// is an invalid value (exit 1), like every value the control plane refuses. Returns "" or why.
std::string BuildService(const Command& command, Service* service) {
  service->set_name(command.name);
  for (const std::string& text : command.endpoints) {
    std::string error;
    const auto endpoint = ParseHostPort(text, &error);
    if (!endpoint) {
      // Name the value once: most of ParseHostPort's reasons quote it already.
      if (error.find("'" + text + "'") != std::string::npos) return "bad --endpoint: " + error;
      return "bad --endpoint '" + text + "': " + error;
    }
    Endpoint* out = service->add_endpoints();
    out->set_host(endpoint->host);
    out->set_port(endpoint->port);
  }
  return "";
}

}  // namespace

int RunServiceCommand(const Command& command, AdminClient& client, std::ostream& out,
                      std::ostream& err) {
  switch (command.action) {
    case Action::kServiceAdd: {
      CreateServiceRequest request;
      if (std::string error = BuildService(command, request.mutable_service()); !error.empty())
        return Fail(err, error);
      ServiceResponse response;
      if (std::string error = client.CreateService(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderServiceWrite(response.service(), "created", response.config_version(),
                                command.output);
      return kExitOk;
    }
    case Action::kServiceUpdate: {
      UpdateServiceRequest request;
      if (std::string error = BuildService(command, request.mutable_service()); !error.empty())
        return Fail(err, error);
      ServiceResponse response;
      if (std::string error = client.UpdateService(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderServiceWrite(response.service(), "updated", response.config_version(),
                                command.output);
      return kExitOk;
    }
    case Action::kServiceGet: {
      GetServiceRequest request;
      request.set_name(command.name);
      ServiceResponse response;
      if (std::string error = client.GetService(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderService(response.service(), command.output);
      return kExitOk;
    }
    case Action::kServiceList: {
      ListServicesResponse response;
      if (std::string error = client.ListServices(ListServicesRequest(), &response); !error.empty())
        return Fail(err, error);
      out << RenderServices(response.services(), command.output);
      return kExitOk;
    }
    case Action::kServiceDelete: {
      DeleteServiceRequest request;
      request.set_name(command.name);
      DeleteResponse response;
      if (std::string error = client.DeleteService(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderDeleted("service " + command.name, command.name, response.config_version(),
                           command.output);
      return kExitOk;
    }
    default:
      return Fail(err, "internal error: not a service command");
  }
}

}  // namespace gw::cli
