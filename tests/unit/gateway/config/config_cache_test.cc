#include "gateway/config/config_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/unit/gateway/config/test_support.h"

namespace gw {
namespace {

using testing::CachedConfig;
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

TEST(ConfigCacheTest, FileHoldsTheNewestConfigAndNoTempFileRemains) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  std::string error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(1), &error)) << error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(2), &error)) << error;

  EXPECT_EQ(CachedConfig(path), SplitConfig(2).SerializeAsString());
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"cache.pb"});
}

// Format version 2: magic, version, length, SHA-256, then the config (config_cache.h).
TEST(ConfigCacheTest, FileIsHeaderThenTheSerializedConfig) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  std::string error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(9), &error)) << error;
  const std::string bytes = ReadFile(path);
  const std::string payload = SplitConfig(9).SerializeAsString();
  ASSERT_EQ(bytes.size(), 56 + payload.size());
  EXPECT_EQ(bytes.substr(0, 8), "GWCACHE2");
  EXPECT_EQ(bytes.substr(8, 8), std::string("\x09\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[16]), payload.size());
  EXPECT_EQ(bytes.substr(56), payload);
}

// It holds JWT secrets: owner only, whatever the umask.
TEST(ConfigCacheTest, FileIsReadableByItsOwnerOnly) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  const mode_t old_umask = ::umask(0);
  std::string error;
  const bool stored = StoreConfigCache(path, SplitConfig(1), &error);
  ::umask(old_umask);
  ASSERT_TRUE(stored) << error;
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

// The bug: a file cut at a record boundary, or empty, loaded as a smaller valid config (2,500
// of 5,000 routes served, /ready 200 with every request 404). Every cut is refused.
TEST(ConfigCacheTest, AFileCutShortAnywhereIsCorrupt) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  std::string error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(3), &error)) << error;
  const std::string whole = ReadFile(path);
  for (size_t size = 0; size < whole.size(); ++size) {
    WriteFile(path, whole.substr(0, size));
    gateway::v1::Config loaded;
    EXPECT_EQ(LoadConfigCache(path, &loaded, &error), CacheLoad::kCorrupt) << size;
    EXPECT_NE(error.find(path), std::string::npos) << error;
  }
  WriteFile(path, "");
  gateway::v1::Config loaded;
  EXPECT_EQ(LoadConfigCache(path, &loaded, &error), CacheLoad::kCorrupt);
  EXPECT_NE(error.find("is empty"), std::string::npos) << error;
}

TEST(ConfigCacheTest, AnyFlippedByteOrTrailingDataIsCorrupt) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  std::string error;
  ASSERT_TRUE(StoreConfigCache(path, SplitConfig(3), &error)) << error;
  const std::string whole = ReadFile(path);
  for (size_t i = 0; i < whole.size(); ++i) {
    std::string damaged = whole;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x20);
    WriteFile(path, damaged);
    gateway::v1::Config loaded;
    EXPECT_EQ(LoadConfigCache(path, &loaded, &error), CacheLoad::kCorrupt) << "byte " << i;
  }
  WriteFile(path, whole + "x");
  gateway::v1::Config loaded;
  EXPECT_EQ(LoadConfigCache(path, &loaded, &error), CacheLoad::kCorrupt);
  EXPECT_NE(error.find("data after its end"), std::string::npos) << error;
}

// A cache of the first format (a bare Config) cannot be checked: ignored, with a reason.
TEST(ConfigCacheTest, AFileOfTheOldFormatIsNotTrusted) {
  TempDir dir;
  const std::string path = dir.File("cache.pb");
  WriteFile(path, SplitConfig(4).SerializeAsString());
  gateway::v1::Config loaded;
  std::string error;
  EXPECT_EQ(LoadConfigCache(path, &loaded, &error), CacheLoad::kCorrupt);
  EXPECT_NE(error.find("not a config cache of this gateway"), std::string::npos) << error;
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
  EXPECT_EQ(CachedConfig(path), SplitConfig(1).SerializeAsString());
  EXPECT_EQ(dir.Entries().size(), 2u) << "temp file left behind";
}

}  // namespace
}  // namespace gw
