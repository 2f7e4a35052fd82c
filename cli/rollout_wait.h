// `--wait`: after a write made config version V, polls ListGateways (every gateway of the
// cluster, whichever replica answers) until every connected gateway has ACKed V or later, or
// has failed: NACKed V or later, cannot be sent V (`behind`: it lacks a feature), or
// disconnected during the wait; at the deadline every gateway still short of V is named. The
// verdict is a pure function of the listings (RolloutCheck), the polling loop is WaitForRollout.
// Owned by cli/.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "cli/admin_client.h"
#include "cli/output.h"
#include "gateway.pb.h"

namespace gw::cli {

inline constexpr std::chrono::milliseconds kDefaultWaitTimeout{30000};
inline constexpr std::chrono::milliseconds kWaitPollInterval{100};

struct RolloutVerdict {
  bool settled = false;               // every gateway applied V or failed: nothing left to wait for
  size_t live = 0;                    // connected gateways that ACKed V or later
  std::vector<std::string> problems;  // one sentence per failed gateway
  std::vector<std::string> pending;   // one sentence per gateway still short of V (at timeout)
};

class RolloutCheck {
 public:
  // `start`: the listing when the wait began (its connected gateways are watched for leaving).
  RolloutCheck(uint64_t version, const gateway::v1::ListGatewaysResponse& start);

  bool none_connected_at_start() const { return connected_at_start_.empty(); }

  // Where the rollout stands in `now`. `waited` is how long the wait took, for the pending
  // sentences: "gateway gw-1 (127.0.0.1:8080) has not applied version 7 within 30s (at
  // version 6)".
  RolloutVerdict Check(const gateway::v1::ListGatewaysResponse& now,
                       std::chrono::milliseconds waited) const;

 private:
  uint64_t version_;
  std::set<std::string> connected_at_start_;
};

// Waits for version `version` as above, writing "live on N gateways" on `out` when it is, or one
// "gatewayctl: ..." line per problem on `err`. Returns the exit status (0 live everywhere; 1 a
// gateway failed or did not apply it in time, or the control plane could not be asked).
int WaitForRollout(AdminClient& client, uint64_t version, std::chrono::milliseconds timeout,
                   std::ostream& out, std::ostream& err);

}  // namespace gw::cli
