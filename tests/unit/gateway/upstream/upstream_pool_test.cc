#include "gateway/upstream/upstream_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

namespace gw {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Real loopback connections: the pool's liveness check looks at the socket.
class UpstreamPoolTest : public ::testing::Test {
 protected:
  UpstreamPoolTest() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  HostPort endpoint() const { return {"127.0.0.1", acceptor_.local_endpoint().port()}; }

  // A connected upstream connection; the server side is kept in peers_.
  UpstreamConnectionPtr Connect() {
    auto connection = std::make_unique<UpstreamConnection>(io_.get_executor(), &open_);
    connection->stream.socket().connect(acceptor_.local_endpoint());
    peers_.push_back(acceptor_.accept());
    return connection;
  }

  SingleWriterGauge open_;  // declared before the connections it counts
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> peers_;
};

TEST_F(UpstreamPoolTest, RecordsIpLiteralsAsAddressesAndNamesForResolution) {
  UpstreamPool pool({});
  UpstreamEndpoint& literal = pool.Use({"127.0.0.1", 8080});
  ASSERT_TRUE(literal.address);
  EXPECT_EQ(literal.address->port(), 8080);
  UpstreamEndpoint& name = pool.Use({"payment-svc", 80});
  EXPECT_FALSE(name.address);
  EXPECT_EQ(name.port_text, "80");
  EXPECT_EQ(&pool.Use({"127.0.0.1", 8080}), &literal);
  EXPECT_EQ(literal.in_use, 2u);
  EXPECT_EQ(pool.endpoint_count(), 2u);
}

TEST_F(UpstreamPoolTest, GivesBackTheMostRecentlyReleasedConnection) {
  UpstreamPool pool({});
  UpstreamEndpoint& record = pool.Use(endpoint());
  EXPECT_EQ(pool.Acquire(record, true), nullptr);
  auto first = Connect();
  auto second = Connect();
  UpstreamConnection* second_raw = second.get();
  pool.Release(record, std::move(first));
  pool.Release(record, std::move(second));
  EXPECT_EQ(pool.idle_count(), 2u);
  auto again = pool.Acquire(record, true);
  EXPECT_EQ(again.get(), second_raw);
  EXPECT_EQ(pool.idle_count(), 1u);
}

TEST_F(UpstreamPoolTest, CountsOpenConnectionsPooledOrNot) {
  {
    UpstreamPool pool({});
    UpstreamEndpoint& record = pool.Use(endpoint());
    auto in_flight = Connect();
    pool.Release(record, Connect());
    EXPECT_EQ(open_.Load(), 2);  // one in use, one idle in the pool
    in_flight.reset();
    EXPECT_EQ(open_.Load(), 1);
  }
  EXPECT_EQ(open_.Load(), 0);  // the pool closed the idle one
}

TEST_F(UpstreamPoolTest, SkipsConnectionsTheUpstreamClosed) {
  UpstreamPool pool({});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  peers_.back().close();  // the upstream closes its end while the connection is idle
  // The FIN reaches the pooled socket quickly on loopback; wait for it with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  UpstreamConnectionPtr got;
  while (std::chrono::steady_clock::now() < deadline) {
    got = pool.Acquire(record, false);  // checked whatever its idle time
    if (!got) break;
    pool.Release(record, std::move(got));
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(got, nullptr);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST_F(UpstreamPoolTest, SkipsConnectionsWithUnexpectedBytes) {
  UpstreamPool pool({});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  asio::write(peers_.back(), asio::buffer("HTTP/1.1 200 OK\r\n", 17));
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  UpstreamConnectionPtr got;
  while (std::chrono::steady_clock::now() < deadline) {
    got = pool.Acquire(record, false);  // checked whatever its idle time
    if (!got) break;
    pool.Release(record, std::move(got));
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(got, nullptr);
}

TEST_F(UpstreamPoolTest, CapsIdleConnectionsPerEndpoint) {
  UpstreamPool pool({.max_idle_per_endpoint = 2, .idle_timeout = 60s});
  UpstreamEndpoint& record = pool.Use(endpoint());
  for (int i = 0; i < 4; ++i) pool.Release(record, Connect());
  EXPECT_EQ(pool.idle_count(), 2u);
}

TEST_F(UpstreamPoolTest, ZeroIdleDisablesPooling) {
  UpstreamPool pool({.max_idle_per_endpoint = 0, .idle_timeout = 60s});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST_F(UpstreamPoolTest, SweepClosesIdleConnectionsAndForgetsUnusedEndpoints) {
  UpstreamPool pool({.max_idle_per_endpoint = 8, .idle_timeout = 1000ms});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  pool.Unuse(record);
  pool.Sweep(std::chrono::steady_clock::now());
  EXPECT_EQ(pool.idle_count(), 1u);  // not idle long enough yet
  pool.Sweep(std::chrono::steady_clock::now() + 2s);
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.endpoint_count(), 0u);
}

TEST_F(UpstreamPoolTest, SweepKeepsEndpointsInUse) {
  UpstreamPool pool({.max_idle_per_endpoint = 8, .idle_timeout = 1000ms});
  pool.Use(endpoint());
  pool.Sweep(std::chrono::steady_clock::now() + 2s);
  EXPECT_EQ(pool.endpoint_count(), 1u);
}

TEST_F(UpstreamPoolTest, AcquireSkipsConnectionsIdleTooLong) {
  UpstreamPool pool({.max_idle_per_endpoint = 8, .idle_timeout = 1000ms});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  record.idle.back()->idle_since -= 2s;
  EXPECT_EQ(pool.Acquire(record, true), nullptr);
}

TEST_F(UpstreamPoolTest, IdempotentRequestsTakeRecentConnectionsUnchecked) {
  UpstreamPool pool({});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  asio::write(peers_.back(), asio::buffer("HTTP/1.1 200 OK\r\n", 17));
  // Idle for less than kUncheckedReuseMaxIdle: handed out as is (a retry covers a stale one).
  UpstreamConnectionPtr got = pool.Acquire(record, true);
  ASSERT_NE(got, nullptr);
  pool.Release(record, std::move(got));
  // Idle longer: checked, and the unexpected bytes show.
  record.idle.back()->idle_since -= kUncheckedReuseMaxIdle;
  EXPECT_EQ(pool.Acquire(record, true), nullptr);
}

TEST(ChooseIdleReuse, NonIdempotentRequestsOnlyTakeRecentlyIdleConnections) {
  const auto timeout = 60000ms;
  EXPECT_EQ(ChooseIdleReuse(0ms, false, timeout), IdleReuse::kTry);
  EXPECT_EQ(ChooseIdleReuse(kNonIdempotentMaxIdle - 1ms, false, timeout), IdleReuse::kTry);
  EXPECT_EQ(ChooseIdleReuse(kNonIdempotentMaxIdle, false, timeout), IdleReuse::kKeep);
  EXPECT_EQ(ChooseIdleReuse(30s, false, timeout), IdleReuse::kKeep);
  // Idempotent requests (retried once on a fresh connection) take any connection in time,
  // unchecked while it was idle only briefly.
  EXPECT_EQ(ChooseIdleReuse(0ms, true, timeout), IdleReuse::kUse);
  EXPECT_EQ(ChooseIdleReuse(kUncheckedReuseMaxIdle - 1ms, true, timeout), IdleReuse::kUse);
  EXPECT_EQ(ChooseIdleReuse(kUncheckedReuseMaxIdle, true, timeout), IdleReuse::kTry);
  EXPECT_EQ(ChooseIdleReuse(kNonIdempotentMaxIdle, true, timeout), IdleReuse::kTry);
  EXPECT_EQ(ChooseIdleReuse(59s, true, timeout), IdleReuse::kTry);
  // Beyond the idle timeout nobody may use it.
  EXPECT_EQ(ChooseIdleReuse(timeout, true, timeout), IdleReuse::kDrop);
  EXPECT_EQ(ChooseIdleReuse(timeout, false, timeout), IdleReuse::kDrop);
  EXPECT_EQ(ChooseIdleReuse(1500ms, false, 1000ms), IdleReuse::kDrop);
}

TEST_F(UpstreamPoolTest, NonIdempotentRequestsGetAFreshConnectionAfterTheBound) {
  UpstreamPool pool({.max_idle_per_endpoint = 8, .idle_timeout = 60s});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  UpstreamConnection* pooled = record.idle.back().get();
  pooled->idle_since -= kNonIdempotentMaxIdle + 100ms;
  // A POST would open a new connection; the idle one stays for the next GET.
  EXPECT_EQ(pool.Acquire(record, false), nullptr);
  EXPECT_EQ(pool.idle_count(), 1u);
  EXPECT_EQ(pool.Acquire(record, true).get(), pooled);
}

TEST_F(UpstreamPoolTest, NonIdempotentRequestsTakeTheNewestRecentConnection) {
  UpstreamPool pool({.max_idle_per_endpoint = 8, .idle_timeout = 60s});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  record.idle.back()->idle_since -= 10s;
  pool.Release(record, Connect());
  UpstreamConnection* recent = record.idle.back().get();
  EXPECT_EQ(pool.Acquire(record, false).get(), recent);
  EXPECT_EQ(pool.Acquire(record, false), nullptr);  // only the old one is left
  EXPECT_EQ(pool.idle_count(), 1u);
}

TEST_F(UpstreamPoolTest, ClosedPoolKeepsNothing) {
  UpstreamPool pool({});
  UpstreamEndpoint& record = pool.Use(endpoint());
  pool.Release(record, Connect());
  pool.Close();
  EXPECT_EQ(pool.idle_count(), 0u);
  pool.Release(record, Connect());
  EXPECT_EQ(pool.idle_count(), 0u);
}

}  // namespace
}  // namespace gw
