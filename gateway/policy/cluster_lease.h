// ClusterLease: what one gateway knows of one key's cluster-wide token bucket, and how many
// requests of that key it may still admit before the bucket has counted them.
//
// The bucket itself lives in Redis (RedisBucketClient's script): refilled by Redis's clock,
// charged with what every gateway admitted. A gateway never waits for it on the request path;
// it admits from a lease instead:
//
//   - Each sync reports to the bucket what this gateway admitted since the last one and reads
//     the level left after that charge. The gateway may then admit up to
//     min(lease, whole tokens left) more before the next sync's answer: that is its lease.
//     Every admission queues a sync; one is in flight per key at a time and what is admitted
//     meanwhile waits for the next, so a busy key costs one sync per round trip to Redis, not
//     one per request.
//   - With the lease used up the gateway refuses (429), except that once its own estimate of
//     the bucket (the level read, plus the refill since, minus what it admitted since) holds a
//     token and nothing it admitted is unreported, it admits one request on that estimate (a
//     probe) and reports it. So a client that waited for its Retry-After is served, although
//     this gateway has not heard from the bucket since.
//   - A key this gateway has never seen starts with a full lease (Redis creates a bucket full).
//
// Error bound: what one gateway admitted and the bucket has not counted (in flight, or not yet
// sent) plus what its lease still allows never exceeds `lease` (checked by the unit tests). So
// across N gateways at most N x lease requests of one key are admitted that the shared bucket
// did not have: in any window of T seconds, at most burst + rate x T + N x lease (README,
// "Cluster-wide rate limits"). Leases are not reserved in the bucket, so none is lost when a
// gateway goes quiet or dies.
//
// A plain value: not thread-safe; ClusterRateLimiter guards each one with its shard's mutex.
// Times are steady-clock microseconds, given by the caller.
#pragma once

#include <cstdint>

#include "gateway/policy/rate_limiter.h"

namespace gw {

// A cluster-wide limit as a ClusterLease sees it.
struct ClusterBucketShape {
  double tokens_per_us = 0;  // refill rate: requests / (period in microseconds)
  double capacity = 0;       // bucket size in tokens (burst, else requests)
  uint64_t lease = 1;        // admissions a gateway may make that the bucket has not counted

  static ClusterBucketShape Of(const RateLimitConfig& config, uint64_t max_lease);
};

// The lease of a limit: a tenth of the bucket, at least 1, at most `max_lease`
// (`gateway --redis-lease`).
uint64_t LeaseFor(const RateLimitConfig& config, uint64_t max_lease);

class ClusterLease {
 public:
  // A key first seen at `now_us`: the bucket is taken to be full.
  ClusterLease(const ClusterBucketShape& shape, int64_t now_us);

  struct Outcome {
    RateLimitDecision decision;
    bool queue_sync = false;  // the caller must queue a sync of this key (see BeginSync)
  };
  // One request at `now_us`.
  Outcome Take(const ClusterBucketShape& shape, int64_t now_us);

  // The sync thread, for a queued key: the tokens to charge to the bucket now (what was admitted
  // since the last sync; may be 0). They count as in flight until EndSync or FailSync.
  uint64_t BeginSync();
  // The bucket's answer: `level` tokens left after the charge (may be negative: the cluster
  // admitted more than it had). Returns true when admissions made meanwhile need another sync
  // (the caller queues it; the key stays queued).
  bool EndSync(const ClusterBucketShape& shape, double level, int64_t now_us);
  // The sync failed (Redis down): what was not counted is forgotten and the key starts over as
  // if first seen; the limiter counts locally until Redis is back.
  void FailSync(const ClusterBucketShape& shape, int64_t now_us);

  // Whether this state can be dropped: nothing queued or unreported, and the bucket is full by
  // this gateway's estimate, so a new ClusterLease would behave the same.
  bool Idle(const ClusterBucketShape& shape, int64_t now_us) const;
  int64_t last_used_us() const { return last_used_us_; }

  // For tests and the error bound: admitted and not yet counted by the bucket, and what the
  // lease still allows.
  uint64_t uncounted() const { return unsent_ + in_flight_; }
  uint64_t allowance() const { return allowance_; }
  bool queued() const { return queued_; }

 private:
  // The bucket's level by this gateway's estimate at `now_us` (before what it has not reported).
  double Estimate(const ClusterBucketShape& shape, int64_t now_us) const;
  RateLimitDecision Decide(const ClusterBucketShape& shape, bool allowed, int64_t now_us) const;

  double level_ = 0;        // tokens in the bucket when it last answered (after our charge)
  int64_t level_us_ = 0;    // when that answer arrived
  uint64_t allowance_ = 0;  // admissions left before the next answer
  uint64_t unsent_ = 0;     // admitted, not yet sent to the bucket
  uint64_t in_flight_ = 0;  // admitted, sent, not yet answered
  bool queued_ = false;     // a sync is queued or in flight
  int64_t last_used_us_ = 0;
};

}  // namespace gw
