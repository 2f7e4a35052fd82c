// AdminHttpServer: a small HTTP/1.1 server for operator pages (/healthz, /ready, /config,
// /metrics) of the control plane and the gateway. It runs on its own thread and io_context, apart
// from any data path, and answers each request by calling a handler. It owns its thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/validation.h"

namespace gw {

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class AdminHttpServer {
 public:
  // Called on the admin thread; must not block for long. `path` excludes the query string.
  using Handler = std::function<AdminResponse(std::string_view method, std::string_view path)>;

  // Binds `listen` (an IP address or a host name; port 0 picks one) and starts serving. Throws
  // std::system_error, naming the address, when it cannot be resolved or bound: at start-up only.
  AdminHttpServer(const HostPort& listen, Handler handler);
  ~AdminHttpServer();  // stops and joins the thread

  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  std::string address() const;  // the bound address, "host:port"

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gw
