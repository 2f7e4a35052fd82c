#include "gateway/proxy/request_target.h"

namespace gw {

std::optional<RequestTarget> SplitRequestTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  RequestTarget parts;
  const size_t question = target.find('?');
  if (question == std::string_view::npos) {
    parts.path = target;
    return parts;
  }
  parts.path = target.substr(0, question);
  parts.query = target.substr(question + 1);
  parts.has_query = true;
  return parts;
}

void BuildUpstreamTarget(std::string& out, std::string_view normalized_path,
                         const RequestTarget& original) {
  out.assign(normalized_path);
  if (original.has_query) {
    out.push_back('?');
    out.append(original.query);
  }
}

}  // namespace gw
