#include "gateway/upstream/load_balancer.h"

#include <algorithm>
#include <string>

namespace gw {

namespace {

// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// The request's view of one endpoint: may it be picked now?
struct Candidates {
  const ServiceEndpoints& endpoints;
  SteadyTime now;
  std::span<const size_t> tried;

  bool Contains(size_t i) const {
    if (!endpoints.Available(i, now)) return false;
    return std::find(tried.begin(), tried.end(), i) == tried.end();
  }
  // How many candidates there are other than `except` (npos: none excepted).
  size_t Count(size_t except) const {
    size_t count = 0;
    for (size_t i = 0; i < endpoints.size(); ++i) count += (i != except && Contains(i)) ? 1 : 0;
    return count;
  }
  // The n-th candidate other than `except`, n < Count(except).
  size_t Nth(size_t n, size_t except) const {
    for (size_t i = 0; i < endpoints.size(); ++i) {
      if (i == except || !Contains(i)) continue;
      if (n-- == 0) return i;
    }
    return except;  // not reached when n < Count(except)
  }
  // A candidate other than `except` chosen by the number `draw` (then `redraw` if needed):
  // `draw` names an endpoint directly, which is the answer when it is a candidate; otherwise
  // `redraw` picks one of the candidates. Every candidate gets the same share when `draw` and
  // `redraw` are uniform, and the usual case (all endpoints are candidates) costs no scan.
  template <typename Redraw>
  std::optional<size_t> Choose(uint64_t draw, Redraw&& redraw, size_t except) const {
    const size_t direct = static_cast<size_t>(draw % endpoints.size());
    if (direct != except && Contains(direct)) return direct;
    const size_t count = Count(except);
    if (count == 0) return std::nullopt;
    return Nth(static_cast<size_t>(redraw() % count), except);
  }
};

constexpr size_t kNone = static_cast<size_t>(-1);

}  // namespace

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t HashKey(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (const char c : key) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;  // FNV-1a 64 prime
  }
  return Mix(h);
}

HashRing::HashRing(std::span<const HostPort> endpoints, size_t points_per_endpoint) {
  points_.reserve(endpoints.size() * points_per_endpoint);
  for (size_t e = 0; e < endpoints.size(); ++e) {
    const std::string base = FormatHostPort(endpoints[e].host, endpoints[e].port) + "#";
    for (size_t n = 0; n < points_per_endpoint; ++n) {
      points_.push_back({HashKey(base + std::to_string(n)), static_cast<uint32_t>(e)});
    }
  }
  // Ties (vanishingly rare) are broken by endpoint index, so the ring is deterministic.
  std::sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.endpoint < b.endpoint;
  });
}

size_t HashRing::FirstAtOrAfter(uint64_t hash) const {
  const auto it = std::lower_bound(points_.begin(), points_.end(), hash,
                                   [](const Point& p, uint64_t h) { return p.hash < h; });
  return it == points_.end() ? 0 : static_cast<size_t>(it - points_.begin());
}

std::optional<size_t> Pick(ServiceEndpoints& endpoints, const HashRing* ring,
                           std::optional<uint64_t> hash, RandomSource& random, SteadyTime now,
                           std::span<const size_t> tried) {
  if (endpoints.size() == 0) return std::nullopt;
  const Candidates candidates{endpoints, now, tried};
  auto redraw = [&random] { return random.Next(); };
  switch (endpoints.policy().balancing) {
    case Balancing::kRoundRobin: {
      // Evenly over the candidates, in turn: the turn is both the draw and the redraw.
      const uint64_t turn = endpoints.NextTurn();
      auto same_turn = [turn] { return turn; };
      return candidates.Choose(turn, same_turn, kNone);
    }
    case Balancing::kLeastRequest: {
      const std::optional<size_t> first = candidates.Choose(random.Next(), redraw, kNone);
      if (!first) return std::nullopt;
      const std::optional<size_t> second = candidates.Choose(random.Next(), redraw, *first);
      if (!second) return first;
      // Ties go to the first draw, which is itself random.
      return endpoints.InFlightCount(*second) < endpoints.InFlightCount(*first) ? second : first;
    }
    case Balancing::kRingHash:
      if (ring && hash) {
        return ring->Find(*hash, [&candidates](size_t i) { return candidates.Contains(i); });
      }
      [[fallthrough]];
    case Balancing::kRandom:
      return candidates.Choose(random.Next(), redraw, kNone);
  }
  return std::nullopt;
}

LoadBalancer::LoadBalancer(ServiceEndpointsSharedPtr endpoints) : endpoints_(std::move(endpoints)) {
  if (endpoints_->policy().balancing == Balancing::kRingHash) {
    ring_ = std::make_unique<const HashRing>(endpoints_->policy().endpoints);
  }
}

}  // namespace gw
