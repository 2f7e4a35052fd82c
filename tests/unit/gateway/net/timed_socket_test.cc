#include "gateway/net/timed_socket.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace gw {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Acceptor = asio::basic_socket_acceptor<tcp, NetExecutor>;

// Deadlines are short, but the bounds around them are for a loaded 2-core machine: a deadline
// never fires early (tight lower bound), and fires "soon" after (loose upper bound).
constexpr milliseconds kShort{50};
constexpr milliseconds kLoose{5000};

// What one operation's completion reported.
struct Outcome {
  int calls = 0;
  boost::system::error_code ec;
  size_t bytes = 0;
  Clock::time_point at;
  bool done() const { return calls > 0; }
};

auto Record(Outcome& outcome) {
  return [&outcome](boost::system::error_code ec, size_t bytes) {
    ++outcome.calls;
    outcome.ec = ec;
    outcome.bytes = bytes;
    outcome.at = Clock::now();
  };
}

// A TimedSocket connected on loopback to a plain socket (the peer), both on io_, which the
// test runs itself.
class TimedSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Acceptor acceptor(io_.get_executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    peer_.connect(acceptor.local_endpoint());
    timed_ = std::make_unique<TimedSocket>(acceptor.accept());
  }

  void StartRead(TimedSocket& socket, Outcome& outcome) {
    socket.async_read_some(asio::buffer(read_buffer_), Record(outcome));
  }

  // Runs io_ until `done` or `limit` passed; returns done().
  bool RunUntil(const std::function<bool()>& done, milliseconds limit = milliseconds(10000)) {
    const auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
      io_.restart();
      if (io_.run_one_until(deadline) == 0 && io_.stopped() && !done()) {
        return false;  // no work left: nothing more will happen
      }
    }
    return done();
  }

  // Runs io_ for `duration` (handlers due meanwhile run).
  void RunFor(milliseconds duration) {
    const auto until = Clock::now() + duration;
    while (Clock::now() < until) {
      io_.restart();
      if (io_.run_until(until) == 0 && io_.stopped()) {
        // Nothing pending: wait out the rest without spinning.
        std::this_thread::sleep_until(until);
      }
    }
  }

  void PeerWrite(const std::string& data) { asio::write(peer_, asio::buffer(data)); }

  std::string PeerRead(size_t n) {
    std::string data(n, '\0');
    asio::read(peer_, asio::buffer(data));
    return data;
  }

  asio::io_context io_{1};
  TcpSocket peer_{io_.get_executor()};
  std::unique_ptr<TimedSocket> timed_;
  std::array<char, 64> read_buffer_{};
};

TEST_F(TimedSocketTest, AReadTimesOutAndTheSocketStaysOpen) {
  const auto start = Clock::now();
  timed_->expires_after(kShort);
  Outcome read;
  StartRead(*timed_, read);
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.calls, 1);
  EXPECT_EQ(read.ec, beast::error::timeout) << read.ec.message();
  EXPECT_GE(read.at - start, kShort);
  EXPECT_LT(read.at - start, kLoose);
  EXPECT_TRUE(timed_->expired());
  EXPECT_TRUE(timed_->socket().is_open());

  // A 408 can still be written, and the peer gets it.
  timed_->expires_after(kLoose);
  EXPECT_FALSE(timed_->expired());
  Outcome write;
  asio::async_write(*timed_, asio::buffer(std::string_view("HTTP/1.1 408")), Record(write));
  ASSERT_TRUE(RunUntil([&] { return write.done(); }));
  EXPECT_FALSE(write.ec) << write.ec.message();
  EXPECT_EQ(write.bytes, 12u);
  EXPECT_EQ(PeerRead(12), "HTTP/1.1 408");

  // And reads work again.
  Outcome again;
  StartRead(*timed_, again);
  PeerWrite("ping");
  ASSERT_TRUE(RunUntil([&] { return again.done(); }));
  EXPECT_FALSE(again.ec) << again.ec.message();
  EXPECT_EQ(std::string(read_buffer_.data(), again.bytes), "ping");
  EXPECT_FALSE(timed_->expired());
}

