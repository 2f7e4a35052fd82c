// UpstreamPool: one worker's idle keep-alive connections to upstream endpoints.
//
// Each worker owns one pool and uses it on its own thread only (no lock). A connection is
// checked out for one request/response exchange and given back only when the exchange ended
// cleanly and both sides allow keep-alive; the pool caps idle connections per endpoint and
// closes those idle longer than the idle timeout (Sweep). Checking out skips connections the
// upstream has closed meanwhile, found with a non-blocking peek at the socket (not for an
// idempotent request on a connection idle less than kUncheckedReuseMaxIdle), and, for a
// request that is never resent (non-idempotent), connections idle for kNonIdempotentMaxIdle or
// longer: an upstream closing an idle connection as the request arrives would lose it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/validation.h"
#include "gateway/net/counters.h"
#include "gateway/net/timed_socket.h"
#include "gateway/upstream/endpoint_state.h"

namespace gw {

// The longest a pooled connection may have been idle to carry a non-idempotent request (POST,
// PATCH...), which the gateway never resends: well below common upstream keep-alive timeouts
// (5 s and more), so the upstream is not closing it while the request travels. Older idle
// connections stay pooled for idempotent requests, which are retried once if one was closed.
inline constexpr std::chrono::milliseconds kNonIdempotentMaxIdle{2000};

// The longest a pooled connection may have been idle to carry an idempotent request without
// first checking that the upstream has not closed it (a system call per request on a busy
// connection). An upstream that closes a keep-alive connection does so after its own idle
// timeout, or says so in its last response (then it was never pooled); one that went away
// just now fails the request's first read or write, and an idempotent request is then resent
// once on a fresh connection.
inline constexpr std::chrono::milliseconds kUncheckedReuseMaxIdle{100};

// What checking out does with an idle connection, by how long it has been idle.
enum class IdleReuse {
  kUse,   // use it as it is
  kTry,   // use it if it is still open
  kKeep,  // leave it pooled: too old for this request, still fine for an idempotent one
  kDrop,  // close it: idle for the idle timeout or longer
};

// The choice for a connection idle for `idle_for`, for a request that may be resent
// (`idempotent`) or not, under the pool's `idle_timeout`.
IdleReuse ChooseIdleReuse(std::chrono::steady_clock::duration idle_for, bool idempotent,
                          std::chrono::milliseconds idle_timeout);

// One connection to an upstream endpoint, with the read buffer that belongs to it.
struct UpstreamConnection {
  // `open_connections`, when given, counts this connection while it exists (/metrics).
  UpstreamConnection(const NetExecutor& executor, SingleWriterGauge* open_connections)
      : stream(executor), open_connections(open_connections) {
    if (open_connections) open_connections->Increment();
  }
  ~UpstreamConnection() {
    if (open_connections) open_connections->Decrement();
  }
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  TimedSocket stream;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;
  SingleWriterGauge* const open_connections;
  CircuitSlot circuit;  // the service's max_connections count, while the connection lives
};
using UpstreamConnectionPtr = std::unique_ptr<UpstreamConnection>;

// The pool's record of one endpoint (host, port). Its address stays valid while `in_use` > 0.
struct UpstreamEndpoint {
  HostPort endpoint;
  // Set when the host is an IP literal: no resolution needed.
  std::optional<boost::asio::ip::tcp::endpoint> address;
  std::string port_text;                    // for the resolver
  std::vector<UpstreamConnectionPtr> idle;  // oldest first
  size_t in_use = 0;                        // forwarders currently working with this endpoint
  std::chrono::steady_clock::time_point last_used;
};

class UpstreamPool {
 public:
  struct Limits {
    size_t max_idle_per_endpoint = 64;
    std::chrono::milliseconds idle_timeout{60000};
  };

  explicit UpstreamPool(Limits limits) : limits_(limits) {}
  ~UpstreamPool() { Close(); }

  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Start-up: the gauge that counts this worker's open upstream connections (null: none).
  void CountConnections(SingleWriterGauge* gauge) { open_connections_ = gauge; }
  SingleWriterGauge* open_connections() const { return open_connections_; }

  // The record of `endpoint`, created on first use, with in_use incremented; pair with Unuse.
  UpstreamEndpoint& Use(const HostPort& endpoint);
  void Unuse(UpstreamEndpoint& endpoint);

  // The most recently idle connection that is still open and, unless `idempotent`, idle for
  // less than kNonIdempotentMaxIdle; or null (then open a new one).
  UpstreamConnectionPtr Acquire(UpstreamEndpoint& endpoint, bool idempotent);

  // Gives a connection back after a clean exchange. Closed instead when the endpoint already
  // holds the maximum of idle connections, or the pool is closed.
  void Release(UpstreamEndpoint& endpoint, UpstreamConnectionPtr connection);

  // Closes connections idle longer than the idle timeout and forgets endpoints unused for that
  // long. Called periodically by the worker.
  void Sweep(std::chrono::steady_clock::time_point now);

  // Closes every idle connection; later Releases close theirs (shutdown).
  void Close();

  size_t idle_count() const;
  size_t endpoint_count() const { return endpoints_.size(); }

 private:
  struct Key {
    std::string host;
    uint16_t port;
  };
  struct KeyView {
    std::string_view host;
    uint16_t port;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(const KeyView& k) const {
      return std::hash<std::string_view>{}(k.host) ^ (static_cast<size_t>(k.port) << 1);
    }
    size_t operator()(const Key& k) const { return (*this)(KeyView{k.host, k.port}); }
  };
  struct Equal {
    using is_transparent = void;
    static KeyView View(const Key& k) { return {k.host, k.port}; }
    static KeyView View(const KeyView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a).host == View(b).host && View(a).port == View(b).port;
    }
  };

  Limits limits_;
  SingleWriterGauge* open_connections_ = nullptr;
  bool closed_ = false;
  std::unordered_map<Key, UpstreamEndpoint, Hash, Equal> endpoints_;
};

// True when `socket` shows no sign of having been closed by the peer: no EOF, no error and no
// unexpected bytes pending. Non-blocking.
bool LooksReusable(TcpSocket& socket);

}  // namespace gw
