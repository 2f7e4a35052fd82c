#include "gateway/config/config_cache.h"

#include <gtest/gtest.h>

#include "tests/unit/gateway/config/test_support.h"

namespace gw {
namespace {

using testing::ReadFile;
using testing::SplitConfig;
using testing::TempDir;
using testing::WriteFile;

TEST(ConfigCacheTest, StoredConfigLoadsBackIdentical) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  const gateway::v1::Config config = SplitConfig(7);
  std::string error;
  ASSERT_TRUE(StoreConfigCache(path, config, &error)) << error;

  gateway::v1::Config loaded;
  ASSERT_EQ(LoadConfigCache(path, &loaded, &error), CacheLoad::kLoaded) << error;
  EXPECT_EQ(loaded.SerializeAsString(), config.SerializeAsString());
  EXPECT_EQ(loaded.version(), 7u);
  EXPECT_EQ(loaded.routes_size(), 2);
}

TEST(ConfigCacheTest, FileIsTheSerializedConfigAndNoTempFileRemains) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  std::string error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(1), &error)) << error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(2), &error)) << error;

  EXPECT_EQ(ReadFile(path), SplitConfig(2).SerializeAsString());
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"cache.pb"});
}

TEST(ConfigCacheTest, MissingFileIsReportedAsMissing) {
  TempDir dir;
  gateway::v1::Config loaded;
  std::string error;
  EXPECT_EQ(LoadConfigCache(dir.File("absent.pb"), &loaded, &error), CacheLoad::kMissing);
  EXPECT_EQ(error, "");
}

TEST(ConfigCacheTest, GarbageIsReportedAsCorruptNamingTheFile) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  WriteFile(path, std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));
  gateway::v1::Config loaded;
  std::string error;
  EXPECT_EQ(LoadConfigCache(path, &loaded, &error), CacheLoad::kCorrupt);
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

TEST(ConfigCacheTest, UnreadablePathIsReportedAsCorrupt) {
  TempDir dir;  // a directory is not a file
  gateway::v1::Config loaded;
  std::string error;
  EXPECT_EQ(LoadConfigCache(dir.File(""), &loaded, &error), CacheLoad::kCorrupt);
  EXPECT_FALSE(error.empty());
}

TEST(ConfigCacheTest, StoreIntoMissingDirectoryFailsWithReason) {
  TempDir dir;
  const std::string path = dir.File("no-such-dir/cache.pb");
  std::string error;
  EXPECT_FALSE(StoreConfigCache(path, SplitConfig(1), &error));
  EXPECT_NE(error.find("no-such-dir"), std::string::npos) << error;
}

TEST(ConfigCacheTest, FailedStoreLeavesTheOldFileIntact) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  std::string error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(1), &error)) << error;
  // The cache path is now a non-empty directory: rename() over it must fail.
  const std::string blocked = dir.File("blocked");
  std::filesystem::create_directories(blocked + "/inside");
  EXPECT_FALSE(StoreConfigCache(blocked, SplitConfig(2), &error));
  EXPECT_EQ(ReadFile(path), SplitConfig(1).SerializeAsString());
  EXPECT_EQ(dir.Entries().size(), 2u) << "temp file left behind";
}

}  // namespace
}  // namespace gw
