// ConfigApplier: turns a config (pushed by the control plane, or read from the cache file at
// start-up) into the gateway's live RouteTable. Owned by the gateway's main; the
// ConfigSubscriber calls Apply() from its thread, anything may read version()/ready()/source().
//
// Apply validates and builds the table (the shared rules plus this gateway's --max-routes),
// publishes it to the RouteTableHolder (workers serve it from their next request on), and hands
// it to the CacheWriter, which persists it on its low-priority thread (with many gateways on one
// host, their fsyncs yield the CPU to serving). FlushCache() waits for that write: the
// subscriber ACKs a version only after it, so an ACK without a cache error means the version
// survives a restart. A cache write failure is logged, reported with the ACK (the control plane
// shows it) and in /metrics, and the config stays applied. A refused config changes nothing: the
// old table stays live and the cache file keeps the old config. A version already live is a no-op.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "gateway.pb.h"
#include "gateway/config/cache_writer.h"
#include "gateway/router/route_table_holder.h"
#include "gateway/tls/certificate_table_holder.h"

namespace gw {

class ConfigApplier {
 public:
  // An empty cache_path disables the cache (nothing is read or written).
  ConfigApplier(RouteTableHolder& holder, std::string cache_path, size_t max_routes);

  // At start-up, before LoadCache: where cluster-scope rate limits are counted (the gateway's
  // --redis); without it they are counted by this gateway alone.
  void UseClusterBuckets(ClusterBucketsSharedPtr buckets) {
    registries_.cluster_rate_limiters.SetBuckets(std::move(buckets));
  }

  // At start-up, before LoadCache, for a gateway with --listen-tls: each config's certificates
  // are built into a CertificateTable (with `options`) and published to `certificates` with its
  // routes; a certificate that cannot be loaded refuses the config.
  void ServeCertificates(CertificateTableHolder& certificates, TlsEdgeOptions options) {
    certificates_ = &certificates;
    tls_options_ = std::move(options);
  }

  // At start-up, before LoadCache: called with each table once it serves (the health
  // checker follows the services of the table in use). On the applying thread.
  void OnPublish(std::function<void(const RouteTable&)> callback) {
    on_publish_ = std::move(callback);
  }

  // At start-up: applies the cache file if present. False if there is none (quietly) or it is
  // corrupt or invalid (with a warning); never throws.
  bool LoadCache();

  // "" when applied (or that version is already live), else the reason to NACK with.
  std::string Apply(const gateway::v1::Config& config);
  // The live config with `delta` applied, as `version` (common/config_delta.h), then as Apply.
  // Refused when the delta's base is not the live version (*not_applicable set: a snapshot
  // will do), or when the config it makes is refused.
  std::string ApplyDelta(const gateway::v1::ConfigDelta& delta, uint64_t version,
                         bool* not_applicable);

  uint64_t version() const;    // 0 if none
  bool ready() const;          // some config is loaded (stream or cache)
  std::string source() const;  // "stream", "cache" or "none"

  // Blocks until every applied config is written to the cache file (no-op without a cache).
  // Returns "" when the newest write succeeded, else why it failed.
  std::string FlushCache();
  // The cache file's state ({} without a cache).
  CacheWriter::Status cache_status() const;

  // Since start: versions that went live (from the stream or the cache), versions refused.
  uint64_t applied_total() const { return applied_total_.load(std::memory_order_relaxed); }
  uint64_t refused_total() const { return refused_total_.load(std::memory_order_relaxed); }

 private:
  enum class Source { kNone, kCache, kStream };

  std::string ApplyLocked(const gateway::v1::Config& config);  // apply_mutex_ held
  std::string Publish(const gateway::v1::Config& config, Source source);

  RouteTableHolder& holder_;
  const std::string cache_path_;  // "": no cache
  const size_t max_routes_;
  std::unique_ptr<CacheWriter> cache_writer_;  // null without a cache
  std::mutex apply_mutex_;                     // one Apply/LoadCache at a time
  PolicyRegistries registries_;  // state kept from table to table (token buckets, endpoints)
  std::shared_ptr<const gateway::v1::Config> current_;  // the live config (apply_mutex_)
  std::function<void(const RouteTable&)> on_publish_;
  CertificateTableHolder* certificates_ = nullptr;  // null without --listen-tls
  TlsEdgeOptions tls_options_;
  std::atomic<uint64_t> version_{0};
  std::atomic<Source> source_{Source::kNone};
  std::atomic<uint64_t> applied_total_{0};
  std::atomic<uint64_t> refused_total_{0};
};

}  // namespace gw
