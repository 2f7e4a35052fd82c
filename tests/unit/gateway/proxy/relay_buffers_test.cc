#include "gateway/proxy/relay_buffers.h"

#include <gtest/gtest.h>

#include <vector>

namespace gw {
namespace {

// Lends `count` buffers and takes them all back.
void Lend(RelayBuffers& buffers, size_t count) {
  std::vector<RelayBuffers::Buffer> lent;
  for (size_t i = 0; i < count; ++i) lent.push_back(buffers.Take());
  for (auto& buffer : lent) buffers.Give(std::move(buffer));
}

TEST(RelayBuffersTest, KeepsAsManySparesAsTheLoadLendsOut) {
  RelayBuffers buffers;
  Lend(buffers, 100);  // more bodies in flight than kMinSpare: all come back as spares
  EXPECT_EQ(buffers.spare(), 100u);
  const char* first = nullptr;
  {
    RelayBuffers::Buffer buffer = buffers.Take();  // a spare, not a new allocation
    first = buffer.get();
    buffers.Give(std::move(buffer));
  }
  EXPECT_EQ(buffers.Take().get(), first);
  buffers.Give(nullptr);  // ignored
  EXPECT_EQ(buffers.spare(), 99u);
}

TEST(RelayBuffersTest, TrimFreesWhatNoBodyNeededSinceTheLastTrim) {
  RelayBuffers buffers;
  Lend(buffers, 100);
  buffers.Trim();  // all 100 came back after being lent: the start of a period
  EXPECT_EQ(buffers.spare(), 100u);

  Lend(buffers, 30);  // the load now needs 30 at a time: 70 stayed unused
  buffers.Trim();
  EXPECT_EQ(buffers.spare(), 30u);

  buffers.Trim();  // an idle period: back to the floor, no lower
  EXPECT_EQ(buffers.spare(), RelayBuffers::kMinSpare);
  buffers.Trim();
  EXPECT_EQ(buffers.spare(), RelayBuffers::kMinSpare);

  Lend(buffers, 40);  // more than the spares: the new ones are kept
  buffers.Trim();
  EXPECT_EQ(buffers.spare(), 40u);
}

TEST(RelayBuffersTest, KeepsAtMostKMaxSpare) {
  RelayBuffers buffers;
  Lend(buffers, RelayBuffers::kMaxSpare + 10);
  EXPECT_EQ(buffers.spare(), RelayBuffers::kMaxSpare);
}

}  // namespace
}  // namespace gw
