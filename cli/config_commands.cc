// gatewayctl apply | diff | export | history [show] | rollback: the config as a whole, as a
// declarative document (config_document.h) and as a history of versions.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/config_diff.h"
#include "cli/config_document.h"
#include "cli/output.h"
#include "common/byte_size.h"
#include "common/wire_limits.h"

namespace gw::cli {
namespace {

using gateway::v1::ApplyRequest;
using gateway::v1::ApplyResponse;
using gateway::v1::HistoryRecord;

// diff's exit statuses (kubectl diff's): 0 nothing to change, 1 changes, 2 any error.
constexpr int kExitDiffChanges = 1;
constexpr int kExitDiffError = 2;

// How messages name -f FILE.
std::string DocumentName(const Command& command) {
  return command.file == "-" ? "stdin" : command.file;
}

// The text of -f FILE, or of stdin for "-". "" or the reason.
std::string ReadDocument(const std::string& path, std::string* text) {
  std::ostringstream contents;
  if (path == "-") {
    contents << std::cin.rdbuf();
    if (std::cin.bad()) return "cannot read stdin";
  } else {
    std::error_code ignored;
    if (std::filesystem::is_directory(path, ignored)) return "it is a directory, not a file";
    errno = 0;
    std::ifstream file(path, std::ios::binary);
    if (!file) return std::string("cannot read the file: ") + std::strerror(errno ? errno : EIO);
    contents << file.rdbuf();
    if (file.bad())
      return std::string("cannot read the file: ") + std::strerror(errno ? errno : EIO);
  }
  *text = std::move(contents).str();
  // A document is at most a whole config and its keys in clear: what one call may carry.
  if (text->size() > static_cast<size_t>(kMaxGrpcMessageBytes))
    return "larger than " + DescribeByteSize(static_cast<uint64_t>(kMaxGrpcMessageBytes));
  return "";
}

// The apply request of -f FILE: "" or the one-line error (without the file's name).
std::string BuildApply(const Command& command, ApplyRequest* request) {
  std::string text;
  if (std::string error = ReadDocument(command.file, &text); !error.empty()) return error;
  if (std::string error = ParseConfigDocument(text, request); !error.empty()) return error;
  request->set_prune(command.prune);
  return "";
}

// apply and rollback: one line per object, then the version; "no changes" when there are none.
// A dry run says so on every line.
std::string RenderApplied(const ApplyResponse& response, bool dry_run, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("changes");
    WriteChangesJson(json, response.changes());
    json.Key("version").Unsigned(response.config_version());
    json.Key("dry_run").Bool(dry_run);
    json.EndObject();
    return json.str() + "\n";
  }
  if (response.changes().empty()) return "no changes\n";
  if (dry_run)
    return RenderChangeLines(response.changes(), "(dry run) ") +
           "(dry run) nothing written; this would make config version " +
           std::to_string(response.config_version() + 1) + "\n";
  return RenderChangeLines(response.changes()) + "config version " +
         std::to_string(response.config_version()) + "\n";
}

// Prints what apply or rollback did, and waits with --wait when they made a version.
int FinishApplied(const Command& command, AdminClient& client, const ApplyResponse& response,
                  std::ostream& out, std::ostream& err) {
  out << RenderApplied(response, command.dry_run, command.output) << std::flush;
  PrintWarnings(err, response.warnings());
  if (command.dry_run || response.changes().empty()) return kExitOk;  // nothing to wait for
  return FinishWrite(command, client, response.config_version(), out, err);
}

void WriteRecordJson(JsonWriter& json, const HistoryRecord& record) {
  json.Key("version").Unsigned(record.version());
  json.Key("time").String(UtcTime(record.at_unix_ms()));
  json.Key("actor").String(record.actor());
  json.Key("action").String(record.action());
  json.Key("summary").String(record.summary());
  json.Key("command").String(record.command());
  json.Key("has_changes").Bool(record.has_changes());
}

std::string RenderHistory(const ProtoList<HistoryRecord>& records, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginArray();
    for (const HistoryRecord& record : records) {
      json.BeginObject();
      WriteRecordJson(json, record);
      json.EndObject();
    }
    json.EndArray();
    return json.str() + "\n";
  }
  std::vector<std::vector<std::string>> rows = {
      {"VERSION", "TIME (UTC)", "ACTOR", "ACTION", "COMMAND", "SUMMARY"}};
  auto cell = [](const std::string& text) { return text.empty() ? std::string("-") : text; };
  for (const HistoryRecord& record : records)
    rows.push_back({std::to_string(record.version()), UtcTime(record.at_unix_ms()),
                    cell(record.actor()), cell(record.action()), cell(record.command()),
                    cell(record.summary())});
  return AlignColumns(rows);
}

