// The declarative config document of `gatewayctl apply`, `diff` and `export`: a mapping with
// `services:`, `routes:`, `consumers:` and `certificates:` lists (any may be absent) whose items
// use the field names and units of `gatewayctl service|route|consumer|cert get -o json` (output.h),
// without `version`. YAML or JSON, told apart by content: JSON when the first non-blank character
// is
// `{`, read strictly (RFC 8259, no duplicate keys, nothing after the value); YAML otherwise
// (one document, no duplicate keys). Consumers add `api_keys` (keys in clear, which the control
// plane stores as digests) to `api_key_sha256` (digests, kept as given), and `jwt.secret` (in
// clear) to `jwt.secret_sha256` (the digest of the stored secret, which keeps it). Certificates
// (`certificates:`) have `name`, `cert_pem`, `default`, and `key_pem` (the key in clear) or
// `key_sha256` (the digest of the stored key, which keeps it); `dns_names` and `not_after`, which
// `cert get -o json` shows, are read from the chain and ignored in a document.
//
// Pure functions, owned by cli/. Errors are one line naming the place, e.g.
// "routes[2].timeot: unknown field (line 14)".
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/output.h"
#include "gateway.pb.h"

namespace gw::cli {

// Reads `text` into request->services, routes and consumers, in the document's order (so the
// control plane's "routes[3]: ..." names the same item). Returns "" or the one-line error.
std::string ParseConfigDocument(std::string_view text, gateway::v1::ApplyRequest* request);

enum class DocumentFormat { kYaml, kJson };

// The config as a document (`export`): every object in the config's order, versions left out,
// consumers and certificates as the admin API shows them (api_key_sha256, jwt.secret_sha256,
// key_sha256: never a secret or a key; certificates: only when there are any). Parsing it back
// gives the same objects, and applying it changes nothing.
std::string RenderConfigDocument(const gateway::v1::Config& config, DocumentFormat format);

// One object's fields as (path, value) pairs in the document's spelling, nested objects as
// "rate_limit.requests", lists as one flow value ("[a, b]"), for `diff` (config_diff.h).
using DocumentFields = std::vector<std::pair<std::string, std::string>>;
DocumentFields FieldsOf(const gateway::v1::Service& service);
DocumentFields FieldsOf(const gateway::v1::Route& route);
DocumentFields FieldsOf(const gateway::v1::Consumer& consumer);
DocumentFields FieldsOf(const gateway::v1::Certificate& certificate);

}  // namespace gw::cli
