// TimedSocket: a TCP socket whose operations run under a deadline that costs almost nothing to
// move.
//
// The data path sets a timeout before nearly every read and write (header, body, upstream,
// idle keep-alive), and nearly all of them complete long before it. Beast's tcp_stream starts
// and cancels an Asio timer for each operation: a timer-queue insertion, a removal and one
// more handler run through the scheduler per operation. Here expires_after only stores the
// new deadline; one timer per socket stays pending at the earliest deadline that was set and,
// when it fires, either expires the socket's operations or waits again for the deadline that
// was moved meanwhile. Only a deadline earlier than the pending timer restarts it.
// When a deadline passes, the socket's pending operations are cancelled (the socket stays
// open, so a client can still be answered 408) and complete with beast::error::timeout;
// expired() stays true until the next expires_*. A model of Beast's AsyncReadStream and
// AsyncWriteStream, so Beast's HTTP operations take it as they take a tcp_stream.
// Owned by whoever owns the connection; used on its worker's thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "gateway/net/net.h"

namespace gw {

// The deadline of one TimedSocket, shared with its pending timer handler and operations.
struct TimedSocketState {
  using Clock = std::chrono::steady_clock;
  explicit TimedSocketState(const NetExecutor& executor) : timer(executor) {}
  SteadyTimer timer;
  TcpSocket* socket = nullptr;                            // null once the TimedSocket is gone
  Clock::time_point deadline = Clock::time_point::max();  // max: none
  Clock::time_point timer_at = Clock::time_point::max();  // the pending wait's expiry; max: none
  uint64_t generation = 0;                                // of the wait that counts
  bool close_on_expiry = false;
  bool expired = false;
};

class TimedSocket {
 public:
  using executor_type = NetExecutor;
  using Clock = std::chrono::steady_clock;

  explicit TimedSocket(const NetExecutor& executor);
  explicit TimedSocket(TcpSocket socket);
  ~TimedSocket();

  TimedSocket(const TimedSocket&) = delete;
  TimedSocket& operator=(const TimedSocket&) = delete;

  TcpSocket& socket() { return socket_; }
  executor_type get_executor() { return socket_.get_executor(); }

  // Operations pending or started from now on are cancelled at now + `timeout` (at `when`).
  void expires_after(Clock::duration timeout) { expires_at(Clock::now() + timeout); }
  void expires_at(Clock::time_point when);
  void expires_never();
  // The same, closing the socket when the deadline passes: for a connect, which would
  // otherwise go on to the next address of a resolved name.
  void connect_expires_after(Clock::duration timeout);

  // The last deadline set passed and cancelled the socket's operations.
  bool expired() const { return state_->expired; }
  // The error of an operation run on socket() directly (connect), as the deadline explains
  // it: beast::error::timeout when the deadline cancelled it.
  boost::system::error_code Explain(const boost::system::error_code& ec) const {
    if (ec == boost::asio::error::operation_aborted && state_->expired) {
      return boost::beast::error::timeout;
    }
    return ec;
  }

  void close();

  template <typename MutableBuffers, typename Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    socket_.async_read_some(
        buffers, Completion<std::decay_t<Handler>>{state_, std::forward<Handler>(handler)});
  }
  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    socket_.async_write_some(
        buffers, Completion<std::decay_t<Handler>>{state_, std::forward<Handler>(handler)});
  }

 private:
  using State = TimedSocketState;

  // Reports an operation cancelled by the deadline as a timeout. Holds the state: a socket
  // destroyed with an operation pending still completes it (operation_aborted) later.
  template <typename Handler>
  struct Completion {
    std::shared_ptr<State> state;
    Handler handler;
    void operator()(boost::system::error_code ec, size_t bytes) {
      if (ec == boost::asio::error::operation_aborted && state->expired) {
        ec = boost::beast::error::timeout;
      }
      handler(ec, bytes);
    }
  };

  static void StartTimer(const std::shared_ptr<State>& state, Clock::time_point when);
  static void OnTimer(const std::shared_ptr<State>& state, uint64_t generation,
                      const boost::system::error_code& ec);

  std::shared_ptr<State> state_;  // shared with the pending timer handler
  TcpSocket socket_;              // declared after: closed (operations cancelled) first
};

}  // namespace gw
