#include "gateway/http2/header_conversion.h"

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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
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
  std::vector<std::string> nominated;
  for (const auto& token : http::token_list(fields[http::field::connection])) {
    nominated.push_back(Lower(ToStd(token)));
  }
  const auto dropped = [&](std::string_view lower) {
    if (IsConnectionSpecific(lower)) return true;
    for (const auto& n : nominated) {
      if (n == lower) return true;
    }
    return false;
  };

  // Offsets first: the pointers are taken once storage_ stops growing.
  struct Span {
    size_t name, name_size, value, value_size;
  };
  std::vector<Span> spans;
  const auto append = [&](std::string_view name, std::string_view value) {
    spans.push_back({storage_.size(), name.size(), storage_.size() + name.size(), value.size()});
    storage_ += name;
    storage_ += value;
  };
  if (!status.empty()) append(":status", status);
  for (const auto& field : fields) {
    const std::string name = Lower(ToStd(field.name_string()));
    const std::string_view value = ToStd(field.value());
    if (dropped(name) || (name == "te" && !IsTrailersOnly(value))) continue;
    append(name, value);
  }
  auto* base = reinterpret_cast<uint8_t*>(storage_.data());
  nv_.reserve(spans.size());
  for (const auto& s : spans) {
    nv_.push_back({base + s.name, base + s.value, s.name_size, s.value_size, NGHTTP2_NV_FLAG_NONE});
  }
}

std::string_view ResponseFields::name(size_t i) const {
  return {reinterpret_cast<const char*>(nv_[i].name), nv_[i].namelen};
}

std::string_view ResponseFields::value(size_t i) const {
  return {reinterpret_cast<const char*>(nv_[i].value), nv_[i].valuelen};
}

}  // namespace gw::http2