TEST_F(TimedSocketTest, ADeadlineMovedLaterBeforeItFiresKeepsTheReadPendingUntilTheNewOne) {
  timed_->expires_after(kShort);
  Outcome read;
  StartRead(*timed_, read);
  // Before the first deadline passes, move it 400 ms later: the timer pending at the first
  // deadline must wait again rather than expire the read.
  Clock::time_point moved_to;
  SteadyTimer mover(io_.get_executor());
  mover.expires_after(milliseconds(20));
  mover.async_wait([&](boost::system::error_code ec) {
    ASSERT_FALSE(ec);
    EXPECT_FALSE(read.done());
    moved_to = Clock::now() + milliseconds(400);
    timed_->expires_at(moved_to);
  });
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  ASSERT_NE(moved_to, Clock::time_point{}) << "the read ended before the deadline was moved";
  EXPECT_EQ(read.ec, beast::error::timeout) << read.ec.message();
  EXPECT_GE(read.at, moved_to);
  EXPECT_LT(read.at - moved_to, kLoose);
  EXPECT_TRUE(timed_->expired());
}

TEST_F(TimedSocketTest, ADeadlineMovedLaterAtOnceIsHonoured) {
  const auto start = Clock::now();
  timed_->expires_after(kShort);
  timed_->expires_after(milliseconds(300));  // the timer stays armed for 50 ms, then re-arms
  Outcome read;
  StartRead(*timed_, read);
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.ec, beast::error::timeout) << read.ec.message();
  EXPECT_GE(read.at - start, milliseconds(300));
  EXPECT_LT(read.at - start, kLoose);
}

TEST_F(TimedSocketTest, ADeadlineMovedEarlierFiresEarlier) {
  const auto start = Clock::now();
  timed_->expires_after(std::chrono::seconds(60));
  Outcome read;
  StartRead(*timed_, read);
  RunFor(milliseconds(30));
  EXPECT_FALSE(read.done());
  const auto moved = Clock::now();
  timed_->expires_after(milliseconds(100));
  ASSERT_TRUE(RunUntil([&] { return read.done(); }, milliseconds(30000)));
  EXPECT_EQ(read.ec, beast::error::timeout) << read.ec.message();
  EXPECT_GE(read.at - moved, milliseconds(100));
  EXPECT_LT(read.at - start, kLoose);  // far sooner than the first deadline
}

TEST_F(TimedSocketTest, ExpiresNeverLeavesTheReadPending) {
  timed_->expires_after(kShort);
  Outcome read;
  StartRead(*timed_, read);
  timed_->expires_never();
  RunFor(milliseconds(400));  // well past the deadline that was withdrawn
  EXPECT_FALSE(read.done());
  EXPECT_FALSE(timed_->expired());
  // Ended by hand: an abort, not a timeout.
  timed_->socket().cancel();
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.calls, 1);
  EXPECT_EQ(read.ec, asio::error::operation_aborted) << read.ec.message();
  EXPECT_FALSE(timed_->expired());

  // A deadline set afterwards works again.
  const auto start = Clock::now();
  timed_->expires_after(kShort);
  Outcome next;
  StartRead(*timed_, next);
  ASSERT_TRUE(RunUntil([&] { return next.done(); }));
  EXPECT_EQ(next.ec, beast::error::timeout) << next.ec.message();
  EXPECT_GE(next.at - start, kShort);
}

TEST_F(TimedSocketTest, ExpiresNeverThenALaterDeadlineBeforeTheOldTimerFires) {
  const auto start = Clock::now();
  timed_->expires_after(kShort);
  timed_->expires_never();
  timed_->expires_after(milliseconds(250));  // the 50 ms wait is still pending: it re-arms
  Outcome read;
  StartRead(*timed_, read);
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.ec, beast::error::timeout) << read.ec.message();
  EXPECT_GE(read.at - start, milliseconds(250));
  EXPECT_LT(read.at - start, kLoose);
}

