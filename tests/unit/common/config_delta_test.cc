#include "common/config_delta.h"

#include <gtest/gtest.h>

namespace gw {
namespace {

using gateway::v1::Config;

Config Base() {
  Config config;
  config.set_version(4);
  for (const char* name : {"b-svc", "a-svc"}) {
    auto* service = config.add_services();
    service->set_name(name);
    auto* endpoint = service->add_endpoints();
    endpoint->set_host("127.0.0.1");
    endpoint->set_port(9000);
  }
  for (const char* path : {"/b", "/a"}) {
    auto* route = config.add_routes();
    route->set_path(path);
    route->set_match(gateway::v1::MATCH_PREFIX);
    route->set_target("a-svc");
  }
  // Same path, another host: another route.
  auto* hosted = config.add_routes();
  hosted->set_path("/a");
  hosted->set_match(gateway::v1::MATCH_PREFIX);
  hosted->set_host("x.example");
  hosted->set_target("b-svc");
  config.add_consumers()->set_name("alice");
  SortConfig(&config);
  return config;
}

TEST(ConfigDelta, SortsLikeThePublishedOrder) {
  const Config config = Base();
  EXPECT_EQ(config.services(0).name(), "a-svc");
  EXPECT_EQ(config.routes(0).path(), "/a");
  EXPECT_EQ(config.routes(0).host(), "");
  EXPECT_EQ(config.routes(1).host(), "x.example");
  EXPECT_EQ(config.routes(2).path(), "/b");
}

TEST(ConfigDelta, CarriesOnlyWhatChangedAndRebuildsTheSameConfig) {
  const Config before = Base();
  Config after = before;
  after.set_version(5);
  after.mutable_routes(1)->set_target("a-svc");  // changed: /a on x.example
  after.mutable_routes()->DeleteSubrange(2, 1);  // removed: /b
  auto* added = after.add_routes();              // added
  added->set_path("/c");
  added->set_match(gateway::v1::MATCH_EXACT);
  added->set_target("b-svc");
  after.mutable_services()->DeleteSubrange(1, 1);  // removed: b-svc
  after.clear_consumers();
  after.add_consumers()->set_name("bob");
  SortConfig(&after);

  const auto delta = DiffConfigs(before, after);
  EXPECT_EQ(delta.base_version(), 4u);
  ASSERT_EQ(delta.upserted_routes_size(), 2);
  ASSERT_EQ(delta.removed_routes_size(), 1);
  EXPECT_EQ(delta.removed_routes(0).path(), "/b");
  EXPECT_EQ(delta.upserted_services_size(), 0);
  ASSERT_EQ(delta.removed_services_size(), 1);
  EXPECT_EQ(delta.removed_services(0), "b-svc");
  ASSERT_EQ(delta.upserted_consumers_size(), 1);
  EXPECT_EQ(delta.removed_consumers(0), "alice");

  Config rebuilt;
  ASSERT_EQ(ApplyConfigDelta(before, delta, 5, &rebuilt), "");
  EXPECT_EQ(rebuilt.SerializeAsString(), after.SerializeAsString());
  EXPECT_TRUE(DeltaIsEmpty(DiffConfigs(after, rebuilt)));
}

TEST(ConfigDelta, RefusesAnotherBaseOrARemovalOfNothing) {
  const Config before = Base();
  Config out;
  out.set_version(99);
  auto delta = DiffConfigs(before, before);
  EXPECT_TRUE(DeltaIsEmpty(delta));
  delta.set_base_version(3);
  EXPECT_EQ(ApplyConfigDelta(before, delta, 5, &out),
            "delta from version 3, but version 4 is live");
  delta.set_base_version(4);
  auto* key = delta.add_removed_routes();
  key->set_path("/a");
  key->set_match(gateway::v1::MATCH_EXACT);  // only a prefix /a exists
  EXPECT_EQ(ApplyConfigDelta(before, delta, 5, &out),
            "the delta removes a route the base config does not have");
  EXPECT_EQ(out.version(), 99u);  // untouched
}

}  // namespace
}  // namespace gw
