// What the gateway reads from a TLS ClientHello before OpenSSL answers it: the host name a
// client asks for (SNI), which picks the certificate (certificate_table.h).
//
// Pure functions of the bytes, no OpenSSL: unit-tested and fuzzed (fuzz/sni_fuzzer.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw {

// The host name in the body of a server_name extension (RFC 6066 §3), as
// SSL_client_hello_get0_ext hands it over: a ServerNameList of exactly one entry of name_type 0
// (host_name), every length exact, no byte left over. The name is a DNS name (RFC 1123 labels
// of letters, digits and inner hyphens, at most 63 bytes each and 253 in all, no trailing dot,
// the last label not all digits so no IPv4 literal passes) and comes back lower-cased. Anything
// else, a NUL or an IP literal included, is nothing: the client is served as one without SNI.
std::optional<std::string> ParseSniExtension(std::string_view extension);

}  // namespace gw
