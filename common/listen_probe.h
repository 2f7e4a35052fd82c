// Start-up checks of a listen address, shared by the control plane and the gateway: is anybody
// listening there already? Checked before anything else happens (a database created, a gRPC
// server that would print its own multi-line error), so that a port in use is one line.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "common/validation.h"

namespace gw {

// The address to bind: an IP literal as is, a name resolved once (start-up may block). Throws
// std::runtime_error when a name has no address.
boost::asio::ip::tcp::endpoint ListenEndpoint(boost::asio::io_context& io, const HostPort& listen);

// Binds a probe socket to `endpoint` with SO_REUSEADDR but without SO_REUSEPORT, so it fails
// with address_in_use when anyone already listens there, including a SO_REUSEPORT group that a
// later bind with SO_REUSEPORT would silently join. On success sets endpoint's port to the one
// bound (port 0 picks one); the probe closes on return.
boost::system::error_code ProbeListen(boost::asio::io_context& io,
                                      boost::asio::ip::tcp::endpoint& endpoint);

// "address already in use", or the error's own message.
std::string DescribeListenError(const boost::system::error_code& ec);

// "" when `listen` is free to bind, else "cannot listen on HOST:PORT for WHAT: REASON".
std::string CheckListenAddress(const HostPort& listen, std::string_view what);

}  // namespace gw
