// How gatewayctl shows results: aligned tables for people (the default) or JSON for scripts
// (`-o json`). Pure functions from protobuf messages to text, owned by the cli/ command groups;
// every rendering ends with a newline (PrintWarnings writes to a stream).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "gateway.pb.h"

namespace gw::cli {

// kYaml: `export` only (its default); everything else prints tables or JSON.
enum class OutputFormat { kTable, kJson, kYaml };

template <typename T>
using ProtoList = google::protobuf::RepeatedPtrField<T>;

// Lays cells out in columns two spaces apart; rows[0] is the header. Cells are made one line
// and no line has trailing spaces; a cell longer than kMaxTableCellWidth is cut ("...") unless
// it is in the last column, so that one long path cannot push every row off the screen (JSON
// output stays whole).
inline constexpr size_t kMaxTableCellWidth = 60;
std::string AlignColumns(const std::vector<std::vector<std::string>>& rows);

// Text made safe for a one-line message or a table cell: line breaks and tabs become spaces,
// surrounding whitespace is trimmed.
std::string OneLine(std::string_view text);

// "2026-12-05T19:07:28Z": a *_unix_ms time in UTC (RFC 3339), as tables and JSON show times.
std::string UtcTime(int64_t unix_ms);

// Lists: a table with a header row, or a JSON array.
std::string RenderRoutes(const ProtoList<gateway::v1::Route>& routes, OutputFormat format);
std::string RenderServices(const ProtoList<gateway::v1::Service>& services, OutputFormat format);
std::string RenderGateways(const ProtoList<gateway::v1::GatewayStatus>& gateways,
                           OutputFormat format);

std::string RenderConsumers(const ProtoList<gateway::v1::Consumer>& consumers, OutputFormat format);

// NAME, DNS NAMES, NOT AFTER, DEFAULT, VERSION; JSON as WriteCertificateJson.
std::string RenderCertificates(const ProtoList<gateway::v1::Certificate>& certificates,
                               OutputFormat format);
// `cert get`: the row, then the key's SHA-256; never the key.
std::string RenderCertificate(const gateway::v1::Certificate& certificate, OutputFormat format);
// "certificate api (api.example.com, www.example.com; until 2027-01-02T00:00:00Z; default)
// created at version 4", then "default moved from web" when the write took the flag from one.
std::string RenderCertificateWrite(const gateway::v1::Certificate& certificate,
                                   std::string_view verb, uint64_t version,
                                   std::string_view previous_default, OutputFormat format);

// One object (get): a one-row table, or a JSON object. A route's table is followed by one
// "name: value" line per policy it sets (after a blank line), when it sets any. A consumer's
// table shows how many API keys it has; its JSON their digests (never a key or a secret).
std::string RenderConsumer(const gateway::v1::Consumer& consumer, OutputFormat format);
std::string RenderRoute(const gateway::v1::Route& route, OutputFormat format);
std::string RenderService(const gateway::v1::Service& service, OutputFormat format);

// One object as `get -o json` prints it, into `json`. The same field names and units make the
// items of a declarative document (cli/config_document.h), which leaves out `version`. A
// consumer shows its API keys as their SHA-256 digests and an HS256 secret as its digest
// (jwt.secret_sha256), never in clear.
void WriteRouteJson(JsonWriter& json, const gateway::v1::Route& route, bool with_version = true);
void WriteServiceJson(JsonWriter& json, const gateway::v1::Service& service,
                      bool with_version = true);
void WriteConsumerJson(JsonWriter& json, const gateway::v1::Consumer& consumer,
                       bool with_version = true);
// {"name","cert_pem","key_sha256","default","dns_names","not_after","version"}: a certificate as
// the admin API shows it, which never holds its key.
void WriteCertificateJson(JsonWriter& json, const gateway::v1::Certificate& certificate);
// As a document item (export, diff): name, cert_pem, key_sha256, default.
void WriteCertificateDocument(JsonWriter& json, const gateway::v1::Certificate& certificate);

// The control plane accepted a write but has something to say (a target that will be resolved
// by DNS, gateways that lack a feature): "gatewayctl: warning: ..." lines on `err`.
void PrintWarnings(std::ostream& err, const ProtoList<std::string>& warnings);

// `gateways prune`: one line per gateway forgotten, or "no gateways pruned".
std::string RenderPruned(const ProtoList<std::string>& node_ids, OutputFormat format);

// `version`: the CLI's version and the control plane's (`server` answered) on two lines, or
// {"gatewayctl":..., "controlplane":..., "server":...}.
std::string RenderVersions(std::string_view controlplane_version, std::string_view server,
                           OutputFormat format);

// `status`: "key: value" lines, or a JSON object. `server` is the address that answered.
std::string RenderStatus(const gateway::v1::StatusResponse& status, std::string_view server,
                         OutputFormat format);

// Writes (add/update): one sentence such as
// "route /api/payment (prefix) -> payment-svc created at version 7", or the JSON object.
// `verb` is "created" or "updated"; `version` is the config version after the write.
std::string RenderRouteWrite(const gateway::v1::Route& route, std::string_view verb,
                             uint64_t version, OutputFormat format);
std::string RenderConsumerWrite(const gateway::v1::Consumer& consumer, std::string_view verb,
                                uint64_t version, OutputFormat format);
std::string RenderServiceWrite(const gateway::v1::Service& service, std::string_view verb,
                               uint64_t version, OutputFormat format);

// Deletes: "<what> deleted at version 9" (what: "service payment-svc", "route /api (exact)"),
// or {"deleted":"<key>","version":9}.
std::string RenderDeleted(std::string_view what, std::string_view key, uint64_t version,
                          OutputFormat format);

// "127.0.0.1:9101,127.0.0.1:9102"
std::string JoinEndpoints(const gateway::v1::Service& service);

}  // namespace gw::cli
