#include "gateway/upstream/upstream_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace gw {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

bool LooksReusable(TcpSocket& socket) {
  if (!socket.is_open()) return false;
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return false;  // 0: the upstream closed it; >0: bytes nobody asked for
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

IdleReuse ChooseIdleReuse(std::chrono::steady_clock::duration idle_for, bool idempotent,
                          std::chrono::milliseconds idle_timeout) {
  if (idle_for >= idle_timeout) return IdleReuse::kDrop;
  if (!idempotent) return idle_for >= kNonIdempotentMaxIdle ? IdleReuse::kKeep : IdleReuse::kTry;
  return idle_for < kUncheckedReuseMaxIdle ? IdleReuse::kUse : IdleReuse::kTry;
}

UpstreamEndpoint& UpstreamPool::Use(const HostPort& endpoint) {
  auto it = endpoints_.find(KeyView{endpoint.host, endpoint.port});
  if (it == endpoints_.end()) {
    UpstreamEndpoint record;
    record.endpoint = endpoint;
    record.port_text = std::to_string(endpoint.port);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(endpoint.host, ec);
    if (!ec) record.address = tcp::endpoint(address, endpoint.port);
    it = endpoints_.emplace(Key{endpoint.host, endpoint.port}, std::move(record)).first;
  }
  ++it->second.in_use;
  return it->second;
}

void UpstreamPool::Unuse(UpstreamEndpoint& endpoint) {
  --endpoint.in_use;
  endpoint.last_used = std::chrono::steady_clock::now();
}

UpstreamConnectionPtr UpstreamPool::Acquire(UpstreamEndpoint& endpoint, bool idempotent) {
  const auto now = std::chrono::steady_clock::now();
  // Newest first: when the newest is too old for this request, so are all the others.
  while (!endpoint.idle.empty()) {
    const auto idle_for = now - endpoint.idle.back()->idle_since;
    const IdleReuse choice = ChooseIdleReuse(idle_for, idempotent, limits_.idle_timeout);
    if (choice == IdleReuse::kKeep) return nullptr;
    UpstreamConnectionPtr connection = std::move(endpoint.idle.back());
    endpoint.idle.pop_back();
    if (choice == IdleReuse::kUse) return connection;
    if (choice == IdleReuse::kTry && LooksReusable(connection->stream.socket())) {
      return connection;
    }
    // Stale: dropped here, which closes it.
  }
  return nullptr;
}

void UpstreamPool::Release(UpstreamEndpoint& endpoint, UpstreamConnectionPtr connection) {
  if (closed_ || endpoint.idle.size() >= limits_.max_idle_per_endpoint) return;  // closes it
  connection->stream.expires_never();
  connection->idle_since = std::chrono::steady_clock::now();
  endpoint.idle.push_back(std::move(connection));
}

void UpstreamPool::Sweep(std::chrono::steady_clock::time_point now) {
  const auto oldest_allowed = now - limits_.idle_timeout;
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    auto& idle = it->second.idle;
    size_t expired = 0;
    while (expired < idle.size() && idle[expired]->idle_since < oldest_allowed) ++expired;
    idle.erase(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(expired));
    if (idle.empty() && it->second.in_use == 0 && it->second.last_used < oldest_allowed) {
      it = endpoints_.erase(it);
    } else {
      ++it;
    }
  }
}

void UpstreamPool::Close() {
  closed_ = true;
  for (auto& [key, endpoint] : endpoints_) endpoint.idle.clear();
}

size_t UpstreamPool::idle_count() const {
  size_t count = 0;
  for (const auto& [key, endpoint] : endpoints_) count += endpoint.idle.size();
  return count;
}

}  // namespace gw
