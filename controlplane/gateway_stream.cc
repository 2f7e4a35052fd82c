#include "controlplane/gateway_stream.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <random>

#include "common/config_features.h"
#include "common/log.h"
#include "common/validation.h"
#include "common/wire_limits.h"

namespace gw {
namespace {

using gateway::v1::GatewayMessage;

// This stream's nonce prefix: unique across the process (the stream id) and, with a random tag,
// across restarts of the control plane.
std::string NoncePrefix(uint64_t stream_id) {
  static const uint64_t tag = [] {
    std::random_device random;
    return (static_cast<uint64_t>(random()) << 32) ^ random();
  }();
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%016" PRIx64 "-%" PRIu64, tag, stream_id);
  return buffer;
}

bool Parse(grpc::ByteBuffer* buffer, GatewayMessage* message) {
  return grpc::SerializationTraits<GatewayMessage>::Deserialize(buffer, message).ok();
}

}  // namespace

GatewayStream::GatewayStream(grpc::CallbackServerContext* context, SnapshotPublisher& publisher,
                             GatewayRegistry& registry, uint64_t stream_id, Caller caller,
                             const grpc::Status& refused)
    : publisher_(publisher),
      registry_(registry),
      stream_id_(stream_id),
      peer_(context->peer()),
      caller_(std::move(caller)),
      push_(NoncePrefix(stream_id)) {
  if (!refused.ok()) {
    LogWarn("refused a gateway stream from " + peer_ + ": " + refused.error_message());
    std::lock_guard lock(mu_);
    FinishLocked(refused);
    return;
  }
  StartRead(&in_);
}

void GatewayStream::OnReadDone(bool ok) {
  if (!ok) {  // the gateway closed its side, or the stream was cancelled
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status::OK);
    return;
  }
  GatewayMessage message;
  if (!Parse(&in_, &message)) {
    std::lock_guard lock(mu_);
    FinishLocked({grpc::StatusCode::INVALID_ARGUMENT, "a message is not a GatewayMessage"});
    return;
  }
  if (!subscribed_) {
    if (!HandleFirst(message)) return;
  } else {
    switch (message.kind_case()) {
      case GatewayMessage::kAck:
        HandleAck(message.ack());
        break;
      case GatewayMessage::kNack:
        HandleNack(message.nack());
        break;
      case GatewayMessage::kHello: {
        std::lock_guard lock(mu_);
        FinishLocked({grpc::StatusCode::INVALID_ARGUMENT, "Hello may be sent once per stream"});
        return;
      }
      default:
        break;  // empty, or a kind a newer gateway knows: nothing to do
    }
  }
  std::lock_guard lock(mu_);
  if (!finishing_) StartRead(&in_);
}

