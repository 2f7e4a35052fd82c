// Backoff: how long the ConfigSubscriber waits before it opens a new stream after one failed.
//
// Jittered exponential ("equal jitter"): the n-th delay is drawn uniformly from [base/2, base]
// with base = min(initial * 2^n, max). The jitter spreads the reconnects of many gateways after
// a control plane restart; the floor of base/2 keeps a refused stream from turning into a busy
// loop. Reset() once a stream has proved healthy (it delivered a config or stayed up).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace gw {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          uint64_t seed = std::random_device{}());

  std::chrono::milliseconds Next();
  void Reset();

  // The base of the next delay (before jitter).
  std::chrono::milliseconds base() const { return base_; }

 private:
  const std::chrono::milliseconds initial_;
  const std::chrono::milliseconds max_;
  std::chrono::milliseconds base_;
  std::mt19937_64 random_;
};

}  // namespace gw
