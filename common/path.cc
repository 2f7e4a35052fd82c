#include "common/path.h"

namespace gw {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// pchar (RFC 3986 3.3) minus pct-encoded, plus '/'.
bool IsPathChar(char c) {
  if (IsUnreserved(c)) return true;
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
      return true;
    default:
      return false;
  }
}

bool Fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

// Appends one segment (without its leading '/') to `out`, applying dot-segment removal.
void PushSegment(std::string& out, std::string_view segment) {
  if (segment == ".") return;
  if (segment == "..") {
    const auto slash = out.rfind('/');
    out.resize(slash == std::string::npos ? 0 : slash);
    return;
  }
  out.push_back('/');
  out.append(segment);
}

}  // namespace

std::optional<std::string> NormalizePath(std::string_view path, std::string* error) {
  if (path.empty() || path.front() != '/') {
    Fail(error, "path must start with '/'");
    return std::nullopt;
  }
  // Pass 1: decode/canonicalize escapes and check characters, segment by segment.
  std::string out;
  out.reserve(path.size());
  std::string segment;
  bool trailing_slash = false;
  size_t i = 1;
  while (i <= path.size()) {
    segment.clear();
    for (; i < path.size() && path[i] != '/'; ++i) {
      const char c = path[i];
      if (c == '%') {
        const bool complete = i + 2 < path.size();
        const int hi = complete ? HexValue(path[i + 1]) : -1;
        const int lo = complete ? HexValue(path[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          Fail(error, "malformed percent-encoding in path");
          return std::nullopt;
        }
        const char decoded = static_cast<char>(hi * 16 + lo);
        if (IsUnreserved(decoded)) {
          segment.push_back(decoded);
        } else {
          static constexpr char kHex[] = "0123456789ABCDEF";
          segment.push_back('%');
          segment.push_back(kHex[hi]);
          segment.push_back(kHex[lo]);
        }
        i += 2;
        continue;
      }
      if (!IsPathChar(c)) {
        Fail(error, c == '\\' ? "backslash is not allowed in a path"
                              : "path holds a character that is not allowed in a URI path");
        return std::nullopt;
      }
      segment.push_back(c);
    }
    // `i` is at a '/' or at the end. Empty segments (from "//") are merged away.
    const bool at_end = i >= path.size();
    if (!segment.empty()) {
      PushSegment(out, segment);
      trailing_slash = !at_end || segment == "." || segment == "..";
    } else {
      trailing_slash = true;
    }
    if (at_end) break;
    ++i;  // skip '/'
  }
  if (out.empty()) return std::string("/");
  if (trailing_slash) out.push_back('/');
  return out;
}

bool PrefixCovers(std::string_view prefix, std::string_view path) {
  if (prefix == "/") return true;
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace gw
