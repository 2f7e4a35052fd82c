// The command groups of gatewayctl, one file each: service_commands.cc, route_commands.cc,
// consumer_commands.cc, certificate_commands.cc, gateway_commands.cc (gateways + status) and
// config_commands.cc (apply, diff, export, history, rollback). Each runs one parsed Command against
// the control plane, prints the result on `out` or one line "gatewayctl: ..." on `err`, and returns
// the exit status. Owned by cli/.
#pragma once

#include <ostream>
#include <string_view>

#include "cli/admin_client.h"
#include "cli/command_line.h"

namespace gw::cli {

int RunServiceCommand(const Command& command, AdminClient& client, std::ostream& out,
                      std::ostream& err);
int RunRouteCommand(const Command& command, AdminClient& client, std::ostream& out,
                    std::ostream& err);
int RunConsumerCommand(const Command& command, AdminClient& client, std::ostream& out,
                       std::ostream& err);
int RunCertificateCommand(const Command& command, AdminClient& client, std::ostream& out,
                          std::ostream& err);
int RunGatewayCommand(const Command& command, AdminClient& client, std::ostream& out,
                      std::ostream& err);
int RunConfigCommand(const Command& command, AdminClient& client, std::ostream& out,
                     std::ostream& err);

// What every write sends along: --if-version and the command line (secrets as ***).
gateway::v1::WriteOptions WriteOptionsOf(const Command& command);

// The end of a write that left the config at `version`: with --wait, waits until every
// connected gateway runs it (rollout_wait.h; its "live on" line goes to `out`, or to `err` with
// -o json so stdout stays one JSON value). Returns the exit status.
int FinishWrite(const Command& command, AdminClient& client, uint64_t version, std::ostream& out,
                std::ostream& err);

// Prints "gatewayctl: <message>" as one line on `err` and returns kExitFailed.
int Fail(std::ostream& err, std::string_view message);

}  // namespace gw::cli