std::string RenderHistoryChange(const gateway::v1::GetHistoryResponse& response,
                                OutputFormat format) {
  const HistoryRecord& record = response.record();
  if (format == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject();
    WriteRecordJson(json, record);
    json.Key("changes");
    WriteChangesJson(json, response.changes());
    json.EndObject();
    return json.str() + "\n";
  }
  std::string out = AlignColumns({{"version:", std::to_string(record.version())},
                                  {"time:", UtcTime(record.at_unix_ms())},
                                  {"actor:", record.actor()},
                                  {"action:", record.action()},
                                  {"command:", record.command().empty() ? "-" : record.command()},
                                  {"summary:", record.summary()}});
  out += "\n";
  if (!record.has_changes())
    return out + "version " + std::to_string(record.version()) +
           " was made before the control plane kept whole changes: only its summary is known\n";
  if (response.changes().empty()) return out + "no object changed\n";
  return out + RenderChangeDiff(response.changes());
}

// The whole config through the four list calls, which must answer the same version (a write
// between them is retried).
std::string LoadConfig(AdminClient& client, gateway::v1::Config* config) {
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    gateway::v1::ListServicesResponse services;
    gateway::v1::ListRoutesResponse routes;
    gateway::v1::ListConsumersResponse consumers;
    if (std::string e = client.ListServices({}, &services); !e.empty()) return e;
    if (std::string e = client.ListRoutes({}, &routes); !e.empty()) return e;
    if (std::string e = client.ListConsumers({}, &consumers); !e.empty()) return e;
    gateway::v1::ListCertificatesResponse certificates;
    if (std::string e = client.ListCertificates({}, &certificates); !e.empty()) return e;
    if (services.config_version() != routes.config_version() ||
        routes.config_version() != consumers.config_version() ||
        consumers.config_version() != certificates.config_version())
      continue;
    config->set_version(services.config_version());
    *config->mutable_services() = std::move(*services.mutable_services());
    *config->mutable_routes() = std::move(*routes.mutable_routes());
    *config->mutable_consumers() = std::move(*consumers.mutable_consumers());
    *config->mutable_certificates() = std::move(*certificates.mutable_certificates());
    return "";
  }
  return "the config kept changing while it was read; try again";
}

}  // namespace

int RunConfigCommand(const Command& command, AdminClient& client, std::ostream& out,
                     std::ostream& err) {
  switch (command.action) {
    case Action::kApply: {
      const std::string name = DocumentName(command);
      ApplyRequest request;
      if (std::string error = BuildApply(command, &request); !error.empty())
        return Fail(err, name + ": " + error);
      request.set_dry_run(command.dry_run);
      *request.mutable_options() = WriteOptionsOf(command);
      ApplyResponse response;
      if (std::string error = client.Apply(request, &response); !error.empty())
        return Fail(err, name + ": " + error);
      return FinishApplied(command, client, response, out, err);
    }
    case Action::kDiff: {
      const std::string name = DocumentName(command);
      ApplyRequest request;
      if (std::string error = BuildApply(command, &request); !error.empty()) {
        Fail(err, name + ": " + error);
        return kExitDiffError;
      }
      request.set_dry_run(true);
      ApplyResponse response;
      if (std::string error = client.Apply(request, &response); !error.empty()) {
        Fail(err, name + ": " + error);
        return kExitDiffError;
      }
      if (command.output == OutputFormat::kJson) {
        JsonWriter json;
        WriteChangesJson(json, response.changes());
        out << json.str() << '\n';
      } else {
        out << RenderChangeDiff(response.changes());
      }
      PrintWarnings(err, response.warnings());
      return response.changes().empty() ? kExitOk : kExitDiffChanges;
    }
    case Action::kExport: {
      gateway::v1::Config config;
      if (std::string error = LoadConfig(client, &config); !error.empty()) return Fail(err, error);
      out << RenderConfigDocument(config, command.output == OutputFormat::kJson
                                              ? DocumentFormat::kJson
                                              : DocumentFormat::kYaml);
      return kExitOk;
    }
    case Action::kHistory: {
      gateway::v1::ListHistoryRequest request;
      if (command.history_limit) request.set_limit(*command.history_limit);
      gateway::v1::ListHistoryResponse response;
      if (std::string error = client.ListHistory(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderHistory(response.records(), command.output);
      return kExitOk;
    }
    case Action::kHistoryShow: {
      gateway::v1::GetHistoryRequest request;
      request.set_version(command.version);
      gateway::v1::GetHistoryResponse response;
      if (std::string error = client.GetHistory(request, &response); !error.empty())
        return Fail(err, error);
      out << RenderHistoryChange(response, command.output);
      return kExitOk;
    }
    case Action::kRollback: {
      gateway::v1::RollbackRequest request;
      request.set_version(command.version);
      request.set_dry_run(command.dry_run);
      *request.mutable_options() = WriteOptionsOf(command);
      ApplyResponse response;
      if (std::string error = client.Rollback(request, &response); !error.empty())
        return Fail(err, error);
      return FinishApplied(command, client, response, out, err);
    }
    default:
      return Fail(err, "internal error: not an apply, diff, export, history or rollback command");
  }
}

}  // namespace gw::cli
