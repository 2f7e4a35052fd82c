// The HTTP message types of the data path, in one place.
//
// Bodies are buffered whole for now (string_body, bounded by --max-body-size and
// --max-response-body-size); when bodies become streamed these aliases and the forwarder are
// what changes. Also small adapters between Beast's string_view and std::string_view.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string_view>

namespace gw {

using HttpFields = boost::beast::http::fields;
using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

inline std::string_view ToStd(boost::beast::string_view s) { return {s.data(), s.size()}; }
inline boost::beast::string_view ToBeast(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace gw
