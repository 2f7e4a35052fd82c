#include "gateway/http/trailers.h"

#include <algorithm>
#include <array>

#include "gateway/http/wire_format.h"

namespace gw {

bool IsForwardableTrailer(std::string_view name) {
  // RFC 9110 section 6.5.1: framing, routing, request modifiers, authentication, response
  // control and content handling fields do not belong in a trailer; nor do hop-by-hop fields.
  static constexpr std::array<std::string_view, 26> kNever = {"Authorization",
                                                              "Cache-Control",
                                                              "Connection",
                                                              "Content-Encoding",
                                                              "Content-Length",
                                                              "Content-Range",
                                                              "Content-Type",
                                                              "Cookie",
                                                              "Expect",
                                                              "Host",
                                                              "If-Match",
                                                              "If-Modified-Since",
                                                              "If-None-Match",
                                                              "If-Range",
                                                              "If-Unmodified-Since",
                                                              "Keep-Alive",
                                                              "Max-Forwards",
                                                              "Proxy-Authenticate",
                                                              "Proxy-Authorization",
                                                              "Proxy-Connection",
                                                              "Range",
                                                              "Set-Cookie",
                                                              "TE",
                                                              "Trailer",
                                                              "Transfer-Encoding",
                                                              "Upgrade"};
  // Nor a field that could pass for one the gateway sets: its own X-Consumer, or a name with
  // '_' that CGI-style servers read as one with '-' (whatever --underscore-headers says: a
  // trailer cannot be refused once the body is on its way).
  if (name.find('_') != std::string_view::npos ||
      boost::beast::iequals(ToBeast(name), ToBeast(std::string_view("X-Consumer"))))
    return false;
  return std::none_of(kNever.begin(), kNever.end(), [name](std::string_view never) {
    return boost::beast::iequals(ToBeast(name), ToBeast(never));
  });
}

void Trailers::OnChunkHeader(std::uint64_t size) {
  if (size != 0 || !fields_) return;
  // The last chunk: what the fields hold now is the header; what the parser adds next, trailers.
  last_chunk_ = true;
  header_fields_.clear();
  for (const auto& field : *fields_) header_fields_.push_back(&field);
}

void Trailers::Collect() {
  if (collected_ || !last_chunk_) return;
  collected_ = true;
  for (auto it = fields_->begin(); it != fields_->end();) {
    if (std::find(header_fields_.begin(), header_fields_.end(), &*it) != header_fields_.end()) {
      ++it;
      continue;
    }
    const std::string_view name = ToStd(it->name_string());
    if (IsForwardableTrailer(name)) {
      wire_.append(name);
      wire_.append(": ");
      wire_.append(ToStd(it->value()));
      wire_.append(kCrlf);
    }
    it = fields_->erase(it);
  }
}

void Trailers::Clear() {
  fields_ = nullptr;
  last_chunk_ = false;
  collected_ = false;
  header_fields_.clear();
  wire_.clear();
}

}  // namespace gw
