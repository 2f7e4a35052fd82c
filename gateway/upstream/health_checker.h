// HealthChecker: the gateway's active health checks of service endpoints.
//
// For each service whose policy has a health check, every interval, a GET of the check's path
// to every endpoint (Host: the endpoint, Connection: close) on a fresh connection (for an h2c
// service, gRPC, the one stream of an HTTP/2 connection with prior knowledge); the check
// must be answered within its timeout (the interval, capped at Options::max_timeout): a 2xx
// status is a pass, anything else (other statuses, refused, reset, timeout) a failure. Results
// go to the service's ServiceEndpoints (endpoint_state.h), which applies the thresholds. The
// first round starts as soon as a service is configured.
//
// Runs on its own thread with its own io_context, never on a worker: the gateway creates one,
// Start()s it, calls Reconfigure with the services of every route table it publishes, and
// Stop()s it at shutdown. A service whose ServiceEndpoints object is unchanged across a
// Reconfigure keeps its schedule; a new or changed one starts checking at once; a removed one
// stops (a check in progress for it is dropped). Reconfigure may be called from any thread,
// before or after Start.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "gateway/upstream/endpoint_state.h"

namespace gw {

class HealthChecker {
 public:
  struct Options {
    std::chrono::milliseconds max_timeout{5000};  // a check's timeout: min(interval, this)
    size_t max_header_bytes = 8192;               // of a check's response
    // Called on the checker's thread when an endpoint becomes healthy or unhealthy (logs,
    // metrics). Optional.
    std::function<void(const ServiceEndpoints& service, size_t endpoint, HealthChange change)>
        on_change;
  };

  explicit HealthChecker(Options options);
  ~HealthChecker();  // Stop()s
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts the checker's thread. Once.
  void Start();
  // Stops checking and joins the thread; checks in progress are abandoned. Idempotent.
  void Stop();

  // The services to check from now on (those without a health check policy are ignored).
  void Reconfigure(std::vector<ServiceEndpointsSharedPtr> services);

  // Checks finished since start, passed or failed (tests, metrics).
  uint64_t checks_completed() const { return checks_completed_.load(std::memory_order_relaxed); }

 private:
  struct Target;
  class Probe;

  void Apply(std::vector<ServiceEndpointsSharedPtr> services);  // on the checker's thread
  void Tick(const std::shared_ptr<Target>& target);
  void Finish(Target& target, size_t endpoint, bool passed);

  const Options options_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::vector<std::shared_ptr<Target>> targets_;  // the checker's thread only
  std::atomic<uint64_t> checks_completed_{0};
};

}  // namespace gw
