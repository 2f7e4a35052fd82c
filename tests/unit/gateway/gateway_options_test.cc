#include "gateway/gateway_options.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace gw {
namespace {

using namespace std::chrono_literals;

std::optional<GatewayOptions> Parse(std::vector<const char*> extra, int* exit_code) {
  std::vector<const char*> argv = {
      "gateway",   "--listen", "127.0.0.1:8080", "--control-plane", "127.0.0.1:50051",
      "--node-id", "gw-1",     "--cache",        "/tmp/gw-1.cache"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  *exit_code = -1;
  return ParseGatewayOptions(static_cast<int>(argv.size()), argv.data(), exit_code);
}

TEST(GatewayOptions, Defaults) {
  int exit_code;
  const auto options = Parse({}, &exit_code);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->listen.host, "127.0.0.1");
  EXPECT_EQ(options->listen.port, 8080);
  EXPECT_EQ(options->control_plane, "127.0.0.1:50051");
  EXPECT_EQ(options->node_id, "gw-1");
  EXPECT_EQ(options->cache_path, "/tmp/gw-1.cache");
  EXPECT_FALSE(options->admin);
  const unsigned cores = std::thread::hardware_concurrency();
  EXPECT_EQ(options->workers, cores == 0 ? 1u : cores);
  EXPECT_EQ(options->proxy.upstream_timeout, 15s);
  EXPECT_EQ(options->proxy.connect_timeout, 5s);
  EXPECT_EQ(options->proxy.idle_timeout, 60s);
  EXPECT_EQ(options->proxy.upstream_idle_timeout, 60s);
  EXPECT_EQ(options->proxy.max_routes, 10000u);
  EXPECT_EQ(options->proxy.header_timeout, 10s);
  EXPECT_EQ(options->proxy.body_timeout, 30s);
  EXPECT_EQ(options->proxy.tunnel_idle_timeout, 60s);
  EXPECT_EQ(options->proxy.max_body_size, 0u);  // bodies stream: no limit unless asked
  EXPECT_EQ(options->proxy.max_response_body_size, 0u);
  EXPECT_EQ(options->proxy.max_header_size, 16u * 1024);
  EXPECT_EQ(options->proxy.upstream_max_idle, 64u);
  EXPECT_EQ(options->drain_timeout, 30s);
  EXPECT_EQ(options->log_level, LogLevel::kInfo);
  EXPECT_FALSE(options->redis);  // cluster-scope limits are counted per gateway
  EXPECT_EQ(options->redis_timeout, 250ms);
  EXPECT_EQ(options->redis_lease, 20u);
  EXPECT_EQ(options->http2_max_concurrent_streams, 100u);
  EXPECT_EQ(options->http2_connection_window, 1u << 20);
}

TEST(GatewayOptions, Http2Limits) {
  int exit_code;
  const auto options = Parse(
      {"--http2-max-concurrent-streams", "250", "--http2-connection-window", "4m"}, &exit_code);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->http2_max_concurrent_streams, 250u);
  EXPECT_EQ(options->http2_connection_window, 4u << 20);
}

TEST(GatewayOptions, Redis) {
  int exit_code;
  auto options = Parse({"--redis", "127.0.0.1:6379"}, &exit_code);
  ASSERT_TRUE(options);
  ASSERT_TRUE(options->redis);
  EXPECT_EQ(options->redis->host, "127.0.0.1");
  EXPECT_EQ(options->redis->port, 6379);
  options = Parse({"--redis", "redis.internal:7000", "--redis-timeout", "1s", "--redis-lease", "5"},
                  &exit_code);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->redis->host, "redis.internal");
  EXPECT_EQ(options->redis_timeout, 1s);
  EXPECT_EQ(options->redis_lease, 5u);
  for (const std::vector<const char*>& bad : std::vector<std::vector<const char*>>{
           {"--redis", "127.0.0.1"},    // no port
           {"--redis", "127.0.0.1:0"},  // port 0
           {"--redis", "127.0.0.1:6379", "--redis-timeout", "0ms"},
           {"--redis", "127.0.0.1:6379", "--redis-lease", "0"},
           {"--redis", "127.0.0.1:6379", "--redis-lease", "x"},
           {"--redis-timeout", "1s"},  // without --redis
           {"--redis-lease", "5"}}) {
    EXPECT_FALSE(Parse(bad, &exit_code)) << bad[0] << " " << bad[1];
    EXPECT_EQ(exit_code, 2);
  }
}

