#include "cli/gatewayctl.h"

#include "cli/admin_client.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/rollout_wait.h"

namespace gw::cli {

int Fail(std::ostream& err, std::string_view message) {
  err << "gatewayctl: " << OneLine(message) << '\n' << std::flush;
  return kExitFailed;
}

gateway::v1::WriteOptions WriteOptionsOf(const Command& command) {
  gateway::v1::WriteOptions options;
  if (command.if_version) options.set_if_version(*command.if_version);
  options.set_command(command.command_line);
  return options;
}

int FinishWrite(const Command& command, AdminClient& client, uint64_t version, std::ostream& out,
                std::ostream& err) {
  if (!command.wait) return kExitOk;
  return WaitForRollout(client, version, command.wait_timeout,
                        command.output == OutputFormat::kJson ? err : out, err);
}

int RunGatewayctl(const std::vector<std::string>& args,
                  std::optional<std::string_view> server_from_environment, std::ostream& out,
                  std::ostream& err) {
  const CommandLine line = ParseCommandLine(args, server_from_environment);
  switch (line.outcome) {
    case CommandLine::Outcome::kHelp:
      out << line.text << std::flush;
      return kExitOk;
    case CommandLine::Outcome::kUsageError:
      err << line.text << '\n' << std::flush;
      return kExitUsage;
    case CommandLine::Outcome::kRun:
      break;
  }
  const Command& command = line.command;
  AdminClient client(command.server, command.timeout,
                     {command.token, command.tls_ca, command.tls_server_name});
  int status = kExitOk;
  switch (command.action) {
    case Action::kServiceAdd:
    case Action::kServiceUpdate:
    case Action::kServiceGet:
    case Action::kServiceList:
    case Action::kServiceDelete:
      status = RunServiceCommand(command, client, out, err);
      break;
    case Action::kRouteAdd:
    case Action::kRouteUpdate:
    case Action::kRouteGet:
    case Action::kRouteList:
    case Action::kRouteDelete:
      status = RunRouteCommand(command, client, out, err);
      break;
    case Action::kConsumerAdd:
    case Action::kConsumerGet:
    case Action::kConsumerList:
    case Action::kConsumerDelete:
      status = RunConsumerCommand(command, client, out, err);
      break;
    case Action::kCertAdd:
    case Action::kCertUpdate:
    case Action::kCertGet:
    case Action::kCertList:
    case Action::kCertDelete:
      status = RunCertificateCommand(command, client, out, err);
      break;
    case Action::kGateways:
    case Action::kGatewaysPrune:
    case Action::kStatus:
    case Action::kVersion:
      status = RunGatewayCommand(command, client, out, err);
      break;
    case Action::kApply:
    case Action::kDiff:
    case Action::kExport:
    case Action::kHistory:
    case Action::kHistoryShow:
    case Action::kRollback:
      status = RunConfigCommand(command, client, out, err);
      break;
  }
  out << std::flush;
  return status;
}

}  // namespace gw::cli
