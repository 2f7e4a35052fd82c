// Snapshot encoding, the publisher's fan-out, the /config JSON, and the store worker.
#include "controlplane/snapshot.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "controlplane/config_json.h"
#include "controlplane/snapshot_publisher.h"
#include "controlplane/store_worker.h"

namespace gw {
namespace {

ConfigPtr MakeConfig(uint64_t version) {
  auto config = std::make_shared<gateway::v1::Config>();
  config->set_version(version);
  auto* service = config->add_services();
  service->set_name("order-svc");
  service->set_version(1);
  auto* endpoint = service->add_endpoints();
  endpoint->set_host("127.0.0.1");
  endpoint->set_port(9101);
  auto* route = config->add_routes();
  route->set_path("/api");
  route->set_match(gateway::v1::MATCH_PREFIX);
  route->set_target("order-svc");
  route->set_version(version);
  return config;
}

TEST(SnapshotTest, EncodesOneConfigMessageWithItsNonce) {
  auto config = MakeConfig(7);
  Snapshot snapshot(config);
  for (const char* nonce : {"first", "second"}) {
    grpc::ByteBuffer bytes = snapshot.Encode(nonce);
    gateway::v1::ConfigMessage message;
    ASSERT_TRUE(
        grpc::SerializationTraits<gateway::v1::ConfigMessage>::Deserialize(&bytes, &message).ok());
    EXPECT_EQ(message.nonce(), nonce);
    EXPECT_EQ(message.version(), 7u);
    ASSERT_TRUE(message.has_snapshot());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(message.snapshot(), *config));
  }
  EXPECT_EQ(snapshot.config_ptr(), config);  // shared, not copied
}

class RecordingSubscriber : public SnapshotSubscriber {
 public:
  explicit RecordingSubscriber(std::string instance = "process-1")
      : instance(std::move(instance)) {}
  void Offer(const SnapshotPtr& snapshot) override { offered.push_back(snapshot->version()); }
  void Replace() override { replaced = true; }
  bool YieldsTo(std::string_view other) const override { return ending || other == instance; }
  std::string Holder() const override { return "holder of " + instance; }
  std::string instance;
  bool ending = false;
  std::vector<uint64_t> offered;
  bool replaced = false;
};

TEST(SnapshotPublisherTest, SubscribeOffersCurrentThenEveryNewerVersion) {
  SnapshotPublisher publisher(MakeSnapshot(MakeConfig(1)));
  RecordingSubscriber a;
  EXPECT_TRUE(publisher.Subscribe("a", &a, a.instance));
  EXPECT_TRUE(publisher.Publish(MakeSnapshot(MakeConfig(2))));
  EXPECT_FALSE(publisher.Publish(MakeSnapshot(MakeConfig(2))));  // repeat: no-op
  EXPECT_FALSE(publisher.Publish(MakeSnapshot(MakeConfig(1))));  // older: no-op
  EXPECT_TRUE(publisher.Publish(MakeSnapshot(MakeConfig(3))));
  EXPECT_EQ(a.offered, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(publisher.Current()->version(), 3u);
}

TEST(SnapshotPublisherTest, AReconnectOfTheSameProcessReplacesItsOldStream) {
  SnapshotPublisher publisher(MakeSnapshot(MakeConfig(1)));
  RecordingSubscriber first, second;  // one gateway process, two streams
  EXPECT_TRUE(publisher.Subscribe("gw", &first, first.instance));
  EXPECT_TRUE(publisher.Subscribe("gw", &second, second.instance));
  EXPECT_TRUE(first.replaced);
  EXPECT_FALSE(second.replaced);
  EXPECT_EQ(publisher.subscriber_count(), 1u);
  publisher.Unsubscribe("gw", &first);  // the old one leaving does not remove the new one
  EXPECT_EQ(publisher.subscriber_count(), 1u);
  publisher.Publish(MakeSnapshot(MakeConfig(2)));
  EXPECT_EQ(first.offered, (std::vector<uint64_t>{1}));
  EXPECT_EQ(second.offered, (std::vector<uint64_t>{1, 2}));
  publisher.Unsubscribe("gw", &second);
  EXPECT_EQ(publisher.subscriber_count(), 0u);
}

TEST(SnapshotPublisherTest, AnotherProcessWithTheSameNodeIdIsRefusedAndTheHolderKeepsIt) {
  SnapshotPublisher publisher(MakeSnapshot(MakeConfig(1)));
  RecordingSubscriber holder("process-1"), intruder("process-2");
  EXPECT_TRUE(publisher.Subscribe("gw", &holder, holder.instance));
  std::string who;
  EXPECT_FALSE(publisher.Subscribe("gw", &intruder, intruder.instance, &who));
  EXPECT_EQ(who, "holder of process-1");
  EXPECT_FALSE(holder.replaced);
  EXPECT_TRUE(intruder.offered.empty());
  publisher.Publish(MakeSnapshot(MakeConfig(2)));
  EXPECT_EQ(holder.offered, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(intruder.offered.empty());
  // A gateway without an instance id (an older build) cannot prove it is the holder either.
  EXPECT_FALSE(publisher.Subscribe("gw", &intruder, "", &who));
  // Once the holder's stream is ending, the next one gets the node id.
  holder.ending = true;
  EXPECT_TRUE(publisher.Subscribe("gw", &intruder, intruder.instance));
  EXPECT_TRUE(holder.replaced);
  EXPECT_EQ(intruder.offered, (std::vector<uint64_t>{2}));
}

TEST(ConfigJsonTest, WritesTheSnapshot) {
  EXPECT_EQ(ConfigToJson(*MakeConfig(4)),
            R"({"version":4,"services":[{"name":"order-svc","version":1,"endpoints":)"
            R"([{"host":"127.0.0.1","port":9101}]}],"routes":[{"path":"/api","match":"prefix",)"
            R"("target":"order-svc","version":4}]})");
  gateway::v1::Config empty;
  EXPECT_EQ(ConfigToJson(empty), R"({"version":0,"services":[],"routes":[]})");
}

TEST(ConfigJsonTest, ShowsARouteBodyLimitWhenSet) {
  gateway::v1::Config config = *MakeConfig(5);
  config.mutable_routes(0)->set_max_body_size(10 << 20);
  EXPECT_EQ(ConfigToJson(config),
            R"({"version":5,"services":[{"name":"order-svc","version":1,"endpoints":)"
            R"([{"host":"127.0.0.1","port":9101}]}],"routes":[{"path":"/api","match":"prefix",)"
            R"("target":"order-svc","max_body_size":10485760,"version":5}]})");
}

TEST(StoreWorkerTest, RunsTasksInOrderOnOneThread) {
  StoreWorker worker;
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(worker.Post([&, i] {
      std::lock_guard lock(mu);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
    }));
  }
  worker.Stop();  // drains
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  for (auto id : threads) EXPECT_EQ(id, threads.front());
  EXPECT_NE(threads.front(), std::this_thread::get_id());
  EXPECT_FALSE(worker.Post([] {}));  // stopped
}

TEST(StoreWorkerTest, RefusesPastItsQueueLimit) {
  StoreWorker worker(2);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> started{false};
  ASSERT_TRUE(worker.Post([&] {
    started = true;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
  }));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!started && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(started);
  EXPECT_TRUE(worker.Post([] {}));
  EXPECT_TRUE(worker.Post([] {}));
  EXPECT_FALSE(worker.Post([] {}));  // queue of 2 is full
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
}

}  // namespace
}  // namespace gw
