// ReadDeadline: a timeout on a socket's pending read that leaves the socket open.
//
// Beast's tcp_stream closes its socket when an operation times out; a read that times out on
// the client side must still let the gateway answer 408. So client reads run without the
// stream's own expiry and under a ReadDeadline, which cancels the socket's pending operations
// instead (they complete with operation_aborted and expired() tells why). Owned by the object
// that reads (Session, BodyRelay); its timer handler holds only a weak reference to that owner.
// Header-only: small and used by the session and the relay alike.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace gw {

class ReadDeadline {
 public:
  explicit ReadDeadline(const boost::asio::any_io_executor& executor) : timer_(executor) {}

  // When `timeout` passes before Disarm, cancels `socket`'s pending operations and expired()
  // turns true. `owner` owns this object and `socket`.
  void Arm(std::weak_ptr<void> owner, boost::asio::ip::tcp::socket& socket,
           std::chrono::steady_clock::duration timeout) {
    expired_ = false;
    const uint64_t generation = ++generation_;
    timer_.expires_after(timeout);
    timer_.async_wait(
        [this, owner = std::move(owner), &socket, generation](const boost::system::error_code& ec) {
          if (ec) return;
          const auto alive = owner.lock();
          if (!alive || generation != generation_) return;  // disarmed meanwhile
          expired_ = true;
          boost::system::error_code ignored;
          socket.cancel(ignored);
        });
  }

  void Disarm() {
    ++generation_;
    timer_.cancel();
  }

  bool expired() const { return expired_; }

 private:
  boost::asio::steady_timer timer_;
  uint64_t generation_ = 0;
  bool expired_ = false;
};

}  // namespace gw
