// AdminHttpServer: a small HTTP/1.1 server for operator pages (/healthz, /ready, /config,
// /metrics, the control plane's dashboard) of the control plane and the gateway. It runs on its
// own thread and io_context, apart from any data path, and answers each request by calling a
// handler. It owns its thread. Every answer carries Cache-Control: no-store and
// X-Content-Type-Options: nosniff; an answer to HEAD has the headers of the GET without its body.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/validation.h"

namespace gw {

// What a handler sees of a request. The views point into the request, valid during the call.
struct AdminRequest {
  std::string_view method;
  std::string_view path;           // the target without its query
  std::string_view query;          // what follows '?' ("" when none)
  std::string_view authorization;  // the Authorization header ("" when absent)
};

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further header fields (name, value), e.g. Content-Security-Policy or WWW-Authenticate.
  std::vector<std::pair<std::string, std::string>> headers = {};
};

class AdminHttpServer {
 public:
  // Called on the admin thread, one request at a time: it must not block for long (a slow
  // handler delays every other admin request, /healthz included).
  using Handler = std::function<AdminResponse(const AdminRequest& request)>;

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
