// Issue 10: several control-plane replicas on one PostgreSQL database. Each ConfigStore here is
// one replica's; they share a StoreLocation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "controlplane/store/config_store.h"
#include "controlplane/store/postgres_store.h"
#include "tests/unit/controlplane/store_backends.h"
#include "tests/unit/controlplane/store_test_support.h"
#include "tests/unit/support/closed_port.h"

namespace gw {
namespace {

using testing::MakeRoute;
using testing::MakeService;

class ReplicaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    location_ = std::make_unique<testing::StoreLocation>(testing::Backend::kPostgres);
    if (location_->skip()) GTEST_SKIP() << location_->unavailable();
    ASSERT_EQ(location_->unavailable(), "");
    first_ = ConfigStore::Open(location_->db());
    second_ = ConfigStore::Open(location_->db());
  }

  std::unique_ptr<testing::StoreLocation> location_;
  std::unique_ptr<ConfigStore> first_, second_;
};

// Writers on two replicas at once: every write stored, each with its own version, the versions
// 1..N with no gap, and each replica's own versions increasing.
TEST_F(ReplicaStoreTest, ConcurrentWritesGetUniqueIncreasingVersions) {
  ASSERT_TRUE(first_->CreateService(MakeService("a-svc")).ok());
  constexpr int kPerReplica = 30;
  std::mutex mu;
  std::vector<uint64_t> versions;
  auto write = [&](ConfigStore& store, const std::string& prefix) {
    uint64_t last = 0;
    for (int i = 0; i < kPerReplica; ++i) {
      auto created = store.CreateRoute(MakeRoute("/" + prefix + std::to_string(i), "a-svc"));
      ASSERT_TRUE(created.ok()) << created.error().message;
      EXPECT_GT(created->route.version(), last);
      last = created->route.version();
      EXPECT_EQ(created->snapshot->version(), last);
      std::lock_guard lock(mu);
      versions.push_back(last);
    }
  };
  std::thread one([&] { write(*first_, "one"); });
  std::thread two([&] { write(*second_, "two"); });
  one.join();
  two.join();
  std::sort(versions.begin(), versions.end());
  ASSERT_EQ(versions.size(), 2u * kPerReplica);
  for (size_t i = 0; i < versions.size(); ++i) EXPECT_EQ(versions[i], i + 2);  // 1: the service
  auto seen_by_first = first_->LoadSnapshot();
  auto seen_by_second = second_->LoadSnapshot();
  ASSERT_TRUE(seen_by_first.ok() && seen_by_second.ok());
  EXPECT_EQ((*seen_by_first)->version(), 2u * kPerReplica + 1);
  EXPECT_EQ((*seen_by_first)->SerializeAsString(), (*seen_by_second)->SerializeAsString());
  EXPECT_EQ((*seen_by_first)->routes_size(), 2 * kPerReplica);
}

// A write on one replica wakes the other's change feed (NOTIFY), whose Refresh hands the new
// config to its OnChange, marked as not its own.
TEST_F(ReplicaStoreTest, TheChangeFeedDeliversAnotherReplicasWrite) {
  std::vector<std::pair<uint64_t, bool>> fed;
  second_->OnChange(
      [&](const ConfigPtr& config, bool local) { fed.emplace_back(config->version(), local); });
  second_->backend().WaitForChange(std::chrono::milliseconds(100));  // LISTEN is set up
  ASSERT_TRUE(first_->CreateService(MakeService("a-svc")).ok());
  const auto start = std::chrono::steady_clock::now();
  second_->backend().WaitForChange(std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4))
      << "the announcement did not wake the feed";
  ASSERT_FALSE(second_->Refresh().has_value());
  ASSERT_EQ(fed.size(), 1u);
  EXPECT_EQ(fed[0], std::make_pair(uint64_t{1}, false));
  // Its own write is fed as local.
  ASSERT_TRUE(second_->CreateRoute(MakeRoute("/a", "a-svc")).ok());
  ASSERT_EQ(fed.size(), 2u);
  EXPECT_EQ(fed[1], std::make_pair(uint64_t{2}, true));
}

// Replicas starting together migrate once (the advisory lock); each then works.
TEST_F(ReplicaStoreTest, ReplicasStartingTogetherShareOneSchema) {
  testing::StoreLocation fresh(testing::Backend::kPostgres);
  std::vector<std::unique_ptr<ConfigStore>> stores(4);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (auto& store : stores)
    threads.emplace_back([&] {
      try {
        store = ConfigStore::Open(fresh.db());
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures, 0);
  ASSERT_TRUE(stores[0]->CreateService(MakeService("a-svc")).ok());
  auto seen = stores[3]->GetService("a-svc");
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_EQ(fresh.Query("SELECT value FROM meta WHERE key = 'schema_version'"),
            std::vector<std::string>{std::to_string(kConfigSchemaVersion)});
}

// A database nobody answers for: start-up gives up in the time given, naming the database but
// never its password.
TEST(PostgresStore, AnUnreachableDatabaseIsNamedWithoutItsPassword) {
  testing::ClosedPort closed;
  const std::string url =
      "postgresql://gateway:s3cret@127.0.0.1:" + std::to_string(closed.port()) + "/gateway";
  const auto start = std::chrono::steady_clock::now();
  try {
    OpenStoreBackend(url, std::chrono::milliseconds(1500));
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("database postgresql://gateway@127.0.0.1:" +
                           std::to_string(closed.port()) + "/gateway is unreachable"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(PostgresStore, UrlsAreNamedWithoutPasswords) {
  EXPECT_EQ(RedactPostgresUrl("postgres://u:pw@db.internal:6432/cfg?sslmode=require"),
            "postgresql://u@db.internal:6432/cfg");
  EXPECT_EQ(
      RedactPostgresUrl("postgresql://u:pw@h1:5432,h2:5433/cfg?target_session_attrs=read-write"),
      "postgresql://u@h1:5432,h2:5433/cfg");
  EXPECT_EQ(RedactPostgresUrl("postgresql://h/cfg?password=pw"), "postgresql://h/cfg");
  EXPECT_TRUE(IsPostgresUrl("postgres://h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgresql://h/db"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/gateway/postgres.db"));
}

}  // namespace
}  // namespace gw
