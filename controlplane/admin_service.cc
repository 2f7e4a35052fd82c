#include "controlplane/admin_service.h"

#include <string>
#include <utility>

#include "common/api_key.h"
#include "common/certificate.h"
#include "common/log.h"
#include "common/policy_text.h"
#include "common/validation.h"
#include "common/wire_limits.h"

namespace gw {

// What the admin API shows of a consumer: an HS256 secret stays in the store and the configs
// pushed to gateways, never in an answer; its SHA-256 stands for it (apply gives it back to keep
// the secret).
gateway::v1::Consumer Redacted(gateway::v1::Consumer consumer) {
  if (consumer.has_jwt() && !consumer.jwt().secret().empty()) {
    consumer.mutable_jwt()->set_secret_sha256(ApiKeySha256Hex(consumer.jwt().secret()));
    consumer.mutable_jwt()->clear_secret();
  }
  return consumer;
}

// What the admin API shows of a certificate: the private key stays in the store and the configs
// pushed to gateways, never in an answer; its SHA-256 stands for it (apply gives it back to keep
// the key), with the leaf's DNS names and expiry read from the chain.
gateway::v1::Certificate Redacted(gateway::v1::Certificate certificate) {
  const CertificateInfo info = ParseCertificate(certificate.cert_pem(), certificate.key_pem());
  if (!certificate.key_pem().empty())
    certificate.set_key_sha256(ApiKeySha256Hex(certificate.key_pem()));
  certificate.clear_key_pem();
  certificate.clear_dns_names();
  for (const std::string& name : info.dns_names) certificate.add_dns_names(name);
  certificate.set_not_after_unix_ms(info.not_after_unix_ms);
  return certificate;
}

namespace {

std::string RouteName(const gateway::v1::Route& route) { return DescribeRouteMatch(route); }

void Redact(gateway::v1::ObjectChange* change) {
  if (change->has_consumer_before())
    *change->mutable_consumer_before() = Redacted(change->consumer_before());
  if (change->has_consumer_after())
    *change->mutable_consumer_after() = Redacted(change->consumer_after());
  if (change->has_certificate_before())
    *change->mutable_certificate_before() = Redacted(change->certificate_before());
  if (change->has_certificate_after())
    *change->mutable_certificate_after() = Redacted(change->certificate_after());
}

// The longest WriteOptions.command kept in the history.
constexpr size_t kMaxCommandBytes = 1024;

// Who asked and on what condition, for the store.
WriteContext ContextOf(const Caller& caller, const gateway::v1::WriteOptions& options,
                       bool dry_run = false) {
  WriteContext context;
  context.actor = caller.actor;
  if (options.has_if_version()) context.if_version = options.if_version();
  context.command = options.command().substr(0, kMaxCommandBytes);
  for (char& c : context.command)  // one line in a table, whatever was sent
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  context.dry_run = dry_run;
  return context;
}

}  // namespace

grpc::Status ToStatus(const StoreError& error) {
  std::string message = StatusMessage(error.message);
  switch (error.code) {
    case StoreCode::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, message};
    case StoreCode::kAlreadyExists:
      return {grpc::StatusCode::ALREADY_EXISTS, message};
    case StoreCode::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, message};
    case StoreCode::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, message};
    case StoreCode::kResourceExhausted:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, message};
    case StoreCode::kUnavailable:
    case StoreCode::kConflict:
      return {grpc::StatusCode::UNAVAILABLE, message};
    case StoreCode::kInternal:
      break;
  }
  return {grpc::StatusCode::INTERNAL, message};
}

