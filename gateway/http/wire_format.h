// The bytes the gateway writes on a connection: message heads and the chunked framing of a
// relayed body (RFC 9112 sections 3, 4 and 7.1).
//
// Heads are written by the gateway itself into one contiguous buffer: one piece of memory per
// write, where Beast's serializer hands the kernel a buffer per header line and walks a
// concatenated buffer sequence to do it. What goes in was validated on the way in (Beast's
// parser: field names are tokens, values free of CR, LF and NUL) or built by the gateway.
// Pure functions, tested and fuzzed without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/http/http_message.h"

namespace gw {

inline constexpr std::string_view kCrlf = "\r\n";
// The last chunk before the trailer section (which ends with kCrlf).
inline constexpr std::string_view kLastChunk = "0\r\n";

// Appends "METHOD target HTTP/1.x", the header fields and the empty line.
void AppendRequestHead(const HttpRequestHeader& request, std::string& out);

// Appends "HTTP/1.x status reason", the header fields and the empty line. The reason is the
// one received, else the standard one for a status a standard defines, else none.
void AppendResponseHead(const HttpResponseHeader& response, std::string& out);

// The chunk-size line ("1f40\r\n") of a chunk of `size` bytes, written into `out` (room for
// kMaxChunkSizeLine bytes); returns its length.
inline constexpr size_t kMaxChunkSizeLine = 18;  // 16 hex digits and CRLF
size_t FormatChunkSizeLine(uint64_t size, char* out);

}  // namespace gw
