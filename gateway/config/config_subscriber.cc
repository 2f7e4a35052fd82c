#include "gateway/config/config_subscriber.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>

#include "common/file_watch.h"
#include "common/log.h"
#include "common/tls_probe.h"
#include "common/validation.h"
#include "common/wire_limits.h"
#include "gateway/config/backoff.h"
#include "gateway/config/subscription.h"

namespace gw {
namespace {

constexpr std::chrono::milliseconds kInitialBackoff{100};

// The answers (Ack/Nack) of one stream, in push order, from the reading thread to the answering
// thread.
class AnswerQueue {
 public:
  void Push(gateway::v1::GatewayMessage answer) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(answer));
    }
    ready_.notify_one();
  }

  void Close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_one();
  }

  // The next answer; nullopt once closed and drained.
  std::optional<gateway::v1::GatewayMessage> Pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return std::nullopt;
    auto answer = std::move(queue_.front());
    queue_.pop_front();
    return answer;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<gateway::v1::GatewayMessage> queue_;
  bool closed_ = false;
};
// A stream that stayed up this long counts as healthy even if it delivered nothing (the control
// plane pushes nothing when we already run its version): the next outage starts a fresh backoff.
constexpr std::chrono::seconds kHealthyStream{1};

std::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

std::string StatusText(const grpc::Status& status) {
  if (status.ok()) return "the control plane closed the stream";
  std::string text(StatusCodeName(status.error_code()));
  if (!status.error_message().empty()) text += ": " + status.error_message();
  return StatusMessage(text);
}

// 128 random bits in hex.
std::string NewInstanceId() {
  std::random_device random;
  std::string id;
  char digits[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(digits, sizeof digits, "%08x", static_cast<unsigned>(random()));
    id += digits;
  }
  return id;
}

std::shared_ptr<grpc::Channel> MakeChannel(const SubscriberOptions& options,
                                           const std::string& address,
                                           std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  // Keepalive: notice a control plane that vanished without closing the connection. The
  // control plane must accept pings this often (min recv ping interval <= 10 s).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly: a restarted control plane is found within max_backoff. MIN is also the
  // floor of each connect attempt's timeout, so it stays long enough for a remote handshake.
  const int max_backoff_ms = static_cast<int>(
      std::clamp<int64_t>(options.max_backoff.count(), kInitialBackoff.count(), 60000));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(kInitialBackoff.count()));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff_ms);
  // Every config the control plane may store, never gRPC's 4 MiB default.
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  return grpc::CreateCustomChannel(address, std::move(credentials), args);
}

// The first line of a token file, trimmed; "" with *error set when there is none.
std::string ReadToken(const std::string& path, std::string* error) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    *error = "cannot read token file " + path;
    return "";
  }
  const auto visible = [](char c) { return c > ' ' && c < 127; };
  const auto begin = std::find_if(line.begin(), line.end(), visible);
  const auto end = std::find_if(begin, line.end(), [&](char c) { return !visible(c); });
  std::string token(begin, end);
  if (token.empty() || std::find_if(end, line.end(), visible) != line.end())
    *error = "token file " + path +
             " does not hold one token (visible characters, no spaces) "
             "on its first line";
  return token;
}

}  // namespace

ConfigSubscriber::ConfigSubscriber(SubscriberOptions options, ConfigApplier& applier)
    : options_(std::move(options)), applier_(applier), instance_id_(NewInstanceId()) {
  if (!options_.tls.ca.empty())
    tls_ = std::make_unique<WatchedTlsFiles>(options_.tls, "control plane TLS");
  if (!options_.token_file.empty()) {
    std::string error;
    token_stamp_ = FileStamp({options_.token_file});
    token_ = ReadToken(options_.token_file, &error);
    if (!error.empty()) throw std::runtime_error(error);
  }
  const auto credentials = tls_ ? tls_->ChannelCredentials() : grpc::InsecureChannelCredentials();
  for (std::string& address : SplitList(options_.control_plane)) {
    Replica replica{std::move(address), nullptr, nullptr};
    replica.channel = MakeChannel(options_, replica.address, credentials);
    replica.stub = gateway::v1::DiscoveryService::NewStub(replica.channel);
    replicas_.push_back(std::move(replica));
  }
}

ConfigSubscriber::~ConfigSubscriber() { Stop(); }

void ConfigSubscriber::Start() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (thread_.joinable() || Stopping()) return;  // running, or stopped for good
  thread_ = std::thread([this] { Run(); });
}

void ConfigSubscriber::Stop() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ConfigSubscriber::connected() const { return connected_.load(); }

uint64_t ConfigSubscriber::streams_opened() const { return streams_opened_.load(); }

uint64_t ConfigSubscriber::stream_attempts() const { return stream_attempts_.load(); }

std::string ConfigSubscriber::last_stream_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

std::map<std::string, uint64_t> ConfigSubscriber::stream_failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::string ConfigSubscriber::Token() {
  if (options_.token_file.empty()) return "";
  const std::string stamp = FileStamp({options_.token_file});
  if (stamp == token_stamp_) return token_;
  token_stamp_ = stamp;
  std::string error;
  std::string token = ReadToken(options_.token_file, &error);
  if (!error.empty()) {
    LogWarn(error + "; the previous token stays in use");
  } else if (token != token_) {
    LogInfo("token file " + options_.token_file + " changed: the next stream uses the new token");
    token_ = std::move(token);
  }
  return token_;
}

