// Session: one client connection to the gateway's HTTP listener.
//
// Reads requests one at a time (HTTP/1.1 keep-alive, HTTP/1.0 honoured), routes each on the
// normalized path with the RouteTable loaded once for that request, rewrites headers, hands the
// request to its Forwarder and writes the upstream's response (or a small JSON error) back.
// A request whose end or whose Host cannot be trusted (a Transfer-Encoding other than "chunked"
// alone, an invalid Host) is answered 400 or 501 and the connection closed; a response written
// once the worker drains says Connection: close.
// Owned by its pending operations through shared_from_this(); created by a Worker's acceptor
// and run on that worker's thread only. Never throws.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/intrusive/list_hook.hpp>
#include <memory>
#include <optional>
#include <string>

#include "gateway/proxy/forwarder.h"
#include "gateway/proxy/http_message.h"
#include "gateway/proxy/proxy_error.h"
#include "gateway/router/route_table.h"

namespace gw {

class Worker;

// The worker keeps a list of its sessions (to close idle ones when draining); a session leaves
// it when destroyed.
using SessionListHook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class Session : public std::enable_shared_from_this<Session>,
                public ForwardSink,
                public SessionListHook {
 public:
  Session(Worker& worker, boost::asio::ip::tcp::socket socket);

  void Start();

  // Draining: closes the connection if it is waiting for a request that has not begun.
  void CloseIfIdle();

 private:
  void DoReadHeader();
  void OnReadHeader(const boost::system::error_code& ec);
  void DoReadBody();
  void OnReadBody(const boost::system::error_code& ec);
  void OnReadError(const boost::system::error_code& ec);
  void HandleRequest();
  void OnForwarded(ProxyError error) override;
  void ReplyError(ProxyError error, bool close, std::string_view path = {});
  void DoWrite(HttpResponse& response);
  void OnWrite(const boost::system::error_code& ec, bool keep_alive);
  void DoLingeringClose();

  Worker& worker_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Forwarder forwarder_;
  HttpResponse error_response_;

  // The request in flight.
  RouteTableConstSharedPtr table_;  // taken once per request; kept until its response is ready
  std::string client_ip_;
  std::string request_id_;
  std::string upstream_target_;
  std::string scratch_;
  unsigned client_version_ = 11;
  bool client_keep_alive_ = true;  // the client's wish; draining overrides it per response
  bool head_ = false;
  bool awaiting_request_ = false;  // reading the header of the next request
};

}  // namespace gw
