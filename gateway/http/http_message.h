// The HTTP message types of the data path, in one place.
//
// Bodies are never held whole: a message's body is a buffer_body, a window onto a fixed relay
// buffer that BodyRelay fills from one connection and drains into the other, so memory per
// request stays constant whatever the body size. Also small adapters between Beast's
// string_view and std::string_view.
#pragma once

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <string_view>

namespace gw {

using HttpFields = boost::beast::http::fields;
using HttpRequestHeader = boost::beast::http::request_header<>;
using HttpResponseHeader = boost::beast::http::response_header<>;
using HttpRequest = boost::beast::http::request<boost::beast::http::buffer_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::buffer_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

inline std::string_view ToStd(boost::beast::string_view s) { return {s.data(), s.size()}; }
inline boost::beast::string_view ToBeast(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace gw