TEST_F(TimedSocketTest, AnOperationCompletingInTimeIsNotAffected) {
  timed_->expires_after(milliseconds(200));
  Outcome read;
  StartRead(*timed_, read);
  PeerWrite("hello");
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_FALSE(read.ec) << read.ec.message();
  EXPECT_EQ(std::string(read_buffer_.data(), read.bytes), "hello");
  EXPECT_FALSE(timed_->expired());

  // The session withdraws the deadline after each operation; the timer still pending for it
  // must then not expire anything when it fires.
  timed_->expires_never();
  RunFor(milliseconds(400));
  EXPECT_FALSE(timed_->expired());
  timed_->expires_after(kLoose);
  Outcome next;
  StartRead(*timed_, next);
  PeerWrite("world");
  ASSERT_TRUE(RunUntil([&] { return next.done(); }));
  EXPECT_FALSE(next.ec) << next.ec.message();
  EXPECT_EQ(std::string(read_buffer_.data(), next.bytes), "world");

  // Writes too.
  Outcome write;
  timed_->async_write_some(asio::buffer(std::string_view("abc")), Record(write));
  ASSERT_TRUE(RunUntil([&] { return write.done(); }));
  EXPECT_FALSE(write.ec) << write.ec.message();
  EXPECT_EQ(PeerRead(write.bytes), std::string("abc").substr(0, write.bytes));
  EXPECT_FALSE(timed_->expired());
}

TEST_F(TimedSocketTest, BeastReadsTimeOutWithBeastsError) {
  // A header begun and never finished: what the Session answers 408.
  PeerWrite("GET / HTTP/1.1\r\nHost: x\r\n");
  beast::flat_buffer buffer;
  beast::http::request_parser<beast::http::empty_body> parser;
  const auto start = Clock::now();
  timed_->expires_after(kShort);
  Outcome read;
  beast::http::async_read_header(*timed_, buffer, parser, Record(read));
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.ec, beast::error::timeout) << read.ec.message();
  EXPECT_GE(read.at - start, kShort);
  EXPECT_TRUE(parser.got_some());
  EXPECT_TRUE(timed_->socket().is_open());
}

TEST_F(TimedSocketTest, DestroyedWithAPendingOperation) {
  timed_->expires_after(milliseconds(100));
  Outcome read;
  StartRead(*timed_, read);
  timed_.reset();  // closes the socket: the read completes aborted, later
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.calls, 1);
  EXPECT_EQ(read.ec, asio::error::operation_aborted) << read.ec.message();
  RunFor(milliseconds(300));  // past the deadline of the socket that is gone
  EXPECT_EQ(read.calls, 1);
}

TEST_F(TimedSocketTest, DestroyedWhileItsTimerWaitsForAMovedDeadline) {
  timed_->expires_after(kShort);
  timed_->expires_after(milliseconds(150));  // pending at 50 ms, re-arms for 150 ms
  Outcome read;
  StartRead(*timed_, read);
  SteadyTimer destroyer(io_.get_executor());
  destroyer.expires_after(milliseconds(80));  // after the first wait re-armed
  destroyer.async_wait([&](boost::system::error_code) { timed_.reset(); });
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.ec, asio::error::operation_aborted) << read.ec.message();
  RunFor(milliseconds(300));
  EXPECT_EQ(read.calls, 1);
}

TEST_F(TimedSocketTest, DestroyedByTheHandlerOfItsOwnTimedOutOperation) {
  timed_->expires_after(kShort);
  Outcome read;
  timed_->async_read_some(asio::buffer(read_buffer_),
                          [&](boost::system::error_code ec, size_t bytes) {
                            Record(read)(ec, bytes);
                            timed_.reset();  // as a Session dropping its last reference
                          });
  ASSERT_TRUE(RunUntil([&] { return read.done(); }));
  EXPECT_EQ(read.ec, beast::error::timeout) << read.ec.message();
  EXPECT_EQ(timed_, nullptr);
  RunFor(milliseconds(100));
  EXPECT_EQ(read.calls, 1);
}

}  // namespace
}  // namespace gw
