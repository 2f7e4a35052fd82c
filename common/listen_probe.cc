#include "common/listen_probe.h"

#include <boost/asio/error.hpp>
#include <stdexcept>

namespace gw {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

tcp::endpoint ListenEndpoint(asio::io_context& io, const HostPort& listen) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (!ec) return {address, listen.port};
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(listen.host, std::to_string(listen.port), ec);
  if (ec || results.empty())
    throw std::runtime_error("host " + listen.host + " has no address" +
                             (ec ? " (" + ec.message() + ")" : std::string()));
  return results.begin()->endpoint();
}

boost::system::error_code ProbeListen(asio::io_context& io, tcp::endpoint& endpoint) {
  tcp::acceptor probe(io);
  boost::system::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  if (ec) return ec;
  const tcp::endpoint bound = probe.local_endpoint(ec);
  if (!ec) endpoint.port(bound.port());
  return ec;
}

std::string DescribeListenError(const boost::system::error_code& ec) {
  return ec == asio::error::address_in_use ? std::string("address already in use") : ec.message();
}

std::string CheckListenAddress(const HostPort& listen, std::string_view what) {
  const std::string prefix =
      "cannot listen on " + FormatHostPort(listen.host, listen.port) + " for " + std::string(what);
  try {
    asio::io_context io;
    tcp::endpoint endpoint = ListenEndpoint(io, listen);
    if (const auto ec = ProbeListen(io, endpoint)) return prefix + ": " + DescribeListenError(ec);
  } catch (const std::exception& e) {
    return prefix + ": " + e.what();
  }
  return "";
}

}  // namespace gw
