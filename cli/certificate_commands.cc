// gatewayctl cert add|update|list|get|delete: the TLS certificates the gateways serve to
// clients. The chain and key files are read and checked here (one line naming the file when
// one is unreadable, not PEM, or the key is not the certificate's) before any call; the key goes
// to the control plane once, over the admin channel, and nothing here ever prints it (answers
// carry its SHA-256).
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/certificate.h"
#include "common/tls_files.h"
#include "common/validation.h"

namespace gw::cli {
namespace {

using gateway::v1::CertificateResponse;
using gateway::v1::CreateCertificateRequest;
using gateway::v1::DeleteCertificateRequest;
using gateway::v1::DeleteResponse;
using gateway::v1::GetCertificateRequest;
using gateway::v1::ListCertificatesRequest;
using gateway::v1::ListCertificatesResponse;
using gateway::v1::UpdateCertificateRequest;

// The PEM file of --cert or --key, at most kMaxCertificatePemBytes: "" or why not.
std::string ReadPem(std::string_view flag, const std::string& path, std::string* pem) {
  std::string error;
  *pem = ReadPemFile(path, &error);
  if (!error.empty()) return "bad " + std::string(flag) + ": " + error;
  if (pem->size() > kMaxCertificatePemBytes)
    return "bad " + std::string(flag) + ": " + path + " is larger than 64 KiB";
  return "";
}

// --cert and --key read and, when both are given, checked together, as the control plane
// checks them (it also checks a chain given alone against the stored key).
std::string ReadFiles(const Command& command, gateway::v1::Certificate* certificate,
                      google::protobuf::FieldMask* mask) {
  if (command.cert_file) {
    if (std::string e = ReadPem("--cert", *command.cert_file, certificate->mutable_cert_pem());
        !e.empty())
      return e;
    if (mask) mask->add_paths("cert_pem");
  }
  if (command.key_file) {
    if (std::string e = ReadPem("--key", *command.key_file, certificate->mutable_key_pem());
        !e.empty())
      return e;
    if (mask) mask->add_paths("key_pem");
  }
  if (command.cert_file && command.key_file) {
    const CertificateInfo info = ParseCertificate(certificate->cert_pem(), certificate->key_pem());
    if (!info.error.empty())
      return "bad --cert " + *command.cert_file + " / --key " + *command.key_file + ": " +
             info.error;
  }
  return "";
}

int Written(const Command& command, AdminClient& client, const CertificateResponse& response,
            std::string_view verb, std::ostream& out, std::ostream& err) {
  PrintWarnings(err, response.warnings());
  out << RenderCertificateWrite(response.certificate(), verb, response.config_version(),
                                response.previous_default(), command.output);
  return FinishWrite(command, client, response.config_version(), out, err);
}

}  // namespace

int RunCertificateCommand(const Command& command, AdminClient& client, std::ostream& out,
                          std::ostream& err) {
  switch (command.action) {
    case Action::kCertAdd: {
      CreateCertificateRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      auto* certificate = request.mutable_certificate();
      certificate->set_name(command.name);
      certificate->set_is_default(command.make_default.value_or(false));
      if (std::string error = ReadFiles(command, certificate, nullptr); !error.empty())
        return Fail(err, error);
      CertificateResponse response;
      if (std::string error = client.CreateCertificate(request, &response); !error.empty())
        return Fail(err, error);
      return Written(command, client, response, "created", out, err);
    }
    case Action::kCertUpdate: {
      UpdateCertificateRequest request;
      *request.mutable_options() = WriteOptionsOf(command);
      auto* certificate = request.mutable_certificate();
      certificate->set_name(command.name);
      if (std::string error = ReadFiles(command, certificate, request.mutable_update_mask());
          !error.empty())
        return Fail(err, error);
      if (command.make_default) {
        certificate->set_is_default(*command.make_default);
        request.mutable_update_mask()->add_paths("is_default");
      }
      CertificateResponse response;
      if (std::string error = client.UpdateCertificate(request, &response); !error.empty())
        return Fail(err, error);
      return Written(command, client, response, "updated", out, err);
    }
    case Action::kCertGet: {
      GetCertificateRequest request;
      request.set_name(command.name);
      CertificateResponse response;
      if (std::string error = client.GetCertificate(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderCertificate(response.certificate(), command.output);
      return kExitOk;
    }
    case Action::kCertList: {
      ListCertificatesResponse response;
      if (std::string error = client.ListCertificates(ListCertificatesRequest(), &response);
          !error.empty())
        return Fail(err, error);
      out << RenderCertificates(response.certificates(), command.output);
      return kExitOk;
    }
    case Action::kCertDelete: {
      DeleteCertificateRequest request;
      request.set_name(command.name);
      *request.mutable_options() = WriteOptionsOf(command);
      DeleteResponse response;
      if (std::string error = client.DeleteCertificate(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderDeleted("certificate " + command.name, command.name, response.config_version(),
                           command.output);
      return FinishWrite(command, client, response.config_version(), out, err);
    }
    default:
      return Fail(err, "internal error: not a cert command");
  }
}

}  // namespace gw::cli