bool GatewayStream::HandleFirst(const GatewayMessage& message) {
  const auto& node = message.hello().node();
  std::string error;
  if (!message.has_hello() || node.id().empty())
    error = "the first message on a stream must be a Hello with a node id";
  else if (node.id().size() > kMaxNodeIdLength)
    error = "node id is longer than " + std::to_string(kMaxNodeIdLength) + " characters";
  if (!error.empty()) {
    std::lock_guard lock(mu_);
    FinishLocked({grpc::StatusCode::INVALID_ARGUMENT, error});
    return false;
  }
  // A gateway with a client certificate subscribes as a name the certificate carries.
  if (grpc::Status status = Authorizer::CheckNodeId(caller_, node.id()); !status.ok()) {
    LogWarn("refused gateway " + node.id() + " from " + peer_ + ": " + status.error_message());
    std::lock_guard lock(mu_);
    FinishLocked(status);
    return false;
  }

  const uint64_t running = message.hello().running_version();
  hello_ = message.hello();
  node_id_ = node.id();
  const auto& capabilities = node.capabilities();
  deltas_ = std::find(capabilities.begin(), capabilities.end(), "delta") != capabilities.end();
  {
    std::lock_guard lock(mu_);
    push_.SetRunningVersion(running);
    if (running != 0) base_ = running;
  }
  // Offers the current version (see Offer()), unless another gateway holds this node id.
  std::string holder;
  if (!publisher_.Subscribe(node_id_, this, hello_.instance_id(), &holder)) {
    const std::string who = peer_ + " (address " + node.address() + ")";
    if (registry_.Conflict(node_id_, who))
      LogWarn("refused gateway " + node_id_ + " from " + who + ": node id " + node_id_ +
              " is held by the gateway connected from " + holder);
    std::lock_guard lock(mu_);
    FinishLocked({grpc::StatusCode::ALREADY_EXISTS,
                  StatusMessage("node id " + node_id_ +
                                " is already in use by the gateway "
                                "connected from " +
                                holder + "; give every gateway its own --node-id")});
    node_id_.clear();  // never subscribed: OnDone leaves the holder's entry alone
    return false;
  }
  subscribed_ = true;
  uint64_t current;
  bool pushing;
  {
    std::lock_guard lock(mu_);
    current = push_.newest().value_or(0);
    pushing = push_.write_in_flight();
  }
  LogInfo("gateway " + node_id_ + " subscribed from " + peer_ + " (address " + node.address() +
          ") as " + caller_.actor + ", running version " + std::to_string(running) +
          (pushing ? ", pushing version " + std::to_string(current) : ", up to date"));
  return true;
}

void GatewayStream::HandleAck(const gateway::v1::Ack& ack) {
  std::lock_guard lock(mu_);
  if (!Counts(push_.Answered(ack.nonce()), ack.version(), "acknowledged")) return;
  registry_.Ack(node_id_, stream_id_, ack.version(), ack.cache_error());
  Log(LogLevel::kDebug,
      "gateway " + node_id_ + " applied version " + std::to_string(ack.version()));
  if (!ack.cache_error().empty())
    LogWarn("gateway " + node_id_ + " serves version " + std::to_string(ack.version()) +
            " but could not write it to its cache: " + ack.cache_error());
}

void GatewayStream::HandleNack(const gateway::v1::Nack& nack) {
  std::lock_guard lock(mu_);
  if (!Counts(push_.Answered(nack.nonce()), nack.version(), "refused")) return;
  base_.reset();  // what it holds now is not sure: the next push is a snapshot
  if (nack.needs_snapshot() && nack.version() == last_delta_) {
    // A delta that did not apply to what the gateway holds: the snapshot settles it.
    Log(LogLevel::kDebug, "gateway " + node_id_ + " could not apply the delta to version " +
                              std::to_string(nack.version()) + " (" + nack.error() +
                              "); sending the snapshot");
    last_delta_ = 0;
    if (push_.Resend(nack.version())) WriteLocked();
    return;
  }
  registry_.Nack(node_id_, stream_id_, nack.version(), nack.error());
  LogWarn("gateway " + node_id_ + " refused version " + std::to_string(nack.version()) + ": " +
          nack.error());
}

bool GatewayStream::Counts(const PushState::Answer& answer, uint64_t version,
                           std::string_view verb) {
  using Kind = PushState::Answer::Kind;
  if (answer.kind == Kind::kCurrent && answer.version == version) return true;
  if (answer.kind == Kind::kOlder) {  // superseded by a newer push under a burst: normal
    Log(LogLevel::kDebug, "gateway " + node_id_ + " " + std::string(verb) + " version " +
                              std::to_string(version) + ", since superseded");
    return false;
  }
  LogWarn("gateway " + node_id_ + " " + std::string(verb) + " version " + std::to_string(version) +
          " with a nonce this stream did not send for it; ignored");
  return false;
}

bool GatewayStream::YieldsTo(std::string_view instance) const {
  std::lock_guard lock(mu_);
  return finishing_ || (!instance.empty() && instance == hello_.instance_id());
}

