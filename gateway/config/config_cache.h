// The gateway's cache file: the last applied config, so a gateway restarted while the control
// plane is down can serve at once. Owned by the gateway's config side (ConfigApplier).
//
// Format: one serialized gateway.v1.Config protobuf (binary), nothing else. Writes are atomic: a
// temp file in the same directory is written and fsynced, renamed over the cache file, and the
// directory is fsynced, so a reader sees the old file or the new one, never a torn one.
#pragma once

#include <string>

#include "gateway.pb.h"

namespace gw {

enum class CacheLoad {
  kLoaded,   // *config holds the cached config (not yet validated)
  kMissing,  // no cache file: a first start
  kCorrupt,  // unreadable or not a Config; *error says why
};

CacheLoad LoadConfigCache(const std::string& path, gateway::v1::Config* config, std::string* error);

// Returns false with the reason in *error; the old cache file is then left untouched.
bool StoreConfigCache(const std::string& path, const gateway::v1::Config& config,
                      std::string* error);

}  // namespace gw
