// Fuzzes the request-target, Host and path decisions directly, without the HTTP parser in front:
// the input is taken as a request-target, as a Host value and as a path. Reaches escapes, dot
// segments and authorities the parser would make rare. The properties are in request_checks.h.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/path.h"
#include "fuzz/request_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  gw::fuzz::CheckHost(input);
  gw::fuzz::CheckRequestTarget(input);
  const auto normalized = gw::NormalizePath(input);
  gw::fuzz::CheckNormalizedPath(input, normalized);
  if (normalized) gw::fuzz::CheckRouteMatch(*normalized);
  return 0;
}