std::string ConfigSubscriber::DiagnoseConnect(const std::string& address) const {
  TlsProbeRequest probe;
  probe.address = address;
  probe.tls = !options_.tls.ca.empty();
  probe.ca_file = options_.tls.ca;
  probe.ca_flag = "--control-plane-ca";
  return DiagnoseTls(probe);
}

bool ConfigSubscriber::Stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void ConfigSubscriber::Run() {
  LogInfo("connecting to control plane " + options_.control_plane + " as node " + options_.node_id +
          " (running version " + std::to_string(applier_.version()) + ")");
  Backoff backoff(kInitialBackoff, options_.max_backoff);
  // One warning per outage, not one per attempt: an outage ends with a healthy stream.
  bool outage_logged = false;
  bool connected_logged = false;
  while (true) {
    grpc::ClientContext context;
    // The first attempt of an outage fails fast, so an unreachable control plane is reported
    // with gRPC's reason. Later attempts wait for the channel to connect: the stream then
    // starts the moment the control plane is back (the channel's reconnect backoff is short).
    // With several replicas no attempt waits: the next replica is tried instead.
    context.set_wait_for_ready(outage_logged && replicas_.size() == 1);
    if (std::string token = Token(); !token.empty())
      context.AddMetadata("authorization", "Bearer " + token);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      context_ = &context;
    }
    stream_attempts_.fetch_add(1);
    const StreamOutcome outcome = RunStream(context, /*announce=*/!connected_logged);
    {
      std::lock_guard lock(mutex_);
      context_ = nullptr;
    }
    connected_.store(false);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      last_error_ = outcome.reason;  // told to the control plane in the next Hello
      ++failures_[outcome.code];
    }
    if (outcome.connected) connected_logged = true;

    const bool stayed_up =
        outcome.connected &&
        std::chrono::steady_clock::now() - outcome.connected_at >= kHealthyStream;
    if (outcome.delivered || stayed_up) {
      backoff.Reset();
      outage_logged = false;
    }
    const std::string& address = replicas_[at_].address;
    // The next attempt goes to the next replica, if there is another.
    at_ = (at_ + 1) % replicas_.size();
    const std::string next =
        replicas_.size() > 1 ? "; trying " + replicas_[at_].address : "; retrying";
    if (!outage_logged) {
      if (outcome.code == "UNAUTHENTICATED" || outcome.code == "PERMISSION_DENIED") {
        LogError("control plane " + address + " refused this gateway: " + outcome.reason + next);
      } else if (outcome.connected) {
        LogWarn("control plane stream lost (" + address + "): " + outcome.reason + next);
      } else {
        const std::string tls = outcome.code == "UNAVAILABLE" ? DiagnoseConnect(address) : "";
        LogWarn("control plane " + address +
                " unreachable: " + (tls.empty() ? outcome.reason : tls) + next);
      }
      outage_logged = true;
      connected_logged = false;
    }

    const std::chrono::milliseconds delay = backoff.Next();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, delay, [&] { return stopping_; })) return;
  }
}

ConfigSubscriber::StreamOutcome ConfigSubscriber::RunStream(grpc::ClientContext& context,
                                                            bool announce) {
  StreamOutcome outcome;
  // Starts the call: with wait_for_ready this blocks until the channel connects, or until
  // Stop() cancels the context.
  const Replica& replica = replicas_[at_];
  auto stream = replica.stub->Subscribe(&context);
  Subscription subscription({options_.node_id, options_.listen_address, instance_id_}, applier_);
  const auto finish = [&] {
    const grpc::Status status = stream->Finish();
    outcome.code = StatusCodeName(status.error_code());
    outcome.reason = StatusText(status);
  };
  if (!stream->Write(subscription.Hello(last_stream_error()))) {
    finish();
    return outcome;
  }
  outcome.connected = true;
  outcome.connected_at = std::chrono::steady_clock::now();
  connected_.store(true);
  streams_opened_.fetch_add(1);
  if (announce) LogInfo("control plane connected (" + replica.address + ")");

  // Reading and applying go on here; the answers go out in order from the answering thread, so
  // a push that arrives while the cache file is being written is applied at once.
  AnswerQueue answers;
  std::thread answering([&] {
    while (auto answer = answers.Pop()) {
      // ACK: serving, and persisted unless the cache error says otherwise.
      if (answer->has_ack()) answer->mutable_ack()->set_cache_error(applier_.FlushCache());
      if (!stream->Write(*answer)) {
        context.TryCancel();  // the stream is gone: end the Read below too
        return;
      }
    }
  });
  gateway::v1::ConfigMessage message;
  while (stream->Read(&message)) {
    if (!outcome.delivered) {
      // This stream works (and its Hello told the control plane the last failure).
      std::lock_guard lock(mutex_);
      last_error_.clear();
    }
    outcome.delivered = true;
    answers.Push(subscription.OnConfig(message));  // the table is published inside
  }
  answers.Close();
  answering.join();
  finish();
  return outcome;
}

}  // namespace gw
