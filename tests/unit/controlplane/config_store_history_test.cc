// ConfigStore's declarative writes and history on every backend: Apply as one version or
// nothing, dry runs, --if-version, history records with their changes, rollback to an exact
// earlier config, and the history kept bounded.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/api_key.h"
#include "controlplane/store/config_store.h"
#include "tests/unit/controlplane/store_backends.h"
#include "tests/unit/controlplane/store_test_support.h"

namespace gw {
namespace {

using gateway::v1::ApplyRequest;
using gateway::v1::Config;
using gateway::v1::ObjectChange;
using gateway::v1::Route;
using gateway::v1::Service;
using google::protobuf::util::MessageDifferencer;
using testing::MakeRoute;
using testing::MakeService;
using testing::WithSplit;

class ConfigStoreHistoryTest : public testing::StoreTest {
 protected:
  ConfigPtr Current() {
    auto snapshot = store_->LoadSnapshot();
    EXPECT_TRUE(snapshot.ok());
    return snapshot.ok() ? *snapshot : nullptr;
  }
};
GW_STORE_BACKENDS(ConfigStoreHistoryTest);

// A config with every object's version cleared: what "the same config" means across versions.
Config WithoutVersions(Config config) {
  config.clear_version();
  for (auto& service : *config.mutable_services()) service.clear_version();
  for (auto& route : *config.mutable_routes()) route.clear_version();
  for (auto& consumer : *config.mutable_consumers()) consumer.clear_version();
  return config;
}

ApplyRequest Document(std::vector<Service> services, std::vector<Route> routes) {
  ApplyRequest request;
  for (auto& service : services) *request.add_services() = std::move(service);
  for (auto& route : routes) *request.add_routes() = std::move(route);
  return request;
}

std::vector<std::string> Actions(const std::vector<ObjectChange>& changes) {
  std::vector<std::string> out;
  for (const auto& change : changes) {
    std::string name = change.has_service_after()    ? "service " + change.service_after().name()
                       : change.has_service_before() ? "service " + change.service_before().name()
                       : change.has_route_after()    ? "route " + change.route_after().path()
                       : change.has_route_before()   ? "route " + change.route_before().path()
                       : change.has_consumer_after()
                           ? "consumer " + change.consumer_after().name()
                           : "consumer " + change.consumer_before().name();
    out.push_back(ObjectChange::Action_Name(change.action()) + " " + name);
  }
  return out;
}

WriteContext Context(std::string actor, std::string command = "") {
  WriteContext context;
  context.actor = std::move(actor);
  context.command = std::move(command);
  return context;
}

TEST_P(ConfigStoreHistoryTest, ApplyWritesEveryObjectAsOneVersion) {
  ApplyRequest request =
      Document({MakeService("cart", 9101), MakeService("order", 9102)},
               {MakeRoute("/api/cart", "cart"), MakeRoute("/api/order", "order")});
  auto* consumer = request.add_consumers();
  consumer->mutable_consumer()->set_name("mobile");
  consumer->add_api_keys("mobile-key-0123456789");
  auto applied = store_->Apply(request, Context("ci", "gatewayctl apply -f prod.yaml"));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->snapshot->version(), 1u);
  EXPECT_EQ(Actions(applied->changes),
            (std::vector<std::string>{"CREATED service cart", "CREATED service order",
                                      "CREATED route /api/cart", "CREATED route /api/order",
                                      "CREATED consumer mobile"}));
  EXPECT_EQ(applied->snapshot->consumers(0).api_key_sha256(0),
            ApiKeySha256Hex("mobile-key-0123456789"));

  // The same document again: nothing to change, no version, no history row.
  auto again = store_->Apply(request);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->changes.empty());
  EXPECT_EQ(again->snapshot->version(), 1u);

  auto history = store_->ListHistory(10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].version(), 1u);
  EXPECT_EQ((*history)[0].action(), "apply");
  EXPECT_EQ((*history)[0].actor(), "ci");
  EXPECT_EQ((*history)[0].command(), "gatewayctl apply -f prod.yaml");
  EXPECT_TRUE((*history)[0].has_changes());
  EXPECT_NE((*history)[0].summary().find("route /api/cart (prefix) created"), std::string::npos)
      << (*history)[0].summary();
}