AdminService::Reactor* AdminService::OnWorker(Context* context, Access access,
                                              std::string_view what,
                                              std::function<grpc::Status(const Caller&)> call) {
  Reactor* reactor = context->DefaultReactor();
  Caller caller;
  if (grpc::Status status = authorizer_.Authorize(*context, access, what, &caller); !status.ok()) {
    LogWarn("refused a call to " + std::string(what) + " from " + context->peer() + ": " +
            status.error_message());
    reactor->Finish(status);
    return reactor;
  }
  const bool queued =
      worker_.Post([context, reactor, caller = std::move(caller), call = std::move(call)] {
        // A caller that gave up (deadline, cancel) before its turn gets nothing written.
        if (context->IsCancelled()) {
          reactor->Finish({grpc::StatusCode::CANCELLED, "the call was cancelled before it ran"});
          return;
        }
        reactor->Finish(call(caller));
      });
  if (!queued)
    reactor->Finish({grpc::StatusCode::UNAVAILABLE,
                     "the control plane is overloaded or stopping; retry shortly"});
  return reactor;
}

void AdminService::Logged(const ConfigPtr& config, const Caller& caller, const std::string& what) {
  if (config->version() <= last_logged_version_) return;  // a no-op update
  last_logged_version_ = config->version();
  LogInfo("config version " + std::to_string(config->version()) + " by " + caller.actor + ": " +
          what);
}

std::vector<std::string> AdminService::FeatureWarnings() const {
  const SnapshotPtr current = publisher_.Current();
  if (!current) return {};
  const std::vector<std::string> lacking = registry_.Lacking(current->features());
  if (lacking.empty()) return {};
  return {"version " + std::to_string(current->version()) +
          " uses config features that connected gateways do not apply; they keep their "
          "version until upgraded: " +
          JoinForMessage(lacking, "; ")};
}

