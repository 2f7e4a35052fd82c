// The gateway's cache file: the last applied config, so a gateway restarted while the control
// plane is down can serve at once. Owned by the gateway's config side (ConfigApplier).
//
// Format (version 2), so that a file cut short, padded or damaged is never taken for a config:
//   bytes  0..7   magic "GWCACHE2"
//   bytes  8..15  config version, little-endian uint64 (must equal the config's own)
//   bytes 16..23  payload length N, little-endian uint64 (the file is exactly 56 + N bytes)
//   bytes 24..55  SHA-256 of the payload
//   bytes 56..    payload: one serialized gateway.v1.Config
// (Version 1, a bare Config, could not tell a file cut at a record boundary from a smaller
// config; such a file is ignored like any other bad one.) Writes are atomic: a temp file in the
// same directory is written and fsynced, renamed over the cache file, and the directory is
// fsynced, so a reader sees the old file or the new one, never a torn one. The file is 0600
// whatever the umask: it holds JWT secrets.
#pragma once

#include <string>

#include "gateway.pb.h"

namespace gw {

enum class CacheLoad {
  kLoaded,   // *config holds the cached config (not yet validated)
  kMissing,  // no cache file: a first start
  kCorrupt,  // unreadable, empty, cut short, damaged or not a cache file; *error says why
};

CacheLoad LoadConfigCache(const std::string& path, gateway::v1::Config* config, std::string* error);

// Returns false with the reason in *error; the old cache file is then left untouched.
bool StoreConfigCache(const std::string& path, const gateway::v1::Config& config,
                      std::string* error);

}  // namespace gw
