#include "cli/rollout_wait.h"

#include <algorithm>
#include <thread>

#include "common/duration.h"

namespace gw::cli {
namespace {

using gateway::v1::GatewayStatus;
using gateway::v1::ListGatewaysRequest;
using gateway::v1::ListGatewaysResponse;

// "gateway gw-1 (127.0.0.1:8080)".
std::string Named(const GatewayStatus& gateway) {
  std::string name = "gateway " + OneLine(gateway.node_id());
  if (!gateway.address().empty()) name += " (" + OneLine(gateway.address()) + ")";
  return name;
}

}  // namespace

RolloutCheck::RolloutCheck(uint64_t version, const ListGatewaysResponse& start)
    : version_(version) {
  for (const GatewayStatus& gateway : start.gateways())
    if (gateway.connected()) connected_at_start_.insert(gateway.node_id());
}

RolloutVerdict RolloutCheck::Check(const ListGatewaysResponse& now,
                                   std::chrono::milliseconds waited) const {
  RolloutVerdict verdict;
  const std::string version = std::to_string(version_);
  for (const GatewayStatus& gateway : now.gateways()) {
    const std::string where = " (at version " + std::to_string(gateway.acked_version()) + ")";
    if (gateway.acked_version() >= version_) {
      if (gateway.connected()) ++verdict.live;
      continue;  // it applied it (one that left since still did)
    }
    if (!gateway.connected()) {
      if (connected_at_start_.contains(gateway.node_id()))
        verdict.problems.push_back(Named(gateway) + " disconnected before it applied version " +
                                   version + where);
      continue;  // gone before the wait: not waited for
    }
    if (gateway.nacked_version() >= version_ && !gateway.error().empty()) {
      verdict.problems.push_back(Named(gateway) + " refused version " +
                                 std::to_string(gateway.nacked_version()) + ": " +
                                 OneLine(gateway.error()) + where);
      continue;
    }
    if (!gateway.behind().empty()) {
      verdict.problems.push_back(Named(gateway) + " cannot apply version " + version + ": " +
                                 OneLine(gateway.behind()) + where);
      continue;
    }
    verdict.pending.push_back(Named(gateway) + " has not applied version " + version + " within " +
                              FormatDuration(waited) + where);
  }
  verdict.settled = verdict.pending.empty();
  return verdict;
}

int WaitForRollout(AdminClient& client, uint64_t version, std::chrono::milliseconds timeout,
                   std::ostream& out, std::ostream& err) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  ListGatewaysResponse listing;
  std::string error = client.ListGateways(ListGatewaysRequest(), &listing);
  if (!error.empty()) {
    err << "gatewayctl: cannot wait for the gateways: " << OneLine(error) << '\n' << std::flush;
    return 1;
  }
  const RolloutCheck check(version, listing);
  if (check.none_connected_at_start()) {
    err << "gatewayctl: note: no gateway connected; nothing to wait for\n" << std::flush;
    return 0;
  }
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    RolloutVerdict verdict;
    if (error.empty()) verdict = check.Check(listing, timeout);
    const bool timed_out = now >= deadline;
    if (error.empty() && (verdict.settled || timed_out)) {
      if (verdict.problems.empty() && verdict.pending.empty()) {
        out << "version " << version << " live on " << verdict.live << " gateway"
            << (verdict.live == 1 ? "" : "s") << " (" << FormatDuration(waited) << ")\n"
            << std::flush;
        return 0;
      }
      for (const std::string& problem : verdict.problems) err << "gatewayctl: " << problem << '\n';
      for (const std::string& pending : verdict.pending) err << "gatewayctl: " << pending << '\n';
      err << std::flush;
      return 1;
    }
    if (timed_out) {  // the last poll failed: say why
      err << "gatewayctl: cannot tell whether version " << version
          << " is live on every gateway: " << OneLine(error) << '\n'
          << std::flush;
      return 1;
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kWaitPollInterval, deadline - now));
    listing.Clear();
    error = client.ListGateways(ListGatewaysRequest(), &listing);
  }
}

}  // namespace gw::cli
