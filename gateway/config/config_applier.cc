#include "gateway/config/config_applier.h"

#include "common/config_delta.h"
#include "common/log.h"
#include "gateway/config/config_cache.h"

namespace gw {

ConfigApplier::ConfigApplier(RouteTableHolder& holder, std::string cache_path, size_t max_routes)
    : holder_(holder),
      cache_path_(std::move(cache_path)),
      max_routes_(max_routes),
      cache_writer_(cache_path_.empty() ? nullptr : std::make_unique<CacheWriter>(cache_path_)) {}

std::string ConfigApplier::FlushCache() {
  return cache_writer_ ? cache_writer_->Flush() : std::string();
}

CacheWriter::Status ConfigApplier::cache_status() const {
  return cache_writer_ ? cache_writer_->status() : CacheWriter::Status{};
}

bool ConfigApplier::LoadCache() {
  if (cache_path_.empty()) return false;
  gateway::v1::Config config;
  std::string error;
  switch (LoadConfigCache(cache_path_, &config, &error)) {
    case CacheLoad::kMissing:
      return false;
    case CacheLoad::kCorrupt:
      LogWarn("ignoring the config cache: " + error);
      cache_writer_->NoteLoadFailed(error);
      return false;
    case CacheLoad::kLoaded:
      break;
  }
  std::lock_guard lock(apply_mutex_);
  if (std::string reason = Publish(config, Source::kCache); !reason.empty()) {
    error = "config version " + std::to_string(config.version()) + " in " + cache_path_ +
            " is invalid: " + reason;
    LogWarn("ignoring the config cache: " + error);
    cache_writer_->NoteLoadFailed(error);
    return false;
  }
  cache_writer_->NoteLoaded(config.version());
  return true;
}

std::string ConfigApplier::Apply(const gateway::v1::Config& config) {
  std::lock_guard lock(apply_mutex_);
  return ApplyLocked(config);
}

std::string ConfigApplier::ApplyDelta(const gateway::v1::ConfigDelta& delta, uint64_t version,
                                      bool* not_applicable) {
  std::lock_guard lock(apply_mutex_);
  gateway::v1::Config config;
  std::string error = current_ ? ApplyConfigDelta(*current_, delta, version, &config)
                               : "a delta, but no config is live to apply it to";
  *not_applicable = !error.empty();
  if (!error.empty()) {
    LogInfo("config version " + std::to_string(version) +
            " came as a delta that does not "
            "apply (" +
            error + "); asking for the snapshot");
    return error;
  }
  return ApplyLocked(config);
}

std::string ConfigApplier::ApplyLocked(const gateway::v1::Config& config) {
  if (source_.load() != Source::kNone && version_.load() == config.version()) {
    // Already live (for instance loaded from the cache, then confirmed by the control plane).
    source_.store(Source::kStream);
    return "";
  }
  if (ready() && config.version() < version_.load()) {
    LogWarn("the control plane sent version " + std::to_string(config.version()) +
            ", older than the running version " + std::to_string(version_.load()) +
            ": its database was replaced or restored; following it");
  }
  std::string reason = Publish(config, Source::kStream);
  if (!reason.empty()) {
    refused_total_.fetch_add(1, std::memory_order_relaxed);
    LogWarn("refused config version " + std::to_string(config.version()) + ": " + reason +
            (ready() ? "; keeping version " + std::to_string(version_.load())
                     : "; no config loaded yet"));
  }
  return reason;
}

std::string ConfigApplier::Publish(const gateway::v1::Config& config, Source source) {
  std::string error;
  RouteTableConstSharedPtr table = RouteTable::Build(config, max_routes_, &error, &registries_);
  if (!table) return error.empty() ? "config is invalid" : error;
  CertificateTableConstSharedPtr certificates;
  if (certificates_) {
    std::vector<CertificateSource> sources;
    sources.reserve(config.certificates_size());
    for (const gateway::v1::Certificate& certificate : config.certificates()) {
      sources.push_back({certificate.name(), certificate.version(), certificate.cert_pem(),
                         certificate.key_pem(), certificate.is_default()});
    }
    const CertificateTableConstSharedPtr previous = certificates_->Load();
    certificates = CertificateTable::Build(sources, previous.get(), tls_options_, &error);
    if (!certificates) return error;
  }

  // Serving first: workers pick the new tables up with their next request and handshake.
  holder_.Store(table);
  if (certificates_) certificates_->Store(std::move(certificates));
  registries_.rate_limiters.Prune();  // what only older tables held goes with them
  registries_.cluster_rate_limiters.Prune();
  if (on_publish_) on_publish_(*table);
  applied_total_.fetch_add(1, std::memory_order_relaxed);
  current_ = std::make_shared<const gateway::v1::Config>(config);
  version_.store(config.version());
  source_.store(source);
  LogInfo("applied config version " + std::to_string(config.version()) + " (" +
          std::to_string(table->route_count()) + " routes, " +
          std::to_string(table->service_count()) + " services) from " +
          (source == Source::kCache ? "cache" : "stream"));

  // Then persist, in the background. What came from the cache is already there.
  if (cache_writer_ && source == Source::kStream) cache_writer_->Write(current_);
  return "";
}

uint64_t ConfigApplier::version() const { return version_.load(); }

bool ConfigApplier::ready() const { return source_.load() != Source::kNone; }

std::string ConfigApplier::source() const {
  switch (source_.load()) {
    case Source::kCache:
      return "cache";
    case Source::kStream:
      return "stream";
    case Source::kNone:
      break;
  }
  return "none";
}

}  // namespace gw
