// The backends every ConfigStore test runs against (issue 10: one conformance suite).
//
// A StoreLocation is a fresh, empty store for one test: a SQLite file in a temp dir, or a schema
// of its own in the test PostgreSQL server that ctest's `postgres` fixture starts
// (scripts/test-postgres.sh, URL in the file GATEWAY_TEST_POSTGRES_URL_FILE names). Run outside
// ctest, without that variable, the PostgreSQL variants are skipped and say so.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "controlplane/store/config_store.h"
#include "tests/unit/support/temp_dir.h"

namespace gw::testing {

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info);
inline void PrintTo(Backend backend, std::ostream* os) {
  *os << (backend == Backend::kSqlite ? "SQLite" : "PostgreSQL");
}

class StoreLocation {
 public:
  explicit StoreLocation(Backend backend);
  ~StoreLocation();  // drops the PostgreSQL schema
  StoreLocation(const StoreLocation&) = delete;
  StoreLocation& operator=(const StoreLocation&) = delete;

  // "" when usable; else why not (the test skips or fails with it).
  const std::string& unavailable() const { return unavailable_; }
  bool skip() const { return skip_; }  // no test server configured: skip, not fail
  Backend backend() const { return backend_; }
  const std::string& db() const { return db_; }  // what ConfigStore::Open takes

  // Rows of a query, each row's columns joined by '|'.
  std::vector<std::string> Query(const std::string& sql) const;
  // Every row of every table, in a stable order: "nothing changed" means this is equal.
  std::string Dump() const;

 private:
  Backend backend_;
  TempDir dir_;
  std::string db_;
  std::string admin_url_;  // PostgreSQL: the server's URL, for DROP SCHEMA
  std::string schema_;
  std::string unavailable_;
  bool skip_ = false;
};

// A fixture with a fresh store of its backend in store_; Reopen() opens it again as a restarted
// control plane would.
class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void Reopen(const ConfigStoreOptions& options = {});
  uint64_t Version();

  std::unique_ptr<StoreLocation> location_;
  std::unique_ptr<ConfigStore> store_;
};

#define GW_STORE_BACKENDS(Suite)                                                             \
  INSTANTIATE_TEST_SUITE_P(                                                                  \
      Backends, Suite,                                                                       \
      ::testing::Values(::gw::testing::Backend::kSqlite, ::gw::testing::Backend::kPostgres), \
      ::gw::testing::BackendName)

}  // namespace gw::testing
