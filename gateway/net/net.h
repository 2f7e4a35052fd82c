// The I/O object types of the data path, in one place (TimedSocket adds deadlines).
//
// Every socket, stream, timer and resolver of a worker is bound to that worker's io_context by
// its concrete executor type, io_context::executor_type, rather than the type-erased
// any_io_executor Asio uses by default: each asynchronous operation copies and destroys its
// executor a few times, and through the type-erased wrapper that cost showed in the profile of
// every request. Sockets accepted on a worker's io_context already have this type.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace gw {

using NetExecutor = boost::asio::io_context::executor_type;
using TcpSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, NetExecutor>;
using SteadyTimer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, NetExecutor>;
using TcpResolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, NetExecutor>;

}  // namespace gw
