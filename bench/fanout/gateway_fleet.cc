#include "bench/fanout/gateway_fleet.h"

#include "common/wire_limits.h"

namespace gw::bench {
namespace {

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, size_t index) {
  grpc::ChannelArguments args;
  // A subchannel (connection) of this channel's own, not shared with the other channels.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("gw.fanout.channel", static_cast<int>(index));
  // What the real gateway sets (gateway/config/config_subscriber.cc).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

GatewayFleet::GatewayFleet(FleetOptions options)
    : options_(std::move(options)), barrier_(options_.streams) {}

GatewayFleet::~GatewayFleet() { Close(Clock::now() + std::chrono::seconds(30)); }

void GatewayFleet::Open() {
  const size_t replicas = options_.addresses.size();
  const size_t per_channel = std::max<size_t>(1, options_.streams_per_channel);
  // Channels per replica, then stream i -> replica i % replicas, channel (i / replicas) /
  // per_channel.
  std::vector<std::vector<size_t>> channel_of_replica(replicas);
  for (size_t r = 0; r < replicas; ++r) {
    const size_t streams_here = options_.streams / replicas + (r < options_.streams % replicas);
    const size_t count = (streams_here + per_channel - 1) / per_channel;
    for (size_t c = 0; c < count; ++c) {
      channel_of_replica[r].push_back(channels_.size());
      channels_.push_back(NewChannel(options_.addresses[r], channels_.size()));
      stubs_.push_back(std::make_unique<grpc::GenericStub>(channels_.back()));
    }
  }
  streams_.reserve(options_.streams);
  for (size_t i = 0; i < options_.streams; ++i) {
    streams_.push_back(std::make_unique<SimulatedGateway>(
        i, options_.node_prefix + "-" + std::to_string(i), options_.full_parse, barrier_, counters_,
        [this](size_t index, const grpc::Status& status) { StreamDone(index, status); }));
  }
  for (size_t i = 0; i < options_.streams; ++i) {
    const size_t replica = i % replicas;
    const size_t channel = channel_of_replica[replica][(i / replicas) / per_channel];
    {
      std::lock_guard lock(mu_);
      ++started_;
    }
    streams_[i]->Start(*stubs_[channel]);
  }
}

void GatewayFleet::StreamDone(size_t index, const grpc::Status& status) {
  bool unexpected;
  {
    std::lock_guard lock(mu_);
    ++done_;
    unexpected = !closing_;
    all_done_.notify_all();
  }
  if (unexpected) {
    barrier_.Break("stream " + options_.node_prefix + "-" + std::to_string(index) +
                   " ended: code " + std::to_string(static_cast<int>(status.error_code())) + " " +
                   status.error_message());
  }
}

bool GatewayFleet::WaitAcked(uint64_t version, Clock::time_point deadline) {
  return barrier_.WaitFor(version, deadline);
}

std::optional<Clock::time_point> GatewayFleet::LastFirstAck(uint64_t version) const {
  std::optional<Clock::time_point> last;
  for (const auto& stream : streams_) {
    const auto first = stream->FirstAckAtOrAbove(version);
    if (!first) return std::nullopt;
    if (!last || *first > *last) last = first;
  }
  return last;
}

std::string GatewayFleet::SomeNack() const {
  for (const auto& stream : streams_) {
    if (std::string nack = stream->last_nack(); !nack.empty()) return nack;
  }
  return "";
}

bool GatewayFleet::Close(Clock::time_point deadline) {
  if (closed_) return true;
  closed_ = true;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  for (auto& stream : streams_) stream->Cancel();
  std::unique_lock lock(mu_);
  if (!all_done_.wait_until(lock, deadline, [&] { return done_ == started_; })) {
    // gRPC may still call these: never free them under it.
    for (auto& stream : streams_) stream.release();
    for (auto& stub : stubs_) stub.release();
    for (auto& channel : channels_) new std::shared_ptr<grpc::Channel>(std::move(channel));
    return false;
  }
  return true;
}

}  // namespace gw::bench
