// Trailers: the trailer section of one chunked message being relayed (RFC 9110 section 6.5).
//
// Beast's parser adds the trailer fields of a chunked message to its header fields, where a
// trailer must not end up (RFC 9110 section 6.5.1: merging needs a field's own permission).
// Watch notes which fields the header had when the last chunk begins; Collect then moves the
// fields added after it out of the message, keeping in wire form those a trailer may carry.
// Fields that frame, route or authenticate a message, or control hop-by-hop behaviour, are
// dropped (the list in trailers.cc). The relay writes them after the last chunk when it sends
// the body chunked, and drops them when it does not. One per BodyRelay, reused per message.
#pragma once

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/http_message.h"

namespace gw {

class Trailers {
 public:
  Trailers() = default;
  Trailers(const Trailers&) = delete;
  Trailers& operator=(const Trailers&) = delete;

  // Before `parser` reads a chunked body: forgets the previous message and watches for the
  // last chunk. `parser` must outlive the watch (the next Watch or Clear).
  template <bool isRequest>
  void Watch(boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>& parser) {
    Clear();
    fields_ = &parser.get();
    parser.on_chunk_header(on_chunk_header_);
  }

  // After the whole body was parsed: moves the trailer fields out of the watched message's
  // fields. Idempotent; nothing when no chunked body was watched.
  void Collect();

  // The forwardable trailer fields, each "Name: value\r\n".
  std::string_view wire() const { return wire_; }
  bool empty() const { return wire_.empty(); }

  void Clear();

 private:
  using Callback =
      std::function<void(std::uint64_t, boost::beast::string_view, boost::beast::error_code&)>;

  void OnChunkHeader(std::uint64_t size);

  HttpFields* fields_ = nullptr;
  bool last_chunk_ = false;
  bool collected_ = false;
  std::vector<const void*> header_fields_;  // the header's field elements at the last chunk
  std::string wire_;
  Callback on_chunk_header_ = [this](std::uint64_t size, boost::beast::string_view,
                                     boost::beast::error_code&) { OnChunkHeader(size); };
};

// Whether a field may be forwarded as a trailer: not one RFC 9110 section 6.5.1 keeps out of
// trailers, nor X-Consumer, nor a name with '_'.
bool IsForwardableTrailer(std::string_view name);

}  // namespace gw
