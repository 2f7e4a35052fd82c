// Counters and gauges with one writing thread each: the data path counts on its own worker
// without a locked instruction, and the admin thread reads them when /metrics is scraped. Low in
// the layers (net/) so that what counts connections (UpstreamPool) need not see the metrics
// registry (admin/metrics.h), which sits above the router.
#pragma once

#include <atomic>
#include <cstdint>

namespace gw {

// A counter with one writing thread: an add is a relaxed load and store (no locked
// instruction); any thread may read it.
class SingleWriterCounter {
 public:
  void Add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A gauge with one writing thread (a connection count), readable from any thread.
class SingleWriterGauge {
 public:
  void Increment() { Add(1); }
  void Decrement() { Add(-1); }
  void Add(int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  int64_t Load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

}  // namespace gw
