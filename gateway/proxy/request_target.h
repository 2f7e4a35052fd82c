// RequestTarget: the parts of a client's request-target that routing and forwarding use.
//
// The gateway routes on the normalized path and forwards that path with the client's query
// string untouched. Pure functions of the data path (gateway/proxy).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw {

struct RequestTarget {
  std::string_view path;   // before '?', not yet normalized
  std::string_view query;  // after '?', empty when there is none
  bool has_query = false;  // a '?' was present (even with an empty query)
};

// Splits an origin-form request-target ("/path?query"). nullopt for any other form
// (absolute-form, authority-form, "*"), which this gateway refuses with 400.
std::optional<RequestTarget> SplitRequestTarget(std::string_view target);

// The request-target sent upstream: `normalized_path` plus the original query, written into
// `out` (its capacity is reused).
void BuildUpstreamTarget(std::string& out, std::string_view normalized_path,
                         const RequestTarget& original);

}  // namespace gw
