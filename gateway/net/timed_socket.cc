#include "gateway/net/timed_socket.h"

namespace gw {

TimedSocket::TimedSocket(const NetExecutor& executor)
    : state_(std::make_shared<State>(executor)), socket_(executor) {
  state_->socket = &socket_;
}

TimedSocket::TimedSocket(TcpSocket socket)
    : state_(std::make_shared<State>(socket.get_executor())), socket_(std::move(socket)) {
  state_->socket = &socket_;
}

TimedSocket::~TimedSocket() {
  state_->socket = nullptr;
  state_->deadline = Clock::time_point::max();
  boost::system::error_code ignored;
  state_->timer.cancel(ignored);
}

void TimedSocket::expires_at(Clock::time_point when) {
  State& state = *state_;
  state.deadline = when;
  state.expired = false;
  state.close_on_expiry = false;
  if (when < state.timer_at) StartTimer(state_, when);
}

void TimedSocket::connect_expires_after(Clock::duration timeout) {
  expires_after(timeout);
  state_->close_on_expiry = true;
}

void TimedSocket::expires_never() {
  state_->deadline = Clock::time_point::max();
  state_->expired = false;
}

void TimedSocket::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void TimedSocket::StartTimer(const std::shared_ptr<State>& state, Clock::time_point when) {
  const uint64_t generation = ++state->generation;  // a wait replaced here does nothing
  state->timer_at = when;
  state->timer.expires_at(when);
  state->timer.async_wait(
      [state, generation](const boost::system::error_code& ec) { OnTimer(state, generation, ec); });
}

void TimedSocket::OnTimer(const std::shared_ptr<State>& state, uint64_t generation,
                          const boost::system::error_code& ec) {
  if (generation != state->generation) return;  // replaced by an earlier deadline
  state->timer_at = Clock::time_point::max();
  if (ec || !state->socket || state->deadline == Clock::time_point::max()) return;
  const auto now = Clock::now();
  if (now < state->deadline) return StartTimer(state, state->deadline);  // moved meanwhile
  state->deadline = Clock::time_point::max();
  state->expired = true;
  boost::system::error_code ignored;
  if (state->close_on_expiry) {
    state->socket->close(ignored);
  } else {
    state->socket->cancel(ignored);
  }
}

}  // namespace gw
