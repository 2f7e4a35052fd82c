#include "gateway/http/request_id.h"

namespace gw {

void FormatRequestId(uint64_t high, uint64_t low, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.resize(32);
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHex[high & 0xf];
    out[static_cast<size_t>(i) + 16] = kHex[low & 0xf];
    high >>= 4;
    low >>= 4;
  }
}

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace gw
