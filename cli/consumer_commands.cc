// gatewayctl consumer add|list|get|delete. API keys go to the control plane once, in clear, over
// the admin channel; it keeps their SHA-256 only, and nothing here ever prints a key or secret.
#include <fstream>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/jwt.h"

namespace gw::cli {
namespace {

using gateway::v1::ConsumerResponse;
using gateway::v1::CreateConsumerRequest;
using gateway::v1::DeleteConsumerRequest;
using gateway::v1::DeleteResponse;
using gateway::v1::GetConsumerRequest;
using gateway::v1::ListConsumersRequest;
using gateway::v1::ListConsumersResponse;

// The PEM file of --jwt-public-key, checked here too so a bad file fails before any call.
std::string ReadPublicKey(const std::string& path, std::string* pem) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return "bad --jwt-public-key: cannot read " + path;
  std::ostringstream text;
  text << file.rdbuf();
  if (text.str().size() > kMaxJwtPublicKeyPemSize)
    return "bad --jwt-public-key: " + path + " is larger than " +
           std::to_string(kMaxJwtPublicKeyPemSize) + " bytes";
  *pem = text.str();
  return "";
}

}  // namespace

int RunConsumerCommand(const Command& command, AdminClient& client, std::ostream& out,
                       std::ostream& err) {
  switch (command.action) {
    case Action::kConsumerAdd: {
      CreateConsumerRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      request.mutable_consumer()->set_name(command.name);
      for (const std::string& key : command.api_keys) request.add_api_keys(key);
      if (command.jwt_issuer) {
        auto* jwt = request.mutable_consumer()->mutable_jwt();
        jwt->set_issuer(*command.jwt_issuer);
        if (command.jwt_secret) jwt->set_secret(*command.jwt_secret);
        if (command.jwt_public_key_file) {
          std::string pem;
          if (std::string error = ReadPublicKey(*command.jwt_public_key_file, &pem); !error.empty())
            return Fail(err, error);
          std::string error;
          if (!JwtVerifier::Create({jwt->issuer(), "", pem}, &error))
            return Fail(err, "bad --jwt-public-key " + *command.jwt_public_key_file + ": " + error);
          jwt->set_public_key_pem(pem);
        }
      }
      ConsumerResponse response;
      if (std::string error = client.CreateConsumer(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderConsumerWrite(response.consumer(), "created", response.config_version(),
                                 command.output);
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    case Action::kConsumerGet: {
      GetConsumerRequest request;
      request.set_name(command.name);
      ConsumerResponse response;
      if (std::string error = client.GetConsumer(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderConsumer(response.consumer(), command.output);
      return kExitOk;
    }
    case Action::kConsumerList: {
      ListConsumersResponse response;
      if (std::string error = client.ListConsumers(ListConsumersRequest(), &response);
          !error.empty())
        return Fail(err, error);
      out << RenderConsumers(response.consumers(), command.output);
      return kExitOk;
    }
    case Action::kConsumerDelete: {
      DeleteConsumerRequest request;
      request.set_name(command.name);
      *request.mutable_options() = WriteOptionsOf(command);
      DeleteResponse response;
      if (std::string error = client.DeleteConsumer(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderDeleted("consumer " + command.name, command.name, response.config_version(),
                           command.output);
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    default:
      return Fail(err, "internal error: not a consumer command");
  }
}

}  // namespace gw::cli