AdminService::Reactor* AdminService::CreateService(Context* context,
                                                   const gateway::v1::CreateServiceRequest* request,
                                                   gateway::v1::ServiceResponse* response) {
  return OnWorker(
      context, Access::kWrite, "create services", [this, request, response](const Caller& caller) {
        auto result =
            store_.CreateService(request->service(), ContextOf(caller, request->options()));
        if (!result) return ToStatus(result.error());
        Logged(result->snapshot, caller, "service " + result->service.name() + " created");
        response->set_config_version(result->snapshot->version());
        *response->mutable_service() = std::move(result->service);
        for (auto& warning : FeatureWarnings()) response->add_warnings(std::move(warning));
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::UpdateService(Context* context,
                                                   const gateway::v1::UpdateServiceRequest* request,
                                                   gateway::v1::ServiceResponse* response) {
  return OnWorker(
      context, Access::kWrite, "update services", [this, request, response](const Caller& caller) {
        auto result = store_.UpdateService(request->service(), request->update_mask(),
                                           ContextOf(caller, request->options()));
        if (!result) return ToStatus(result.error());
        Logged(result->snapshot, caller, "service " + result->service.name() + " updated");
        response->set_config_version(result->snapshot->version());
        *response->mutable_service() = std::move(result->service);
        for (auto& warning : FeatureWarnings()) response->add_warnings(std::move(warning));
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::GetService(Context* context,
                                                const gateway::v1::GetServiceRequest* request,
                                                gateway::v1::ServiceResponse* response) {
  return OnWorker(context, Access::kRead, "read services",
                  [this, request, response](const Caller&) {
                    auto result = store_.GetService(request->name());
                    if (!result) return ToStatus(result.error());
                    response->set_config_version(result->config_version);
                    *response->mutable_service() = std::move(result->service);
                    return grpc::Status::OK;
                  });
}

AdminService::Reactor* AdminService::ListServices(Context* context,
                                                  const gateway::v1::ListServicesRequest*,
                                                  gateway::v1::ListServicesResponse* response) {
  return OnWorker(context, Access::kRead, "list services", [this, response](const Caller&) {
    auto result = store_.ListServices();
    if (!result) return ToStatus(result.error());
    const auto& config = **result;
    response->set_config_version(config.version());
    *response->mutable_services() = config.services();
    return grpc::Status::OK;
  });
}

AdminService::Reactor* AdminService::DeleteService(Context* context,
                                                   const gateway::v1::DeleteServiceRequest* request,
                                                   gateway::v1::DeleteResponse* response) {
  return OnWorker(
      context, Access::kWrite, "delete services", [this, request, response](const Caller& caller) {
        auto result = store_.DeleteService(request->name(), ContextOf(caller, request->options()));
        if (!result) return ToStatus(result.error());
        Logged(*result, caller, "service " + request->name() + " deleted");
        response->set_config_version((*result)->version());
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::CreateRoute(Context* context,
                                                 const gateway::v1::CreateRouteRequest* request,
                                                 gateway::v1::RouteResponse* response) {
  return OnWorker(
      context, Access::kWrite, "create routes", [this, request, response](const Caller& caller) {
        auto result = store_.CreateRoute(request->route(), ContextOf(caller, request->options()));
        if (!result) return ToStatus(result.error());
        Logged(result->snapshot, caller,
               "route " + RouteName(result->route) + " -> " + FormatRouteTargets(result->route) +
                   " created");
        response->set_config_version(result->snapshot->version());
        *response->mutable_route() = std::move(result->route);
        for (auto& warning : result->warnings) response->add_warnings(std::move(warning));
        for (auto& warning : FeatureWarnings()) response->add_warnings(std::move(warning));
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::UpdateRoute(Context* context,
                                                 const gateway::v1::UpdateRouteRequest* request,
                                                 gateway::v1::RouteResponse* response) {
  return OnWorker(context, Access::kWrite, "update routes",
                  [this, request, response](const Caller& caller) {
                    auto result = store_.UpdateRoute(request->route(), request->update_mask(),
                                                     ContextOf(caller, request->options()));
                    if (!result) return ToStatus(result.error());
                    Logged(result->snapshot, caller,
                           "route " + RouteName(result->route) + " -> " +
                               FormatRouteTargets(result->route) + " updated");
                    response->set_config_version(result->snapshot->version());
                    *response->mutable_route() = std::move(result->route);
                    for (auto& warning : result->warnings)
                      response->add_warnings(std::move(warning));
                    for (auto& warning : FeatureWarnings())
                      response->add_warnings(std::move(warning));
                    return grpc::Status::OK;
                  });
}

AdminService::Reactor* AdminService::GetRoute(Context* context,
                                              const gateway::v1::GetRouteRequest* request,
                                              gateway::v1::RouteResponse* response) {
  return OnWorker(context, Access::kRead, "read routes", [this, request, response](const Caller&) {
    auto result = store_.GetRoute(request->key());
    if (!result) return ToStatus(result.error());
    response->set_config_version(result->config_version);
    *response->mutable_route() = std::move(result->route);
    return grpc::Status::OK;
  });
}

AdminService::Reactor* AdminService::ListRoutes(Context* context,
                                                const gateway::v1::ListRoutesRequest*,
                                                gateway::v1::ListRoutesResponse* response) {
  return OnWorker(context, Access::kRead, "list routes", [this, response](const Caller&) {
    auto result = store_.ListRoutes();
    if (!result) return ToStatus(result.error());
    const auto& config = **result;
    response->set_config_version(config.version());
    *response->mutable_routes() = config.routes();
    return grpc::Status::OK;
  });
}

AdminService::Reactor* AdminService::DeleteRoute(Context* context,
                                                 const gateway::v1::DeleteRouteRequest* request,
                                                 gateway::v1::DeleteResponse* response) {
  return OnWorker(
      context, Access::kWrite, "delete routes", [this, request, response](const Caller& caller) {
        auto result = store_.DeleteRoute(request->key(), ContextOf(caller, request->options()));
        if (!result) return ToStatus(result.error());
        Logged(result->snapshot, caller, "route " + DescribeRouteMatch(result->route) + " deleted");
        response->set_config_version(result->snapshot->version());
        *response->mutable_route() = std::move(result->route);
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::CreateConsumer(
    Context* context, const gateway::v1::CreateConsumerRequest* request,
    gateway::v1::ConsumerResponse* response) {
  return OnWorker(
      context, Access::kWrite, "create consumers", [this, request, response](const Caller& caller) {
        const std::vector<std::string> keys(request->api_keys().begin(), request->api_keys().end());
        auto result =
            store_.CreateConsumer(request->consumer(), keys, ContextOf(caller, request->options()));
        if (!result) return ToStatus(result.error());
        Logged(result->snapshot, caller, "consumer " + result->consumer.name() + " created");
        response->set_config_version(result->snapshot->version());
        *response->mutable_consumer() = Redacted(std::move(result->consumer));
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::GetConsumer(Context* context,
                                                 const gateway::v1::GetConsumerRequest* request,
                                                 gateway::v1::ConsumerResponse* response) {
  return OnWorker(context, Access::kRead, "read consumers",
                  [this, request, response](const Caller&) {
                    auto result = store_.GetConsumer(request->name());
                    if (!result) return ToStatus(result.error());
                    response->set_config_version(result->config_version);
                    *response->mutable_consumer() = Redacted(std::move(result->consumer));
                    return grpc::Status::OK;
                  });
}

AdminService::Reactor* AdminService::ListConsumers(Context* context,
                                                   const gateway::v1::ListConsumersRequest*,
                                                   gateway::v1::ListConsumersResponse* response) {
  return OnWorker(context, Access::kRead, "list consumers", [this, response](const Caller&) {
    auto result = store_.ListConsumers();
    if (!result) return ToStatus(result.error());
    const auto& config = **result;
    response->set_config_version(config.version());
    for (const auto& consumer : config.consumers()) *response->add_consumers() = Redacted(consumer);
    return grpc::Status::OK;
  });
}

AdminService::Reactor* AdminService::DeleteConsumer(
    Context* context, const gateway::v1::DeleteConsumerRequest* request,
    gateway::v1::DeleteResponse* response) {
  return OnWorker(
      context, Access::kWrite, "delete consumers", [this, request, response](const Caller& caller) {
        auto result = store_.DeleteConsumer(request->name(), ContextOf(caller, request->options()));
        if (!result) return ToStatus(result.error());
        Logged(*result, caller, "consumer " + request->name() + " deleted");
        response->set_config_version((*result)->version());
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::CreateCertificate(
    Context* context, const gateway::v1::CreateCertificateRequest* request,
    gateway::v1::CertificateResponse* response) {
  return OnWorker(context, Access::kWrite, "create certificates",
                  [this, request, response](const Caller& caller) {
                    auto result = store_.CreateCertificate(request->certificate(),
                                                           ContextOf(caller, request->options()));
                    return AnswerCertificate(result, caller, "created", response);
                  });
}

AdminService::Reactor* AdminService::UpdateCertificate(
    Context* context, const gateway::v1::UpdateCertificateRequest* request,
    gateway::v1::CertificateResponse* response) {
  return OnWorker(context, Access::kWrite, "update certificates",
                  [this, request, response](const Caller& caller) {
                    auto result =
                        store_.UpdateCertificate(request->certificate(), request->update_mask(),
                                                 ContextOf(caller, request->options()));
                    return AnswerCertificate(result, caller, "updated", response);
                  });
}

grpc::Status AdminService::AnswerCertificate(StoreResult<CertificateWrite>& result,
                                             const Caller& caller, std::string_view verb,
                                             gateway::v1::CertificateResponse* response) {
  if (!result) return ToStatus(result.error());
  Logged(result->snapshot, caller,
         "certificate " + result->certificate.name() + " " + std::string(verb));
  response->set_config_version(result->snapshot->version());
  *response->mutable_certificate() = Redacted(std::move(result->certificate));
  response->set_previous_default(result->previous_default);
  for (auto& warning : result->warnings) response->add_warnings(std::move(warning));
  for (auto& warning : FeatureWarnings()) response->add_warnings(std::move(warning));
  return grpc::Status::OK;
}

AdminService::Reactor* AdminService::GetCertificate(
    Context* context, const gateway::v1::GetCertificateRequest* request,
    gateway::v1::CertificateResponse* response) {
  return OnWorker(context, Access::kRead, "read certificates",
                  [this, request, response](const Caller&) {
                    auto result = store_.GetCertificate(request->name());
                    if (!result) return ToStatus(result.error());
                    response->set_config_version(result->config_version);
                    *response->mutable_certificate() = Redacted(std::move(result->certificate));
                    return grpc::Status::OK;
                  });
}

AdminService::Reactor* AdminService::ListCertificates(
    Context* context, const gateway::v1::ListCertificatesRequest*,
    gateway::v1::ListCertificatesResponse* response) {
  return OnWorker(context, Access::kRead, "list certificates", [this, response](const Caller&) {
    auto result = store_.ListCertificates();
    if (!result) return ToStatus(result.error());
    const auto& config = **result;
    response->set_config_version(config.version());
    for (const auto& certificate : config.certificates())
      *response->add_certificates() = Redacted(certificate);
    return grpc::Status::OK;
  });
}

AdminService::Reactor* AdminService::DeleteCertificate(
    Context* context, const gateway::v1::DeleteCertificateRequest* request,
    gateway::v1::DeleteResponse* response) {
  return OnWorker(context, Access::kWrite, "delete certificates",
                  [this, request, response](const Caller& caller) {
                    auto result = store_.DeleteCertificate(request->name(),
                                                           ContextOf(caller, request->options()));
                    if (!result) return ToStatus(result.error());
                    Logged(*result, caller, "certificate " + request->name() + " deleted");
                    response->set_config_version((*result)->version());
                    return grpc::Status::OK;
                  });
}

AdminService::Reactor* AdminService::ListGateways(Context* context,
                                                  const gateway::v1::ListGatewaysRequest*,
                                                  gateway::v1::ListGatewaysResponse* response) {
  return OnWorker(context, Access::kRead, "list gateways", [this, response](const Caller&) {
    ClusterView view = cluster_.Read();
    for (auto& status : view.gateways) *response->add_gateways() = std::move(status);
    response->set_config_version(publisher_.Current()->version());
    response->set_store_error(StatusMessage(view.store_error));
    return grpc::Status::OK;
  });
}

AdminService::Reactor* AdminService::PruneGateways(Context* context,
                                                   const gateway::v1::PruneGatewaysRequest* request,
                                                   gateway::v1::PruneGatewaysResponse* response) {
  return OnWorker(
      context, Access::kWrite, "prune gateways", [this, request, response](const Caller& caller) {
        for (auto& node_id : cluster_.Prune(request->older_than_ms())) {
          LogInfo("forgot disconnected gateway " + node_id + " (pruned by " + caller.actor + ")");
          response->add_node_ids(std::move(node_id));
        }
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::GetStatus(Context* context,
                                               const gateway::v1::GetStatusRequest*,
                                               gateway::v1::StatusResponse* response) {
  return OnWorker(context, Access::kRead, "read the status", [this, response](const Caller&) {
    const SnapshotPtr current = publisher_.Current();
    ClusterView view = cluster_.Read();
    response->set_build_version(GATEWAY_BUILD_VERSION);
    response->set_config_bytes(current->config().ByteSizeLong());  // as the limit counts it
    response->set_max_config_bytes(max_config_bytes_);
    response->set_config_version(current->version());
    response->set_services(static_cast<uint32_t>(current->config().services_size()));
    response->set_routes(static_cast<uint32_t>(current->config().routes_size()));
    uint32_t connected = 0;
    for (const auto& gateway : view.gateways) connected += gateway.connected() ? 1 : 0;
    response->set_gateways_connected(connected);
    response->set_gateways_total(static_cast<uint32_t>(view.gateways.size()));
    for (auto& replica : view.replicas) *response->add_replicas() = std::move(replica);
    response->set_store(store_.backend().name());
    response->set_store_error(StatusMessage(view.store_error));
    return grpc::Status::OK;
  });
}

// ---------------------------------------------------------------- declarative config and history

// Apply and Rollback answer alike: the changes (consumers redacted), the version after and the
// warnings; a write that changed something is logged (a dry run never is).
grpc::Status AdminService::Answer(StoreResult<ApplyWrite>& result, const Caller& caller,
                                  std::string_view action, bool dry_run,
                                  gateway::v1::ApplyResponse* response) {
  if (!result) return ToStatus(result.error());
  if (dry_run) {
    // The version the store is at (read in the write's transaction: a replica's own snapshot
    // may trail it); the would-be config is one past it when anything changes.
    const uint64_t would_be = result->snapshot->version();
    response->set_config_version(result->changes.empty() ? would_be : would_be - 1);
  } else {
    response->set_config_version(result->snapshot->version());
    Logged(result->snapshot, caller, std::string(action) + ": " + result->summary);
  }
  for (auto& change : result->changes) {
    Redact(&change);
    *response->add_changes() = std::move(change);
  }
  for (auto& warning : result->warnings) response->add_warnings(std::move(warning));
  if (!dry_run && !result->changes.empty())
    for (auto& warning : FeatureWarnings()) response->add_warnings(std::move(warning));
  return grpc::Status::OK;
}

AdminService::Reactor* AdminService::Apply(Context* context,
                                           const gateway::v1::ApplyRequest* request,
                                           gateway::v1::ApplyResponse* response) {
  const bool dry_run = request->dry_run();
  return OnWorker(context, dry_run ? Access::kRead : Access::kWrite,
                  dry_run ? "diff the config" : "apply config",
                  [this, request, response, dry_run](const Caller& caller) {
                    auto result =
                        store_.Apply(*request, ContextOf(caller, request->options(), dry_run));
                    return Answer(result, caller, "apply", dry_run, response);
                  });
}

AdminService::Reactor* AdminService::Rollback(Context* context,
                                              const gateway::v1::RollbackRequest* request,
                                              gateway::v1::ApplyResponse* response) {
  const bool dry_run = request->dry_run();
  return OnWorker(context, dry_run ? Access::kRead : Access::kWrite,
                  dry_run ? "preview rollbacks" : "roll back the config",
                  [this, request, response, dry_run](const Caller& caller) {
                    auto result = store_.Rollback(request->version(),
                                                  ContextOf(caller, request->options(), dry_run));
                    return Answer(result, caller, "rollback", dry_run, response);
                  });
}

AdminService::Reactor* AdminService::ListHistory(Context* context,
                                                 const gateway::v1::ListHistoryRequest* request,
                                                 gateway::v1::ListHistoryResponse* response) {
  return OnWorker(
      context, Access::kRead, "read the history", [this, request, response](const Caller&) {
        constexpr uint32_t kDefaultLimit = 20;
        auto records = store_.ListHistory(request->limit() == 0 ? kDefaultLimit : request->limit());
        if (!records) return ToStatus(records.error());
        auto oldest = store_.OldestHistoryVersion();
        if (!oldest) return ToStatus(oldest.error());
        for (auto& record : *records) *response->add_records() = std::move(record);
        response->set_oldest_version(*oldest);
        response->set_config_version(publisher_.Current()->version());
        return grpc::Status::OK;
      });
}

AdminService::Reactor* AdminService::GetHistory(Context* context,
                                                const gateway::v1::GetHistoryRequest* request,
                                                gateway::v1::GetHistoryResponse* response) {
  return OnWorker(context, Access::kRead, "read the history",
                  [this, request, response](const Caller&) {
                    auto result = store_.GetHistory(request->version());
                    if (!result) return ToStatus(result.error());
                    *response->mutable_record() = std::move(result->record);
                    for (auto& change : result->changes) {
                      Redact(&change);
                      *response->add_changes() = std::move(change);
                    }
                    return grpc::Status::OK;
                  });
}

}  // namespace gw
