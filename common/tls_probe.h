// Why a connection to the control plane fails at the TLS layer, in words a person can act on.
// gRPC reports a failed handshake as "connection closed" or "handshake failed" at best; when a
// call could not connect, gatewayctl (and the gateway's log) asks this probe: one TCP
// connection and one TLS handshake made with OpenSSL, bounded by a deadline.
#pragma once

#include <chrono>
#include <string>

namespace gw {

struct TlsProbeRequest {
  std::string address;      // HOST:PORT as dialled
  bool tls = false;         // does the caller speak TLS?
  std::string ca_file;      // the CA the caller verifies with (tls only)
  std::string server_name;  // the name the caller verifies (default: the address's host)
  std::chrono::milliseconds timeout{2000};
  std::string ca_flag;           // the caller's flag that gives the CA ("--tls-ca")
  std::string server_name_flag;  // the caller's flag that names the server ("" for none)
};

// One sentence saying what to fix, e.g. "the control plane at X speaks TLS: give its CA
// certificate with --tls-ca FILE"; "" when the probe finds nothing wrong at the TLS layer (or
// cannot tell).
std::string DiagnoseTls(const TlsProbeRequest& request);

}  // namespace gw
