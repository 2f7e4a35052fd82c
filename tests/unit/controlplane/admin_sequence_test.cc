// The property of fuzz/admin_sequence.h on seeded random inputs, and on every seed of the
// admin_sequence fuzzer's corpus: after any sequence of admin commands, every gateway accepts the
// config the control plane publishes. A failure names the seed (or file) and the last commands;
// ADMIN_SEQUENCE_SEED=N runs that one seed alone.
#include "fuzz/admin_sequence.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "tests/unit/support/temp_dir.h"

namespace gw {
namespace {

constexpr uint64_t kSeeds = 60;
// Under a sanitizer on a loaded 2-core machine 60 seeds took over ctest's 120 s: past this many
// seconds no new seed starts, once kMinSeeds ran.
constexpr auto kBudget = std::chrono::seconds(30);
constexpr uint64_t kMinSeeds = 15;  // seeds 9 and 13 reach the size limit
constexpr size_t kBytesPerSequence = 4096;

std::vector<uint8_t> RandomBytes(uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<uint8_t> bytes(kBytesPerSequence);
  for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(random());
  return bytes;
}

TEST(AdminSequence, EveryAcceptedConfigIsOneGatewaysAccept) {
  uint64_t first = 1, last = kSeeds;
  if (const char* only = std::getenv("ADMIN_SEQUENCE_SEED"))
    first = last = std::strtoull(only, nullptr, 10);
  size_t commands = 0, accepted = 0, refused_for_size = 0;
  const auto stop_at = std::chrono::steady_clock::now() + kBudget;
  for (uint64_t seed = first; seed <= last; ++seed) {
    if (seed > first + kMinSeeds && std::chrono::steady_clock::now() > stop_at) break;
    testing::TempDir dir;
    const std::vector<uint8_t> bytes = RandomBytes(seed);
    const fuzz::SequenceResult result =
        fuzz::RunAdminSequence(bytes.data(), bytes.size(), dir.File("config.db"));
    ASSERT_EQ(result.failure, "") << "seed " << seed << " (ADMIN_SEQUENCE_SEED=" << seed << ")";
    commands += result.commands;
    accepted += result.accepted;
    refused_for_size += result.refused_for_size;
  }
  RecordProperty("commands", std::to_string(commands));
  RecordProperty("accepted", std::to_string(accepted));
  RecordProperty("refused_for_size", std::to_string(refused_for_size));
  // The generator reaches both sides: many commands are accepted, some refused.
  EXPECT_GT(accepted, commands / 4) << accepted << " of " << commands;
  EXPECT_LT(accepted, commands) << accepted << " of " << commands;
  EXPECT_GT(refused_for_size, 0u) << "no sequence reached the size limit";
}

TEST(AdminSequence, TheFuzzersSeedsHold) {
  const std::filesystem::path corpus =
      std::filesystem::path(GATEWAY_SOURCE_DIR) / "fuzz" / "corpus" / "admin_sequence";
  ASSERT_TRUE(std::filesystem::is_directory(corpus)) << corpus;
  size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::ifstream file(entry.path(), std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(file), {}};
    testing::TempDir dir;
    const fuzz::SequenceResult result =
        fuzz::RunAdminSequence(bytes.data(), bytes.size(), dir.File("config.db"));
    EXPECT_EQ(result.failure, "") << entry.path();
    ++seeds;
  }
  EXPECT_GT(seeds, 0u);
}

}  // namespace
}  // namespace gw
