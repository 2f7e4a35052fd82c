// gatewayctl service add|update|list|get|delete.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/policy_flags.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::CreateServiceRequest;
using gateway::v1::DeleteResponse;
using gateway::v1::DeleteServiceRequest;
using gateway::v1::GetServiceRequest;
using gateway::v1::ListServicesRequest;
using gateway::v1::ListServicesResponse;
using gateway::v1::ServiceResponse;
using gateway::v1::UpdateServiceRequest;

}  // namespace

int RunServiceCommand(const Command& command, AdminClient& client, std::ostream& out,
                      std::ostream& err) {
  switch (command.action) {
    case Action::kServiceAdd: {
      CreateServiceRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      if (std::string error = BuildServicePolicies(command, request.mutable_service(), nullptr);
          !error.empty())
        return Fail(err, error);
      ServiceResponse response;
      if (std::string error = client.CreateService(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderServiceWrite(response.service(), "created", response.config_version(),
                                command.output);
      PrintWarnings(err, response.warnings());
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    case Action::kServiceUpdate: {
      // Only what was given changes: each field given (or reset) is named in the update mask.
      UpdateServiceRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      if (std::string error = BuildServicePolicies(command, request.mutable_service(),
                                                   request.mutable_update_mask());
          !error.empty())
        return Fail(err, error);
      ServiceResponse response;
      if (std::string error = client.UpdateService(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderServiceWrite(response.service(), "updated", response.config_version(),
                                command.output);
      PrintWarnings(err, response.warnings());
      return FinishWrite(command, client, response.config_version(), out, err);
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
      *request.mutable_options() = WriteOptionsOf(command);
      DeleteResponse response;
      if (std::string error = client.DeleteService(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderDeleted("service " + command.name, command.name, response.config_version(),
                           command.output);
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    default:
      return Fail(err, "internal error: not a service command");
  }
}

}  // namespace gw::cli
