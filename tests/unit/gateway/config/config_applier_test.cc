#include "gateway/config/config_applier.h"

#include <gtest/gtest.h>

#include "gateway/config/config_cache.h"
#include "tests/unit/gateway/config/test_support.h"

namespace gw {
namespace {

using testing::CachedConfig;
using testing::InvalidConfig;
using testing::MakeConfig;
using testing::ReadFile;
using testing::SplitConfig;
using testing::TempDir;
using testing::WriteFile;

constexpr size_t kMaxRoutes = 100;

// The target the live table picks for `path` ("" when no route matches).
std::string TargetOf(const RouteTableHolder& holder, std::string_view path) {
  RouteTableConstSharedPtr table = holder.Load();
  if (!table) return "";
  const RouteEntry* route = table->Match(path);
  return route ? route->target : "";
}

class ConfigApplierTest : public ::testing::Test {
 protected:
  TempDir dir_;
  const std::string cache_ = dir_.File("gateway.cache");
  RouteTableHolder holder_;
};

TEST_F(ConfigApplierTest, StartsWithNothing) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  EXPECT_EQ(applier.version(), 0u);
  EXPECT_FALSE(applier.ready());
  EXPECT_EQ(applier.source(), "none");
  EXPECT_EQ(holder_.Load(), nullptr);
}

TEST_F(ConfigApplierTest, AppliesAValidConfigAndCachesIt) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  EXPECT_EQ(applier.Apply(SplitConfig(3)), "");

  EXPECT_EQ(applier.version(), 3u);
  EXPECT_TRUE(applier.ready());
  EXPECT_EQ(applier.source(), "stream");
  ASSERT_NE(holder_.Load(), nullptr);
  EXPECT_EQ(holder_.Load()->version(), 3u);
  EXPECT_EQ(TargetOf(holder_, "/api/payment/42"), "payment-svc");
  EXPECT_EQ(TargetOf(holder_, "/api/order/7"), "order-svc");

  applier.FlushCache();  // the cache is written in the background
  EXPECT_EQ(CachedConfig(cache_), SplitConfig(3).SerializeAsString());
}

TEST_F(ConfigApplierTest, NewerConfigReplacesTheTable) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  ASSERT_EQ(applier.Apply(MakeConfig(1, {{"/api", "order-svc"}})), "");
  EXPECT_EQ(TargetOf(holder_, "/api/payment"), "order-svc");
  ASSERT_EQ(applier.Apply(SplitConfig(2)), "");
  EXPECT_EQ(TargetOf(holder_, "/api/payment"), "payment-svc");
  EXPECT_EQ(applier.version(), 2u);
  applier.FlushCache();  // the cache is written in the background
  EXPECT_EQ(CachedConfig(cache_), SplitConfig(2).SerializeAsString());
}

TEST_F(ConfigApplierTest, InvalidConfigIsRefusedAndTheOldOneStays) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  ASSERT_EQ(applier.Apply(SplitConfig(1)), "");
  RouteTableConstSharedPtr before = holder_.Load();

  const std::string reason = applier.Apply(InvalidConfig(2));
  EXPECT_NE(reason, "");
  EXPECT_NE(reason.find("api/payment"), std::string::npos) << reason;

  EXPECT_EQ(holder_.Load(), before);
  EXPECT_EQ(applier.version(), 1u);
  EXPECT_EQ(applier.source(), "stream");
  applier.FlushCache();  // the cache is written in the background
  EXPECT_EQ(CachedConfig(cache_), SplitConfig(1).SerializeAsString());
}