TEST(GatewayOptions, EveryFlag) {
  int exit_code;
  const auto options = Parse({"--admin",
                              "[::1]:0",
                              "--workers",
                              "3",
                              "--upstream-timeout",
                              "250ms",
                              "--connect-timeout",
                              "1s",
                              "--idle-timeout",
                              "2m",
                              "--upstream-idle-timeout",
                              "30s",
                              "--max-routes",
                              "50",
                              "--max-body-size",
                              "1024",
                              "--max-header-size",
                              "4096",
                              "--max-response-body-size",
                              "2048",
                              "--upstream-max-idle",
                              "0",
                              "--drain-timeout",
                              "10s",
                              "--header-timeout",
                              "3s",
                              "--body-timeout",
                              "4s",
                              "--tunnel-idle-timeout",
                              "5m",
                              "--log-level",
                              "debug"},
                             &exit_code);
  ASSERT_TRUE(options);
  ASSERT_TRUE(options->admin);
  EXPECT_EQ(options->admin->host, "::1");
  EXPECT_EQ(options->admin->port, 0);
  EXPECT_EQ(options->workers, 3u);
  EXPECT_EQ(options->proxy.upstream_timeout, 250ms);
  EXPECT_EQ(options->proxy.connect_timeout, 1s);
  EXPECT_EQ(options->proxy.idle_timeout, 2min);
  EXPECT_EQ(options->proxy.upstream_idle_timeout, 30s);
  EXPECT_EQ(options->proxy.max_routes, 50u);
  EXPECT_EQ(options->proxy.max_body_size, 1024u);
  EXPECT_EQ(options->proxy.max_header_size, 4096u);
  EXPECT_EQ(options->proxy.max_response_body_size, 2048u);
  EXPECT_EQ(options->proxy.upstream_max_idle, 0u);
  EXPECT_EQ(options->drain_timeout, 10s);
  EXPECT_EQ(options->proxy.header_timeout, 3s);
  EXPECT_EQ(options->proxy.body_timeout, 4s);
  EXPECT_EQ(options->proxy.tunnel_idle_timeout, 5min);
  EXPECT_EQ(options->log_level, LogLevel::kDebug);
}

TEST(GatewayOptions, MaxBodySizeTakesSizesLikeRoutesDo) {
  int exit_code = -1;
  for (const auto& [text, bytes] :
       std::vector<std::pair<const char*, uint64_t>>{{"1048576", 1048576},
                                                     {"512k", 512u << 10},
                                                     {"10M", 10u << 20},
                                                     {"1g", uint64_t{1} << 30},
                                                     {"0", 0},
                                                     {"18446744073709551615", UINT64_MAX}}) {
    auto options = Parse({"--max-body-size", text}, &exit_code);
    ASSERT_TRUE(options) << text;
    EXPECT_EQ(options->proxy.max_body_size, bytes) << text;
  }
}

TEST(GatewayOptions, UsageErrorsExitWithTwo) {
  const std::vector<std::vector<const char*>> bad = {
      {"--unknown-flag"},
      {"--workers", "0"},
      {"--workers", "many"},
      {"--upstream-timeout", "15"},
      {"--connect-timeout", "-1s"},
      {"--max-body-size", "8MiB"},
      {"--max-header-size", "0"},
      {"--max-header-size", "65536"},
      {"--admin", "localhost"},
      {"--log-level", "verbose"},
      {"--header-timeout", "x"},
      {"--max-body-size", "-1"},
      {"--max-body-size", "10x"},
      {"--max-body-size", "18446744073709551616"},
      {"--max-body-size", "1.5m"},
      {"--max-body-size", "17179869184g"},
      {"--http2-max-concurrent-streams", "0"},
      {"--http2-max-concurrent-streams", "10001"},
      {"--http2-connection-window", "65534"},
      {"--http2-connection-window", "2g"},
  };
  for (const auto& args : bad) {
    int exit_code;
    EXPECT_FALSE(Parse(args, &exit_code)) << args[0];
    EXPECT_EQ(exit_code, 2) << args[0];
  }
}

TEST(GatewayOptions, RequiredFlags) {
  const char* argv[] = {"gateway", "--listen", "127.0.0.1:0"};
  int exit_code = -1;
  EXPECT_FALSE(ParseGatewayOptions(3, argv, &exit_code));
  EXPECT_EQ(exit_code, 2);
}

TEST(GatewayOptions, HelpExitsWithZero) {
  int exit_code;
  EXPECT_FALSE(Parse({"--help"}, &exit_code));
  EXPECT_EQ(exit_code, 0);
}

}  // namespace
}  // namespace gw
