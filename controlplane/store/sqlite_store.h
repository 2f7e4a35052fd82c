// SqliteStore: the StoreBackend of a single control plane, one SQLite file (store/sqlite.h:
// mode 0600, locked for the process's life, WAL). Schema migrations 1-5 run at open, in one
// transaction; a file with another application's tables, or from a newer control plane, is
// refused.
#pragma once

#include <memory>
#include <string>

#include "controlplane/store/store_backend.h"

namespace gw {

// Throws std::runtime_error with one sentence naming the file when it cannot be used.
std::unique_ptr<StoreBackend> OpenSqliteStore(const std::string& path);

}  // namespace gw