std::string GatewayStream::Holder() const {
  return peer_ + " (address " + hello_.node().address() + ")";
}

void GatewayStream::Offer(const SnapshotPtr& snapshot) {
  std::lock_guard lock(mu_);
  if (finishing_) return;
  const bool first = !push_.newest().has_value();
  // The first offer comes from Subscribe(), in the same critical section that replaced any
  // older stream of this node: registering here keeps the registry's owner and the
  // publisher's subscriber the same stream even when two streams of one node race.
  if (first) registry_.Connect(hello_, peer_, stream_id_);
  // A version using a feature this gateway does not apply is never pushed to it: it keeps
  // its last good config (a rolling upgrade), shown as behind.
  if (const auto missing = MissingFeatures(snapshot->features(), hello_.node()); !missing.empty()) {
    const std::string reason = "version " + std::to_string(snapshot->version()) +
                               " needs feature " + JoinForMessage(missing, ", ") +
                               ", which this gateway (" + DescribeBuild(hello_.node()) +
                               ") does not apply";
    if (registry_.Behind(node_id_, stream_id_, reason))
      LogWarn("gateway " + node_id_ + " keeps its version: " + reason);
    behind_ = true;
    return;
  }
  if (behind_) {  // a later version it can apply
    registry_.Behind(node_id_, stream_id_, "");
    behind_ = false;
  }
  const auto write = push_.Offer(snapshot->version());
  if (push_.newest() == snapshot->version()) newest_ = snapshot;
  if (write) {
    WriteLocked();
  } else if (first && !push_.write_in_flight()) {
    registry_.Healthy(node_id_, stream_id_);  // it runs the current version: nothing to prove
  }
}

void GatewayStream::Replace() {
  std::lock_guard lock(mu_);
  LogWarn("gateway " + node_id_ + " opened a new stream; ending its older one from " + peer_);
  FinishLocked({grpc::StatusCode::ABORTED, "replaced by a newer stream for node id " + node_id_});
}

void GatewayStream::WriteLocked() {
  const uint64_t version = newest_->version();
  const std::string nonce = push_.Sent(version);
  SnapshotPtr base;
  if (deltas_ && base_ && *base_ < version) base = publisher_.Find(*base_);
  if (base) {
    out_ = newest_->EncodeDelta(nonce, *base);
    last_delta_ = version;
  } else {
    out_ = newest_->Encode(nonce);
  }
  base_ = version;
  Log(LogLevel::kDebug, "pushing version " + std::to_string(version) +
                            (base ? " as a delta from " + std::to_string(base->version()) : "") +
                            " to gateway " + node_id_);
  StartWrite(&out_);
}

void GatewayStream::OnWriteDone(bool ok) {
  std::lock_guard lock(mu_);
  const auto next = push_.WriteDone();
  if (finishing_) {  // the finish waited for this write
    if (!finish_sent_) {
      finish_sent_ = true;
      Finish(finish_status_);
    }
    return;
  }
  if (!ok) {  // the stream broke: no more writes; the pending read fails as well
    FinishLocked({grpc::StatusCode::UNAVAILABLE, "the stream broke during a push"});
    return;
  }
  if (next) WriteLocked();
}

void GatewayStream::FinishLocked(const grpc::Status& status) {
  if (finishing_) return;
  finishing_ = true;
  finish_status_ = status;
  if (!push_.write_in_flight()) {
    finish_sent_ = true;
    Finish(status);
  }
}

void GatewayStream::OnDone() {
  if (!node_id_.empty()) {
    publisher_.Unsubscribe(node_id_, this);  // from here on no Offer()/Replace() reaches us
    registry_.Disconnect(node_id_, stream_id_);
    LogInfo("gateway " + node_id_ + " disconnected (" + peer_ + ")");
  }
  { std::lock_guard lock(mu_); }  // a thread that finished us may still be leaving mu_
  delete this;
}

}  // namespace gw