TEST_P(ConfigStoreHistoryTest, ApplyWithOneBadObjectChangesNothing) {
  ASSERT_TRUE(store_->Apply(Document({MakeService("cart")}, {MakeRoute("/cart", "cart")})).ok());
  const std::string before = location_->Dump();
  // A good service, a good route, and a split to a service that does not exist.
  auto refused =
      store_->Apply(Document({MakeService("order")},
                             {MakeRoute("/order", "order"),
                              WithSplit(MakeRoute("/pay", ""), {{"order", 50}, {"nowhere", 50}})}));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("nowhere"), std::string::npos) << refused.error().message;
  // One invalid on its own: named by its place in the document.
  Route bad = MakeRoute("no-slash", "cart");
  auto invalid = store_->Apply(Document({}, {MakeRoute("/ok", "cart"), bad}));
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code, StoreCode::kInvalidArgument);
  EXPECT_EQ(invalid.error().message.rfind("routes[1]: ", 0), 0u) << invalid.error().message;
  auto twice = store_->Apply(Document({MakeService("x"), MakeService("x")}, {}));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("given twice"), std::string::npos);
  EXPECT_EQ(location_->Dump(), before);
  EXPECT_EQ(Version(), 1u);
}

TEST_P(ConfigStoreHistoryTest, ApplyReplacesGivenObjectsAndPrunesOnlyWhenAsked) {
  ASSERT_TRUE(store_
                  ->Apply(Document({MakeService("a", 9101), MakeService("b", 9102)},
                                   {MakeRoute("/x", "a"), MakeRoute("/y", "b")}))
                  .ok());
  // /x moves to b; a gets a new port. Not given: service b (needed) and route /y.
  auto moved = store_->Apply(
      Document({MakeService("a", 9200), MakeService("b", 9102)}, {MakeRoute("/x", "b")}));
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(Actions(moved->changes),
            (std::vector<std::string>{"CHANGED service a", "CHANGED route /x"}));
  EXPECT_EQ(moved->changes[1].route_before().target(), "a");
  EXPECT_EQ(moved->changes[1].route_after().target(), "b");
  EXPECT_EQ(Current()->routes_size(), 2);

  // Pruning a service a kept route still uses is refused, naming the route.
  ApplyRequest prune = Document({MakeService("a", 9200)}, {MakeRoute("/x", "b")});
  prune.set_prune(true);
  auto refused = store_->Apply(prune);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StoreCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("service b is used by route /x"), std::string::npos)
      << refused.error().message;

  prune = Document({MakeService("b", 9102)}, {MakeRoute("/x", "b")});
  prune.set_prune(true);
  auto pruned = store_->Apply(prune);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(Actions(pruned->changes),
            (std::vector<std::string>{"DELETED service a", "DELETED route /y"}));
  EXPECT_EQ(pruned->snapshot->version(), 3u);
  EXPECT_EQ(pruned->snapshot->services_size(), 1);
  EXPECT_EQ(pruned->snapshot->routes_size(), 1);
}

TEST_P(ConfigStoreHistoryTest, DryRunAnswersTheChangesAndWritesNothing) {
  ASSERT_TRUE(store_->Apply(Document({MakeService("a")}, {})).ok());
  const std::string before = location_->Dump();
  WriteContext dry = Context("viewer");
  dry.dry_run = true;
  auto preview = store_->Apply(Document({MakeService("a", 9300)}, {MakeRoute("/a", "a")}), dry);
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  EXPECT_EQ(Actions(preview->changes),
            (std::vector<std::string>{"CHANGED service a", "CREATED route /a"}));
  EXPECT_EQ(location_->Dump(), before);
  EXPECT_EQ(Current()->version(), 1u);
}

TEST_P(ConfigStoreHistoryTest, IfVersionRefusesAStaleWrite) {
  ASSERT_TRUE(store_->CreateService(MakeService("a")).ok());
  ASSERT_TRUE(store_->CreateService(MakeService("b")).ok());
  const std::string before = location_->Dump();
  WriteContext stale;
  stale.if_version = 1;
  auto refused = store_->CreateRoute(MakeRoute("/a", "a"), stale);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StoreCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("the config is at version 2, not 1"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(store_->Apply(Document({MakeService("c")}, {}), stale).ok());
  EXPECT_EQ(location_->Dump(), before);

  WriteContext current;
  current.if_version = 2;
  auto accepted = store_->CreateRoute(MakeRoute("/a", "a"), current);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->snapshot->version(), 3u);
}

