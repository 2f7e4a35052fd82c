#include "controlplane/store/store_backend.h"

#include "controlplane/store/postgres_store.h"
#include "controlplane/store/sqlite_store.h"

namespace gw {

bool IsPostgresUrl(const std::string& db) {
  return db.rfind("postgres://", 0) == 0 || db.rfind("postgresql://", 0) == 0;
}

std::unique_ptr<StoreBackend> OpenStoreBackend(const std::string& db,
                                               std::chrono::milliseconds connect_wait) {
  if (IsPostgresUrl(db)) return OpenPostgresStore(db, connect_wait);
  return OpenSqliteStore(db);
}

}  // namespace gw
