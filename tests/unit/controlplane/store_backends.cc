#include "tests/unit/controlplane/store_backends.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "controlplane/store/sqlite.h"

namespace gw::testing {
namespace {

// Runs `sql` on a fresh connection; rows joined by '|'. Fails the test on an error.
std::vector<std::string> PgQuery(const std::string& url, const std::string& sql) {
  std::vector<std::string> rows;
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(conn);
    PQfinish(conn);
    return rows;
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
  for (int row = 0; status == PGRES_TUPLES_OK && row < PQntuples(result); ++row) {
    std::string line;
    for (int column = 0; column < PQnfields(result); ++column)
      line += std::string(column ? "|" : "") + PQgetvalue(result, row, column);
    rows.push_back(std::move(line));
  }
  PQclear(result);
  PQfinish(conn);
  return rows;
}

}  // namespace

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

StoreLocation::StoreLocation(Backend backend) : backend_(backend) {
  if (backend == Backend::kSqlite) {
    db_ = dir_.File("config.db");
    return;
  }
  const char* url_file = std::getenv("GATEWAY_TEST_POSTGRES_URL_FILE");
  if (url_file == nullptr) {
    unavailable_ = "no test PostgreSQL server (run through ctest, which starts one)";
    skip_ = true;
    return;
  }
  std::ifstream in(url_file);
  if (!std::getline(in, admin_url_) || admin_url_.empty()) {
    unavailable_ = std::string("the test PostgreSQL server did not start: no URL in ") + url_file;
    return;
  }
  std::random_device random;
  schema_ = "t" + std::to_string(random()) + std::to_string(random());
  PgQuery(admin_url_, "CREATE SCHEMA " + schema_);
  db_ = admin_url_ + (admin_url_.find('?') == std::string::npos ? "?" : "&") +
        "options=-csearch_path%3D" + schema_;
}

StoreLocation::~StoreLocation() {
  if (!schema_.empty()) PgQuery(admin_url_, "DROP SCHEMA " + schema_ + " CASCADE");
}

std::vector<std::string> StoreLocation::Query(const std::string& sql) const {
  if (backend_ == Backend::kPostgres) return PgQuery(db_, sql);
  std::vector<std::string> rows;
  auto db = Database::Open(db_, Database::Lock::kShared);
  Statement statement(*db, sql);
  EXPECT_TRUE(statement.ok()) << statement.error();
  int rc;
  while ((rc = statement.Step()) == SQLITE_ROW) {
    std::string line;
    for (int column = 0; column < statement.ColumnCount(); ++column)
      line += (column ? "|" : "") + statement.ColumnText(column);
    rows.push_back(std::move(line));
  }
  EXPECT_EQ(rc, SQLITE_DONE) << statement.error();
  return rows;
}

std::string StoreLocation::Dump() const {
  const std::string hex =
      backend_ == Backend::kSqlite ? "hex(policy)" : "upper(encode(policy, 'hex'))";
  const std::string body_hex =
      backend_ == Backend::kSqlite ? "hex(body)" : "upper(encode(body, 'hex'))";
  std::string out;
  for (const std::string& sql :
       {std::string("SELECT key, value FROM meta ORDER BY key"),
        "SELECT name, version, " + hex + " FROM services ORDER BY 1",
        std::string("SELECT service, position, host, port FROM endpoints ORDER BY 1, 2"),
        "SELECT path, \"match\", host, methods, headers, target, version, max_body_size, " + hex +
            " FROM routes ORDER BY 1, 2, 3, 4, 5",
        std::string("SELECT name, version, jwt_issuer, jwt_secret, jwt_public_key FROM consumers "
                    "ORDER BY 1"),
        std::string("SELECT sha256, consumer, position FROM consumer_api_keys ORDER BY 1"),
        "SELECT name, version, " + body_hex + " FROM certificates ORDER BY 1",
        std::string("SELECT version, action, detail FROM history ORDER BY 1")}) {
    out += sql + "\n";
    for (const std::string& row : Query(sql)) out += row + "\n";
  }
  return out;
}

void StoreTest::SetUp() {
  location_ = std::make_unique<StoreLocation>(GetParam());
  if (location_->skip()) GTEST_SKIP() << location_->unavailable();
  ASSERT_EQ(location_->unavailable(), "");
  store_ = ConfigStore::Open(location_->db());
}

void StoreTest::Reopen(const ConfigStoreOptions& options) {
  store_.reset();
  store_ = ConfigStore::Open(location_->db(), options);
}

uint64_t StoreTest::Version() {
  auto snapshot = store_->LoadSnapshot();
  EXPECT_TRUE(snapshot.ok());
  return snapshot.ok() ? (*snapshot)->version() : 0;
}

}  // namespace gw::testing
