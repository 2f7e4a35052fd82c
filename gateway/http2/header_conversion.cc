#include "gateway/http2/header_conversion.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <string>

namespace gw::http2 {
namespace {

namespace http = boost::beast::http;

bool IsTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 9113 section 8.2.1: a name is a non-empty token without uppercase letters.
bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!IsTokenChar(c) || (c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

// Section 8.2.1: no NUL, CR or LF, and no whitespace at either end.
bool IsValidValue(std::string_view value) {
  if (value.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) return false;
  if (value.empty()) return true;
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  return !is_space(value.front()) && !is_space(value.back());
}

// Section 8.2.2: fields that only make sense on an HTTP/1.1 connection.
bool IsConnectionSpecific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "proxy-connection" ||
         lower_name == "keep-alive" || lower_name == "transfer-encoding" || lower_name == "upgrade";
}

bool IsTrailersOnly(std::string_view te) { return boost::beast::iequals(ToBeast(te), "trailers"); }

// :path and :authority end up in an HTTP/1.1 request line and Host field: no byte that could
// split or end them there.
bool HasControlOrSpace(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return true;
  }
  return false;
}

// Section 8.3.1: an authority (from :authority or Host) without userinfo, and with nothing that
// would end it early in a request line or a URI.
bool IsValidAuthority(std::string_view s) {
  return !s.empty() && !HasControlOrSpace(s) && s.find_first_of("@/?#\\") == std::string_view::npos;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

RequestHeaderBuilder::RequestHeaderBuilder(size_t max_bytes) : max_bytes_(max_bytes) {
  header_.version(20);
}

void RequestHeaderBuilder::Fail(RequestVerdict verdict) {
  if (verdict_ == RequestVerdict::kOk) verdict_ = verdict;
}

void RequestHeaderBuilder::Add(std::string_view name, std::string_view value) {
  bytes_ += name.size() + value.size() + kFieldOverhead;
  if (bytes_ > max_bytes_) Fail(RequestVerdict::kTooLarge);
  // After a verdict nothing more is stored: a flood of fields costs no memory.
  if (verdict_ != RequestVerdict::kOk) return;
  if (!IsValidValue(value)) return Fail(RequestVerdict::kMalformed);

  if (!name.empty() && name.front() == ':') {
    if (regular_seen_) return Fail(RequestVerdict::kMalformed);  // section 8.3
    bool* seen = nullptr;
    std::string* slot = nullptr;
    if (name == ":method") {
      seen = &has_method_, slot = &method_;
    } else if (name == ":scheme") {
      seen = &has_scheme_, slot = &scheme_;
    } else if (name == ":path") {
      seen = &has_path_, slot = &path_;
    } else if (name == ":authority") {
      seen = &has_authority_, slot = &authority_;
    } else {
      return Fail(RequestVerdict::kMalformed);  // a response's or an unknown pseudo-header
    }
    if (*seen) return Fail(RequestVerdict::kMalformed);  // each at most once
    *seen = true;
    *slot = value;
    return;
  }

  regular_seen_ = true;
  if (!IsValidName(name) || IsConnectionSpecific(name)) return Fail(RequestVerdict::kMalformed);
  if (name == "te" && !IsTrailersOnly(value)) return Fail(RequestVerdict::kMalformed);
  if (name == "cookie") {
    // Section 8.2.3: a cookie may arrive in crumbs; HTTP/1.1 wants them in one field.
    if (!cookie_.empty()) cookie_ += "; ";
    cookie_ += value;
    return;
  }
  if (name == "host" && header_.count(http::field::host) != 0) {
    return Fail(RequestVerdict::kMalformed);
  }
  if (name == "content-length") {
    const auto it = header_.find(http::field::content_length);
    if (!IsDigits(value) || (it != header_.end() && ToStd(it->value()) != value)) {
      return Fail(RequestVerdict::kMalformed);
    }
    if (it != header_.end()) return;  // the same length twice says it once
  }
  header_.insert(ToBeast(name), ToBeast(value));
}

RequestVerdict RequestHeaderBuilder::Finish() {
  if (verdict_ != RequestVerdict::kOk) return verdict_;
  if (!has_method_ || method_.empty()) {
    Fail(RequestVerdict::kMalformed);
    return verdict_;
  }
  for (const char c : method_) {
    if (!IsTokenChar(c)) {
      Fail(RequestVerdict::kMalformed);
      return verdict_;
    }
  }
  if (has_authority_ && !IsValidAuthority(authority_)) {
    Fail(RequestVerdict::kMalformed);
    return verdict_;
  }
  if (method_ == "CONNECT") {
    // Section 8.5: :authority only.
    Fail(has_authority_ && !has_scheme_ && !has_path_ ? RequestVerdict::kConnect
                                                      : RequestVerdict::kMalformed);
    return verdict_;
  }
  // Section 8.3.1: :method, :scheme and a non-empty :path, "*" only for OPTIONS.
  const bool asterisk = path_ == "*" && method_ == "OPTIONS";
  if (!has_scheme_ || scheme_.empty() || !has_path_ || HasControlOrSpace(path_) ||
      (!asterisk && path_.front() != '/')) {
    Fail(RequestVerdict::kMalformed);
    return verdict_;
  }
  const auto host = header_.find(http::field::host);
  if (has_authority_) {
    // A Host that names another origin than :authority is malformed (section 8.3.1's SHOULD).
    if (host != header_.end() && !boost::beast::iequals(host->value(), ToBeast(authority_))) {
      Fail(RequestVerdict::kMalformed);
      return verdict_;
    }
    header_.set(http::field::host, ToBeast(authority_));
  } else if (host == header_.end() || !IsValidAuthority(ToStd(host->value()))) {
    // http and https have a mandatory authority: :authority or Host.
    Fail(RequestVerdict::kMalformed);
    return verdict_;
  }
  header_.method_string(ToBeast(method_));
  header_.target(ToBeast(path_));
  if (!cookie_.empty()) header_.set(http::field::cookie, ToBeast(cookie_));
  return verdict_;
}

void TrailerBuilder::Add(std::string_view name, std::string_view value) {
  bytes_ += name.size() + value.size() + kFieldOverhead;
  if (bytes_ > max_bytes_ && verdict_ == RequestVerdict::kOk) verdict_ = RequestVerdict::kTooLarge;
  if (verdict_ != RequestVerdict::kOk) return;
  // Section 8.1: a trailer section carries no pseudo-header; the field rules are the header's.
  if (!IsValidName(name) || !IsValidValue(value) || IsConnectionSpecific(name) ||
      (name == "te" && !IsTrailersOnly(value))) {
    verdict_ = RequestVerdict::kMalformed;
    return;
  }
  fields_.insert(ToBeast(name), ToBeast(value));
}

ResponseFields::ResponseFields(const HttpResponseHeader& header) {
  Build(std::to_string(header.result_int()), header);
}

ResponseFields::ResponseFields(const HttpFields& fields) { Build({}, fields); }

void ResponseFields::Build(std::string_view status, const HttpFields& fields) {
  // Fields the Connection field names are connection-specific too (RFC 9110 section 7.6.1).
  const auto connection = fields[http::field::connection];
  const auto dropped = [&](std::string_view lower, std::string_view value) {
    if (IsConnectionSpecific(lower) || (lower == "te" && !IsTrailersOnly(value))) return true;
    for (const auto& token : http::token_list(connection)) {
      if (boost::beast::iequals(token, ToBeast(lower))) return true;
    }
    return false;
  };
  // Sized once, so that the pointers nghttp2 gets stay put: one allocation for the names and
  // values, one for the array (a response header is on every stream's path).
  constexpr std::string_view kStatus = ":status";
  size_t bytes = status.empty() ? 0 : kStatus.size() + status.size();
  size_t count = status.empty() ? 0 : 1;
  for (const auto& field : fields) {
    bytes += field.name_string().size() + field.value().size();
    ++count;
  }
  storage_.resize(bytes);
  nv_.reserve(count);
  char* out = storage_.data();
  const auto append = [&](std::string_view name, std::string_view value) {
    char* const name_at = out;
    for (const char c : name) *out++ = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (dropped({name_at, name.size()}, value)) {
      out = name_at;
      return;
    }
    char* const value_at = out;
    out = std::copy(value.begin(), value.end(), out);
    nv_.push_back({reinterpret_cast<uint8_t*>(name_at), reinterpret_cast<uint8_t*>(value_at),
                   name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  };
  if (!status.empty()) append(kStatus, status);
  for (const auto& field : fields) append(ToStd(field.name_string()), ToStd(field.value()));
  storage_.resize(static_cast<size_t>(out - storage_.data()));  // shrinking keeps the buffer
}

std::string_view ResponseFields::name(size_t i) const {
  return {reinterpret_cast<const char*>(nv_[i].name), nv_[i].namelen};
}

std::string_view ResponseFields::value(size_t i) const {
  return {reinterpret_cast<const char*>(nv_[i].value), nv_[i].valuelen};
}

}  // namespace gw::http2