TEST_F(ConfigApplierTest, ConfigOverMaxRoutesIsRefusedAndTheOldOneStays) {
  ConfigApplier applier(holder_, cache_, /*max_routes=*/2);
  ASSERT_EQ(applier.Apply(SplitConfig(1)), "");  // exactly at the limit
  RouteTableConstSharedPtr before = holder_.Load();

  const std::string reason = applier.Apply(
      MakeConfig(2, {{"/a", "order-svc"}, {"/b", "order-svc"}, {"/c", "payment-svc"}}));
  EXPECT_NE(reason.find("--max-routes"), std::string::npos) << reason;
  EXPECT_EQ(holder_.Load(), before);
  EXPECT_EQ(applier.version(), 1u);
  applier.FlushCache();  // the cache is written in the background
  EXPECT_EQ(CachedConfig(cache_), SplitConfig(1).SerializeAsString());
}

TEST_F(ConfigApplierTest, RefusedFirstConfigLeavesTheGatewayNotReady) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  EXPECT_NE(applier.Apply(InvalidConfig(1)), "");
  EXPECT_FALSE(applier.ready());
  EXPECT_EQ(applier.version(), 0u);
  EXPECT_EQ(holder_.Load(), nullptr);
  EXPECT_FALSE(std::filesystem::exists(cache_));
}

TEST_F(ConfigApplierTest, RepeatedVersionIsANoOpThatSucceeds) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  ASSERT_EQ(applier.Apply(SplitConfig(4)), "");
  RouteTableConstSharedPtr before = holder_.Load();

  // Same version: nothing is rebuilt, not even when the copy differs (versions are immutable).
  EXPECT_EQ(applier.Apply(MakeConfig(4, {{"/other", "order-svc"}})), "");
  EXPECT_EQ(holder_.Load(), before);
  EXPECT_EQ(TargetOf(holder_, "/api/payment"), "payment-svc");
  applier.FlushCache();  // the cache is written in the background
  EXPECT_EQ(CachedConfig(cache_), SplitConfig(4).SerializeAsString());
}

TEST_F(ConfigApplierTest, EmptyVersionZeroConfigMakesTheGatewayReady) {
  // A control plane with an empty database serves version 0.
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  EXPECT_EQ(applier.Apply(MakeConfig(0, {})), "");
  EXPECT_TRUE(applier.ready());
  ASSERT_NE(holder_.Load(), nullptr);
  EXPECT_EQ(holder_.Load()->route_count(), 0u);
}

TEST_F(ConfigApplierTest, OlderVersionFromTheControlPlaneIsApplied) {
  // The control plane is the source of truth, even if it went back (restored database).
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  ASSERT_EQ(applier.Apply(SplitConfig(9)), "");
  ASSERT_EQ(applier.Apply(MakeConfig(5, {{"/api", "order-svc"}})), "");
  EXPECT_EQ(applier.version(), 5u);
  EXPECT_EQ(TargetOf(holder_, "/api/payment"), "order-svc");
}

TEST_F(ConfigApplierTest, CacheRoundTripsIntoANewGateway) {
  {
    RouteTableHolder holder;
    ConfigApplier applier(holder, cache_, kMaxRoutes);
    ASSERT_EQ(applier.Apply(SplitConfig(12)), "");
  }  // that gateway stops

  ConfigApplier restarted(holder_, cache_, kMaxRoutes);
  ASSERT_TRUE(restarted.LoadCache());
  EXPECT_TRUE(restarted.ready());
  EXPECT_EQ(restarted.source(), "cache");
  EXPECT_EQ(restarted.version(), 12u);
  EXPECT_EQ(TargetOf(holder_, "/api/payment/1"), "payment-svc");

  // The control plane then confirms the same version: nothing changes but the source.
  RouteTableConstSharedPtr before = holder_.Load();
  EXPECT_EQ(restarted.Apply(SplitConfig(12)), "");
  EXPECT_EQ(holder_.Load(), before);
  EXPECT_EQ(restarted.source(), "stream");
}

TEST_F(ConfigApplierTest, MissingCacheIsNotAnError) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  EXPECT_FALSE(applier.LoadCache());
  EXPECT_FALSE(applier.ready());
  EXPECT_EQ(applier.source(), "none");
}

