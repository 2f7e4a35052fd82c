// Load balancing: which available endpoint of a service a request (or a retry) goes to.
//
// Pick chooses among the endpoints that are available (healthy and not ejected, see
// endpoint_state.h) and not already tried by this request, by the service's policy:
//   round_robin    the service's shared cursor, evenly over the candidates;
//   least_request  the one with fewer requests in flight of two candidates drawn at random
//                  ("power of two choices");
//   random         uniform over the candidates;
//   ring_hash      consistent hashing of the request's hash key on a HashRing: the same key
//                  goes to the same endpoint while it is available; the keys of an unavailable
//                  endpoint move to the next endpoint on the ring and no other key moves.
//                  Without a key (no hash header in the request), random.
// No candidate: no endpoint (the gateway answers 503). Each pick costs O(1) when every
// endpoint is a candidate, O(endpoints) otherwise.
//
// Called on any worker thread: Pick only reads the shared ServiceEndpoints (and advances its
// cursor); HashRing is immutable; a RandomSource belongs to one worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/validation.h"
#include "gateway/upstream/endpoint_state.h"

namespace gw {

// Uniform 64-bit random numbers. One per worker (not thread-safe); tests script their own.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual uint64_t Next() = 0;
};

// SplitMix64: fast, statistically good enough for balancing and jitter (not for secrets).
class SplitMix64 final : public RandomSource {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() override;

 private:
  uint64_t state_;
};

// The 64-bit hash of a ring-hash key (a header value): FNV-1a with a final avalanche mix.
uint64_t HashKey(std::string_view key);

// The hash ring of a service's endpoints: points_per_endpoint points per endpoint at the hashes
// of "host:port#n", sorted. Built once per service config (it depends on the endpoint list
// only, so every table built from the same endpoints has the same ring); immutable after.
class HashRing {
 public:
  static constexpr size_t kDefaultPointsPerEndpoint = 100;

  explicit HashRing(std::span<const HostPort> endpoints,
                    size_t points_per_endpoint = kDefaultPointsPerEndpoint);

  // The endpoint owning the first point at or after `hash` (wrapping) for which `accept(index)`
  // is true, walking the ring at most once round. nullopt when none is accepted.
  template <typename Accept>
  std::optional<size_t> Find(uint64_t hash, Accept&& accept) const;

  size_t point_count() const { return points_.size(); }

 private:
  struct Point {
    uint64_t hash;
    uint32_t endpoint;
  };
  size_t FirstAtOrAfter(uint64_t hash) const;

  std::vector<Point> points_;
};

// The index of the endpoint for this request, or nullopt when no endpoint is a candidate.
// `ring` is used by ring_hash only (null: random); `hash` is the request's HashKey, when it has
// one. Endpoints listed in `tried` (earlier attempts of this request) are not picked: a retry
// that finds none may call again without them to retry on the same endpoint.
std::optional<size_t> Pick(ServiceEndpoints& endpoints, const HashRing* ring,
                           std::optional<uint64_t> hash, RandomSource& random, SteadyTime now,
                           std::span<const size_t> tried = {});

// A service as a route table keeps it for picking: its shared state and, for ring_hash, its
// ring. Immutable but for the state it points to; shared by the routes of one table.
class LoadBalancer {
 public:
  explicit LoadBalancer(ServiceEndpointsSharedPtr endpoints);

  std::optional<size_t> Pick(std::optional<uint64_t> hash, RandomSource& random, SteadyTime now,
                             std::span<const size_t> tried = {}) const {
    return gw::Pick(*endpoints_, ring_.get(), hash, random, now, tried);
  }
  ServiceEndpoints& endpoints() const { return *endpoints_; }
  const ServiceEndpointsSharedPtr& shared_endpoints() const { return endpoints_; }

 private:
  ServiceEndpointsSharedPtr endpoints_;
  std::unique_ptr<const HashRing> ring_;  // ring_hash only
};

template <typename Accept>
std::optional<size_t> HashRing::Find(uint64_t hash, Accept&& accept) const {
  if (points_.empty()) return std::nullopt;
  const size_t first = FirstAtOrAfter(hash);
  for (size_t step = 0; step < points_.size(); ++step) {
    const Point& point = points_[(first + step) % points_.size()];
    if (accept(static_cast<size_t>(point.endpoint))) return point.endpoint;
  }
  return std::nullopt;
}

}  // namespace gw