TEST_P(ConfigStoreHistoryTest, RollbackRestoresAnEarlierConfigExactlyAsANewVersion) {
  ASSERT_TRUE(store_->CreateService(MakeService("a", 9101)).ok());  // 1
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/a", "a")).ok());      // 2
  const Config at_two = *Current();
  ASSERT_TRUE(store_->CreateService(MakeService("b", 9102)).ok());  // 3
  Route moved = MakeRoute("/a", "b");
  moved.set_retries(2);
  google::protobuf::FieldMask mask;
  mask.add_paths("target");
  mask.add_paths("retries");
  ASSERT_TRUE(store_->UpdateRoute(moved, mask).ok());               // 4
  ASSERT_TRUE(store_->CreateRoute(MakeRoute("/b", "b")).ok());      // 5
  ASSERT_TRUE(store_->UpdateService(MakeService("a", 9999)).ok());  // 6

  auto rolled = store_->Rollback(2, Context("ops", "gatewayctl rollback 2"));
  ASSERT_TRUE(rolled.ok()) << rolled.error().message;
  EXPECT_EQ(rolled->snapshot->version(), 7u);
  EXPECT_TRUE(
      MessageDifferencer::Equals(WithoutVersions(*rolled->snapshot), WithoutVersions(at_two)))
      << rolled->snapshot->DebugString() << "\nwanted\n"
      << at_two.DebugString();
  EXPECT_EQ(Actions(rolled->changes),
            (std::vector<std::string>{"CHANGED service a", "DELETED service b", "CHANGED route /a",
                                      "DELETED route /b"}));
  // What did not change keeps its version; what did is version 7's.
  EXPECT_EQ(rolled->snapshot->services(0).version(), 7u);

  auto record = store_->GetHistory(7);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->record.action(), "rollback");
  EXPECT_EQ(record->record.actor(), "ops");
  EXPECT_EQ(record->record.summary().rfind("to version 2: ", 0), 0u) << record->record.summary();
  EXPECT_EQ(record->changes.size(), 4u);

  // Back to nothing at all, and a version that does not exist yet.
  auto empty = store_->Rollback(0);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->snapshot->services_size() + empty->snapshot->routes_size(), 0);
  auto future = store_->Rollback(99);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code, StoreCode::kNotFound);
  // To the current version: nothing to change.
  auto same = store_->Rollback(Version());
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->changes.empty());
}

TEST_P(ConfigStoreHistoryTest, HistoryShowsEachChangeBothWays) {
  ASSERT_TRUE(store_->CreateService(MakeService("a", 9101)).ok());
  ASSERT_TRUE(store_->UpdateService(MakeService("a", 9102)).ok());
  ASSERT_TRUE(store_->DeleteService("a").ok());
  auto changed = store_->GetHistory(2);
  ASSERT_TRUE(changed.ok());
  ASSERT_EQ(changed->changes.size(), 1u);
  EXPECT_EQ(changed->changes[0].action(), ObjectChange::CHANGED);
  EXPECT_EQ(changed->changes[0].service_before().endpoints(0).port(), 9101u);
  EXPECT_EQ(changed->changes[0].service_after().endpoints(0).port(), 9102u);
  auto deleted = store_->GetHistory(3);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(Actions(deleted->changes), (std::vector<std::string>{"DELETED service a"}));
  EXPECT_FALSE(store_->GetHistory(4).ok());
  EXPECT_FALSE(store_->GetHistory(0).ok());
}

TEST_P(ConfigStoreHistoryTest, HistoryKeepBoundsWhatRollbackReaches) {
  ConfigStoreOptions options;
  options.history_keep = 3;
  Reopen(options);
  for (int i = 1; i <= 6; ++i)
    ASSERT_TRUE(store_->CreateService(MakeService("s" + std::to_string(i))).ok());
  auto history = store_->ListHistory(0);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].version(), 6u);
  EXPECT_EQ((*history)[2].version(), 4u);
  EXPECT_EQ(*store_->OldestHistoryVersion(), 4u);
  auto too_far = store_->Rollback(2);
  ASSERT_FALSE(too_far.ok());
  EXPECT_NE(too_far.error().message.find("--history-keep"), std::string::npos)
      << too_far.error().message;
  auto reachable = store_->Rollback(3);  // version 4's reverse change is kept
  ASSERT_TRUE(reachable.ok()) << reachable.error().message;
  EXPECT_EQ(reachable->snapshot->services_size(), 3);
}

TEST_P(ConfigStoreHistoryTest, ApplyKeepsAJwtSecretGivenByItsDigest) {
  const std::string secret = "an-hs256-secret-of-32-bytes-or-more!";
  ApplyRequest request;
  auto* spec = request.add_consumers();
  spec->mutable_consumer()->set_name("web");
  spec->mutable_consumer()->mutable_jwt()->set_issuer("https://id.example");
  spec->mutable_consumer()->mutable_jwt()->set_secret(secret);
  auto created = store_->Apply(request);
  ASSERT_TRUE(created.ok()) << created.error().message;

  // What export shows: the digest only. Applied back, it changes nothing.
  spec->mutable_consumer()->mutable_jwt()->clear_secret();
  spec->mutable_consumer()->mutable_jwt()->set_secret_sha256(ApiKeySha256Hex(secret));
  auto same = store_->Apply(request);
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_TRUE(same->changes.empty());
  EXPECT_EQ(Current()->consumers(0).jwt().secret(), secret);
  EXPECT_EQ(Current()->consumers(0).jwt().secret_sha256(), "");

  spec->mutable_consumer()->mutable_jwt()->set_secret_sha256(ApiKeySha256Hex("another"));
  auto wrong = store_->Apply(request);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("jwt.secret_sha256"), std::string::npos);
}

}  // namespace
}  // namespace gw