TEST_F(ConfigApplierTest, CorruptCacheIsRefusedAndLeftInPlace) {
  const std::string garbage("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
  WriteFile(cache_, garbage);
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  EXPECT_FALSE(applier.LoadCache());
  EXPECT_FALSE(applier.ready());
  EXPECT_EQ(holder_.Load(), nullptr);
  applier.FlushCache();  // the cache is written in the background
  EXPECT_EQ(ReadFile(cache_), garbage);
  // Shown as an unhealthy cache (/metrics, /config) until a write replaces it.
  EXPECT_FALSE(applier.cache_status().healthy);
  EXPECT_EQ(applier.cache_status().version, 0u);
  EXPECT_NE(applier.cache_status().last_error, "");
  EXPECT_EQ(applier.Apply(SplitConfig(2)), "");
  EXPECT_EQ(applier.FlushCache(), "");
  EXPECT_TRUE(applier.cache_status().healthy);
  EXPECT_EQ(applier.cache_status().version, 2u);
}

TEST_F(ConfigApplierTest, CachedConfigThatFailsValidationIsRefused) {
  ASSERT_TRUE(StoreConfigCache(cache_, InvalidConfig(3), nullptr));
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  EXPECT_FALSE(applier.LoadCache());
  EXPECT_FALSE(applier.ready());
  EXPECT_EQ(applier.version(), 0u);
  EXPECT_FALSE(applier.cache_status().healthy);
  EXPECT_NE(applier.cache_status().last_error.find("config version 3 in " + cache_ + " is invalid"),
            std::string::npos)
      << applier.cache_status().last_error;
}

TEST_F(ConfigApplierTest, CachedConfigOverThisGatewaysLimitIsRefused) {
  ASSERT_TRUE(StoreConfigCache(cache_, SplitConfig(3), nullptr));
  ConfigApplier applier(holder_, cache_, /*max_routes=*/1);
  EXPECT_FALSE(applier.LoadCache());
  EXPECT_FALSE(applier.ready());
}

TEST_F(ConfigApplierTest, CacheWriteFailureKeepsTheConfigApplied) {
  ConfigApplier applier(holder_, dir_.File("missing-dir/gateway.cache"), kMaxRoutes);
  EXPECT_EQ(applier.Apply(SplitConfig(2)), "");
  EXPECT_EQ(applier.version(), 2u);
  EXPECT_TRUE(applier.ready());
  EXPECT_EQ(TargetOf(holder_, "/api/payment"), "payment-svc");
}

TEST_F(ConfigApplierTest, EmptyCachePathDisablesTheCache) {
  ConfigApplier applier(holder_, "", kMaxRoutes);
  EXPECT_FALSE(applier.LoadCache());
  EXPECT_EQ(applier.Apply(SplitConfig(1)), "");
  EXPECT_TRUE(dir_.Entries().empty());
}

TEST_F(ConfigApplierTest, CountsAppliedAndRefusedVersions) {
  ConfigApplier applier(holder_, cache_, /*max_routes=*/2);
  ASSERT_EQ(applier.Apply(MakeConfig(1, {{"/api", "order-svc"}})), "");
  ASSERT_EQ(applier.Apply(MakeConfig(1, {{"/api", "order-svc"}})), "");  // already live
  ASSERT_NE(applier.Apply(InvalidConfig(2)), "");                        // refused
  EXPECT_EQ(applier.applied_total(), 1u);
  EXPECT_EQ(applier.refused_total(), 1u);
}

TEST_F(ConfigApplierTest, ABurstOfVersionsLeavesTheNewestInTheCache) {
  ConfigApplier applier(holder_, cache_, kMaxRoutes);
  for (uint64_t version = 1; version <= 20; ++version)
    ASSERT_EQ(applier.Apply(SplitConfig(version)), "");
  applier.FlushCache();
  EXPECT_EQ(CachedConfig(cache_), SplitConfig(20).SerializeAsString());
}

}  // namespace
}  // namespace gw
