#include "gateway/http/wire_format.h"

#include <boost/beast/http/status.hpp>

namespace gw {

namespace http = boost::beast::http;

namespace {

void AppendFields(const HttpFields& fields, std::string& out) {
  for (const auto& field : fields) {
    out.append(ToStd(field.name_string()));
    out.append(": ");
    out.append(ToStd(field.value()));
    out.append(kCrlf);
  }
  out.append(kCrlf);
}

bool IsPrivateStatus(unsigned status) { return status == 444 || status == 499 || status == 599; }

std::string_view VersionText(unsigned version) { return version >= 11 ? "HTTP/1.1" : "HTTP/1.0"; }

}  // namespace

void AppendRequestHead(const HttpRequestHeader& request, std::string& out) {
  out.append(ToStd(request.method_string()));
  out.push_back(' ');
  out.append(ToStd(request.target()));
  out.push_back(' ');
  out.append(VersionText(request.version()));
  out.append(kCrlf);
  AppendFields(request, out);
}

void AppendResponseHead(const HttpResponseHeader& response, std::string& out) {
  out.append(VersionText(response.version()));
  const unsigned status = response.result_int();
  char digits[4] = {' ', static_cast<char>('0' + status / 100 % 10),
                    static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10)};
  out.append(digits, sizeof digits);
  out.push_back(' ');
  // Beast gives the standard reason when none was received, and a placeholder for a status it
  // does not know; its table also names three private codes (nginx's 444 and 499, 599) that
  // no standard defines. Then there is none: the reason phrase is optional.
  const std::string_view reason = ToStd(response.reason());
  const bool made_up = reason == ToStd(http::obsolete_reason(http::status::unknown)) ||
                       (IsPrivateStatus(status) &&
                        reason == ToStd(http::obsolete_reason(static_cast<http::status>(status))));
  if (!made_up) out.append(reason);
  out.append(kCrlf);
  AppendFields(response, out);
}

size_t FormatChunkSizeLine(uint64_t size, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[16];
  size_t n = 0;
  do {
    digits[n++] = kHex[size & 0xf];
    size >>= 4;
  } while (size != 0);
  size_t length = 0;
  while (n > 0) out[length++] = digits[--n];
  out[length++] = '\r';
  out[length++] = '\n';
  return length;
}

}  // namespace gw
