// ConfigSubscriber: keeps the gateway subscribed to the control plane (over TLS with
// --control-plane-ca, showing a client certificate or a bearer token when given). Owned by the
// gateway's main; it owns one thread that opens a DiscoveryService.Subscribe stream, sends the
// Hello, and answers every push through a Subscription (apply -> Ack/Nack). When the stream ends it
// waits a jittered backoff and reconnects, forever; the gateway keeps serving its last config
// meanwhile, and the next Hello tells the control plane why the stream ended (shown by
// `gatewayctl gateways`; counted by gRPC status code in /metrics). gRPC keepalive detects a
// control plane that vanished without closing the stream. Messages up to kMaxGrpcMessageBytes
// are received (common/wire_limits.h): every config the control plane may store.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/tls_files.h"
#include "gateway.grpc.pb.h"
#include "gateway/config/config_applier.h"

namespace gw {

struct SubscriberOptions {
  // HOST:PORT[,HOST:PORT...]: the control plane's replicas. After a failed stream the next one
  // is tried (a DNS name that resolves to several addresses is tried address by address by
  // gRPC itself).
  std::string control_plane;
  std::string node_id;
  std::string listen_address;  // announced in Hello
  // TLS to the control plane when tls.ca is set (with a client certificate when tls.cert is),
  // files re-read when they change; and the bearer token file, re-read when it changes.
  TlsFilePaths tls;
  std::string token_file;
  std::chrono::milliseconds max_backoff{2000};
};

class ConfigSubscriber {
 public:
  // Reads the certificate and token files; throws std::runtime_error with one sentence when one
  // is unreadable or bad.
  ConfigSubscriber(SubscriberOptions options, ConfigApplier& applier);
  ~ConfigSubscriber();  // Stop()
  ConfigSubscriber(const ConfigSubscriber&) = delete;
  ConfigSubscriber& operator=(const ConfigSubscriber&) = delete;

  void Start();
  void Stop();  // cancels the stream, joins the thread; safe to call twice
  bool connected() const;
  uint64_t stream_attempts() const;  // streams tried, successful or not (tests, metrics)
  uint64_t streams_opened() const;   // streams that got as far as the Hello
  // Why the last stream or attempt failed ("CODE: message"; "" before any failure, and again
  // once a stream delivers a config).
  std::string last_stream_error() const;
  // Failed streams and attempts since start, by gRPC status code name, sorted by name.
  std::map<std::string, uint64_t> stream_failures() const;

 private:
  struct StreamOutcome {
    bool connected = false;  // the Hello went out
    std::chrono::steady_clock::time_point connected_at;
    bool delivered = false;  // at least one push arrived
    std::string code;        // gRPC status code name it ended with ("OK": closed by the peer)
    std::string reason;      // why it ended
  };

  void Run();
  // The token to send ("" for none): the token file's first line, re-read when the file changed;
  // a file that became unreadable or empty keeps the previous token (logged once).
  std::string Token();
  // Why a stream to `address` that never connected failed, at the TLS layer ("" when not).
  std::string DiagnoseConnect(const std::string& address) const;
  // One stream from start to end; `announce` logs "control plane connected".
  StreamOutcome RunStream(grpc::ClientContext& context, bool announce);
  bool Stopping();

  const SubscriberOptions options_;
  ConfigApplier& applier_;
  std::unique_ptr<WatchedTlsFiles> tls_;
  std::string token_;  // the Run thread's alone, as token_stamp_
  std::string token_stamp_;
  struct Replica {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<gateway::v1::DiscoveryService::Stub> stub;
  };
  std::vector<Replica> replicas_;  // one per address of options_.control_plane
  size_t at_ = 0;                  // the replica streamed to; the Run thread's alone

  std::mutex lifecycle_mutex_;  // Start/Stop against each other
  std::thread thread_;

  const std::string instance_id_;  // Hello.instance_id: random per process

  mutable std::mutex mutex_;      // guards stopping_, context_ and the failure record
  std::condition_variable wake_;  // interrupts the backoff sleep on Stop
  bool stopping_ = false;
  grpc::ClientContext* context_ = nullptr;  // the live stream's, so Stop can cancel it
  std::string last_error_;
  std::map<std::string, uint64_t> failures_;

  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> stream_attempts_{0};
  std::atomic<uint64_t> streams_opened_{0};
};

}  // namespace gw
