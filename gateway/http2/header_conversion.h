// Header conversion between HTTP/2 header blocks and the Beast header types of the data path.
//
// RequestHeaderBuilder takes a request's fields one at a time, as nghttp2's on_header callback
// delivers them, and at END_HEADERS yields the Beast request header the rest of the gateway
// reads, or why the request cannot be served: every rule of RFC 9113 sections 8.2 and 8.3 that
// makes a request malformed is checked here (nghttp2 checks most of them too, but this is the
// gateway's own contract, and the fuzzer holds it), and the bytes of the list are bounded, which
// nghttp2 does not do for received headers. TrailerBuilder does the same for a request's
// trailer section. ResponseFields turns a Beast response header (or trailer fields) into the
// nghttp2_nv array nghttp2_submit_response takes. Pure: no I/O, no nghttp2 session.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/http_message.h"

namespace gw::http2 {

// Each field counts its name, its value and 32 bytes (RFC 9113 section 6.5.2's list size).
inline constexpr size_t kFieldOverhead = 32;

enum class RequestVerdict {
  kOk,
  // Breaks RFC 9113 section 8.2 or 8.3: section 8.1.1 makes it a stream error of type
  // PROTOCOL_ERROR, so the carrier answers RST_STREAM(PROTOCOL_ERROR), not a 400.
  kMalformed,
  // The list is over the byte limit: answered 431 once END_HEADERS arrived.
  kTooLarge,
  // A well-formed CONNECT (section 8.5): the gateway tunnels only over HTTP/1.1, so 501.
  kConnect,
};

class RequestHeaderBuilder {
 public:
  // `max_bytes`: the bound on the list as counted above (--max-header-size).
  explicit RequestHeaderBuilder(size_t max_bytes);

  // One field of the header block, in the order received.
  void Add(std::string_view name, std::string_view value);
  // At END_HEADERS: the verdict on the whole block; the header is complete only when kOk.
  [[nodiscard]] RequestVerdict Finish();

  // HTTP version 2.0; :path as the target, :authority as Host (a Host field is kept only when
  // there is no :authority), cookie crumbs joined into one Cookie field.
  const HttpRequestHeader& header() const { return header_; }
  HttpRequestHeader& header() { return header_; }
  const std::string& scheme() const { return scheme_; }

 private:
  void Fail(RequestVerdict verdict);

  size_t max_bytes_;
  size_t bytes_ = 0;
  RequestVerdict verdict_ = RequestVerdict::kOk;
  bool regular_seen_ = false;  // a regular field came: no pseudo-header may follow
  bool has_method_ = false, has_scheme_ = false, has_path_ = false, has_authority_ = false;
  std::string method_, scheme_, path_, authority_, cookie_;
  HttpRequestHeader header_;
};

// The trailer section of a request (HEADERS with END_STREAM after DATA): regular fields only.
class TrailerBuilder {
 public:
  explicit TrailerBuilder(size_t max_bytes) : max_bytes_(max_bytes) {}
  void Add(std::string_view name, std::string_view value);
  [[nodiscard]] RequestVerdict Finish() const { return verdict_; }
  const HttpFields& fields() const { return fields_; }

 private:
  size_t max_bytes_;
  size_t bytes_ = 0;
  RequestVerdict verdict_ = RequestVerdict::kOk;
  HttpFields fields_;
};

// An nghttp2_nv array over its own storage: names lower-cased, connection-specific fields
// (Connection, those it names, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade; TE
// unless it is "trailers") dropped, as RFC 9113 section 8.2.2 requires. nghttp2 copies the
// array on submit, so one ResponseFields can be a temporary.
class ResponseFields {
 public:
  // A response header: ":status" first, then its fields.
  explicit ResponseFields(const HttpResponseHeader& header);
  // Trailer fields: no pseudo-header.
  explicit ResponseFields(const HttpFields& fields);
  // The array points into storage_: not copyable.
  ResponseFields(const ResponseFields&) = delete;
  ResponseFields& operator=(const ResponseFields&) = delete;

  const nghttp2_nv* data() const { return nv_.data(); }
  size_t size() const { return nv_.size(); }
  // For tests and logs: the i-th name and value.
  std::string_view name(size_t i) const;
  std::string_view value(size_t i) const;

 private:
  void Build(std::string_view status, const HttpFields& fields);

  std::string storage_;         // every name and value, back to back
  std::vector<nghttp2_nv> nv_;  // pointing into storage_, set once it no longer grows
};

}  // namespace gw::http2
