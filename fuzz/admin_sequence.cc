#include "fuzz/admin_sequence.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <deque>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <vector>

#include "common/validation.h"
#include "common/wire_limits.h"
#include "controlplane/store/config_store.h"
#include "gateway/http/proxy_settings.h"
#include "gateway/router/route_table.h"
#include "tests/unit/support/test_certificates.h"

namespace gw::fuzz {
namespace {

using gateway::v1::Certificate;
using gateway::v1::Config;
using gateway::v1::Consumer;
using gateway::v1::Route;
using gateway::v1::RouteKey;
using gateway::v1::Service;
using google::protobuf::FieldMask;

constexpr size_t kMaxCommands = 300;

// Choices read from the input; an exhausted input reads zeros (and ends the sequence).
class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // 0..n-1 (n at most 65536).
  uint32_t Below(uint32_t n) {
    const uint32_t value = n <= 256 ? Byte() : (uint32_t{Byte()} << 8) | Byte();
    return value % n;
  }
  bool OneIn(uint32_t n) { return Below(n) == 0; }
  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return values.begin()[Below(static_cast<uint32_t>(values.size()))];
  }
  // Mostly one of `good`; now and then one of `bad` (values the store must refuse), so that a
  // command carrying several values is still accepted often.
  template <typename T>
  T Pick(std::initializer_list<T> good, std::initializer_list<T> bad) {
    return OneIn(16) ? Pick(bad) : Pick(good);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Pools small enough that commands run into each other.
constexpr std::initializer_list<const char*> kServices = {"a-svc", "b-svc", "c-svc", "d-svc"};
constexpr std::initializer_list<const char*> kBadServices = {"PaymentSvc", "-svc"};
constexpr std::initializer_list<const char*> kConsumers = {"alice", "bob"};
constexpr std::initializer_list<const char*> kBadConsumers = {"Bad_Name"};
constexpr std::initializer_list<const char*> kCertificates = {"api", "web"};
constexpr std::initializer_list<const char*> kBadCertificates = {"Api_1"};

// Certificate material made once per process (key generation is slow): two valid pairs, and
// one expired (refused by every write).
struct CertificatePool {
  gw::testing::TestCertificate a = gw::testing::MakeCertificate({.dns_names = {"a.example"}});
  gw::testing::TestCertificate b = gw::testing::MakeCertificate({.dns_names = {"b.example"}});
  gw::testing::TestCertificate expired =
      gw::testing::MakeCertificate({.not_before_s = -3 * 86400, .not_after_s = -86400});
};
const CertificatePool& Pool() {
  static const CertificatePool pool;
  return pool;
}

// A certificate write's input: mostly a valid pair, sometimes an expired one, a key that is not
// its certificate's, or no key at all.
Certificate CertificateOf(Choices& in) {
  Certificate certificate;
  certificate.set_name(in.Pick(kCertificates, kBadCertificates));
  const auto& pool = Pool();
  const gw::testing::TestCertificate* pair = in.Pick({&pool.a, &pool.b}, {&pool.expired});
  certificate.set_cert_pem(pair->cert_pem);
  switch (in.Below(16)) {
    case 0:
      certificate.set_key_pem(pair == &pool.a ? pool.b.key_pem : pool.a.key_pem);  // mismatched
      break;
    case 1:
      break;  // no key
    default:
      certificate.set_key_pem(pair->key_pem);
  }
  certificate.set_is_default(in.OneIn(2));
  return certificate;
}

std::string PathOf(Choices& in) {
  if (in.OneIn(16)) return in.Pick({"/x y", "api", "/a/../b", ""});  // refused
  switch (in.Below(8)) {
    case 0:
      return "/";
    case 1:
      return "/api";
    case 2:
      return "/api/pay";
    case 3:
      return "/hc";
    case 4:
      return "/amb";
    case 5:
      return "/a%2Fb";
    case 6:
      return "/long/" + std::string(100 + in.Below(900), 'p');  // fills the size limit
    default:
      return "/r" + std::to_string(in.Below(40));
  }
}

// A route's identity (Route or RouteKey: both have these fields).
template <typename Message>
void FillIdentity(Choices& in, Message& m, bool key) {
  m.set_path(PathOf(in));
  if (key) {
    m.set_match(in.Pick(
        {gateway::v1::MATCH_UNSPECIFIED, gateway::v1::MATCH_PREFIX, gateway::v1::MATCH_EXACT}));
  } else {
    m.set_match(in.OneIn(3) ? gateway::v1::MATCH_EXACT : gateway::v1::MATCH_PREFIX);
  }
  if (in.OneIn(3))
    m.set_host(in.Pick({"api.example.com", "*.example.com", "API.Example.COM"}, {"bad_host", "*"}));
  if (in.OneIn(4)) {
    const uint32_t count = 1 + in.Below(3);
    for (uint32_t i = 0; i < count; ++i)
      m.add_methods(in.Pick({"GET", "post", "DELETE"}, {"G(T", ""}));
  }
  const uint32_t headers = in.OneIn(2) ? in.Below(4) : 0;
  for (uint32_t i = 0; i < headers; ++i) {
    auto* header = m.add_headers();
    header->set_name(in.Pick({"x", "y", "X", "x-v"}, {"bad name", ""}));
    header->set_value(in.Pick({"1", "2", "1, header y=2", "x=1", "a b", "", "\"q\"",
                               "0123456789abcdef0123456789abcdef0123456789abcdef"},
                              {"a\r\nb", "\x7f"}));
  }
}

void FillTarget(Choices& in, Route& route) {
  if (!in.OneIn(4)) {
    route.set_target(in.OneIn(5) ? in.Pick({"legacy.internal:8080", "PaymentSvc", "payment-svc",
                                            "127.0.0.1:9101"},
                                           {"123", "", "bad_host:80"})
                                 : in.Pick(kServices));
    return;
  }
  const uint32_t count = in.OneIn(16) ? 1 : 2 + in.Below(2);  // a lone split is refused
  for (uint32_t i = 0; i < count; ++i) {
    auto* target = route.add_split();
    target->set_target(in.OneIn(6) ? "legacy.internal:8080" : in.Pick(kServices));
    target->set_weight(in.Pick<uint32_t>({1, 50, 100, 10000}, {0, 10001}));
  }
}

// Policy fields, each present with some chance.
void FillPolicies(Choices& in, Route& route) {
  const uint8_t which = in.Byte();
  if (which & 1) route.set_max_body_size(in.Pick<uint64_t>({1024, 1ull << 40}, {(1ull << 40) + 1}));
  if (which & 2) {
    if (in.OneIn(2))
      route.set_strip_prefix(true);
    else
      route.set_rewrite_prefix(in.Pick({"/v2", "/"}, {"v2"}));
    if (in.OneIn(16)) route.set_rewrite_prefix("/both");  // refused with strip_prefix
  }
  if (which & 4) {
    auto* header = route.add_set_request_headers();
    header->set_name(in.Pick({"X-A", "x-b"}, {"Host", "X-Consumer", "Content-Length"}));
    header->set_value(in.Pick({"1", "two words", ""}));
    if (in.OneIn(2))
      route.add_remove_response_headers(in.Pick({"Server", "X-Powered-By"}, {"Transfer-Encoding"}));
  }
  if (which & 8) {
    route.set_timeout_ms(in.Pick<uint64_t>({500, 30000, 0}));
    route.set_retries(in.Pick<uint32_t>({0, 2, 10}, {11}));
    if (in.OneIn(2)) route.set_per_try_timeout_ms(in.Pick<uint64_t>({100, 60000}));
  }
  if (which & 16) {
    auto* limit = route.mutable_rate_limit();
    limit->set_requests(in.Pick<uint64_t>({5, 100}, {0}));
    limit->set_period_seconds(in.Pick<uint32_t>({1, 60, 3600}, {7}));
    if (in.OneIn(2)) limit->set_burst(in.Pick<uint64_t>({10, 1000}));
    limit->set_key(in.Pick({"", "ip", "header:x-user", "consumer"}, {"bogus"}));
  }
  if (which & 32)
    route.set_auth(
        in.Pick({gateway::v1::AUTH_NONE, gateway::v1::AUTH_API_KEY, gateway::v1::AUTH_JWT}));
  if (which & 64) {
    auto* cors = route.mutable_cors();
    cors->add_origins(in.Pick({"*", "https://a.example", "HTTPS://A.example:443"}, {"foo"}));
    if (in.OneIn(2)) cors->set_max_age_seconds(in.Pick<uint32_t>({0, 600}, {90000}));
  }
}

Service ServiceOf(Choices& in) {
  Service service;
  service.set_name(in.Pick(kServices, kBadServices));
  const uint32_t endpoints = in.OneIn(16) ? 0 : 1 + in.Below(3);
  for (uint32_t i = 0; i < endpoints; ++i) {
    auto* endpoint = service.add_endpoints();
    endpoint->set_host(in.Pick({"127.0.0.1", "::1", "backend.internal"}, {"bad_host"}));
    endpoint->set_port(in.Pick<uint32_t>({9101, 9102, 80}, {0}));
  }
  if (in.OneIn(3)) {
    service.set_lb(in.Pick(
        {gateway::v1::LB_ROUND_ROBIN, gateway::v1::LB_LEAST_REQUEST, gateway::v1::LB_RING_HASH}));
    if (service.lb() == gateway::v1::LB_RING_HASH || in.OneIn(16))
      service.set_hash_header("x-user");
  }
  if (in.OneIn(4)) service.mutable_health_check()->set_path(in.Pick({"/healthz"}, {"healthz"}));
  if (in.OneIn(4)) service.set_max_connections(in.Pick<uint32_t>({0, 10, 100000}));
  return service;
}

FieldMask MaskOf(Choices& in, std::initializer_list<const char*> fields) {
  FieldMask mask;
  const uint32_t count = 1 + in.Below(3);
  for (uint32_t i = 0; i < count; ++i) mask.add_paths(in.Pick(fields, {"bogus", ""}));
  return mask;
}

std::string OneLineOf(const google::protobuf::Message& message) {
  std::string text = message.ShortDebugString();
  if (text.size() > 300) text = text.substr(0, 300) + "...";
  return text;
}

class Sequence {
 public:
  Sequence(Choices& in, const std::string& db_path) : in_(in), db_path_(db_path) {
    // Mostly the real limit; sometimes one small enough for long paths to reach it.
    options_.max_config_bytes = in_.OneIn(3) ? 4096 : kMaxConfigBytes;
    store_ = ConfigStore::Open(db_path_, options_);
    auto snapshot = store_->LoadSnapshot();
    if (!snapshot.ok()) throw std::runtime_error(snapshot.error().message);
    current_ = *snapshot;
  }

  SequenceResult Run() {
    while (!in_.empty() && result_.commands < kMaxCommands && result_.failure.empty()) {
      ++result_.commands;
      Step();
    }
    if (result_.failure.empty()) CheckReopen();
    return std::move(result_);
  }

 private:
  void Step() {
    switch (in_.Below(14)) {
      case 0:
      case 1: {
        Service service = ServiceOf(in_);
        Note("service create " + OneLineOf(service));
        Check(store_->CreateService(service));
        break;
      }
      case 2: {
        Service service = ServiceOf(in_);
        FieldMask mask =
            MaskOf(in_, {"endpoints", "lb", "hash_header", "health_check", "max_connections"});
        Note("service update " + OneLineOf(service) + " mask " + OneLineOf(mask));
        Check(store_->UpdateService(service, mask));
        break;
      }
      case 3: {
        const std::string name = in_.Pick(kServices);
        Note("service delete " + name);
        Check(store_->DeleteService(name));
        break;
      }
      case 4:
      case 5:
      case 6: {
        Route route;
        FillIdentity(in_, route, false);
        FillTarget(in_, route);
        FillPolicies(in_, route);
        Note("route create " + OneLineOf(route));
        Check(store_->CreateRoute(route));
        break;
      }
      case 7:
      case 8: {
        Route route;
        ExistingOrNewIdentity(route);
        if (in_.OneIn(3)) route.set_match(gateway::v1::MATCH_UNSPECIFIED);
        FillTarget(in_, route);
        FillPolicies(in_, route);
        FieldMask mask = MaskOf(in_, {"target", "split", "max_body_size", "rate_limit",
                                      "rate_limit.burst", "cors", "timeout_ms", "retries", "auth",
                                      "strip_prefix", "rewrite_prefix", "set_request_headers"});
        Note("route update " + OneLineOf(route) + " mask " + OneLineOf(mask));
        Check(store_->UpdateRoute(route, mask));
        break;
      }
      case 9: {
        RouteKey key;
        ExistingOrNewIdentity(key);
        if (in_.OneIn(3)) key.set_match(gateway::v1::MATCH_UNSPECIFIED);
        Note("route delete " + OneLineOf(key));
        Check(store_->DeleteRoute(key));
        break;
      }
      case 10: {
        Consumer consumer;
        consumer.set_name(in_.Pick(kConsumers, kBadConsumers));
        std::vector<std::string> keys;
        const bool jwt = in_.OneIn(2);
        if (!jwt || in_.OneIn(2))
          keys.push_back(in_.OneIn(16) ? std::string("short")
                                       : "key-0123456789abcdef-" + consumer.name());
        if (jwt) {
          consumer.mutable_jwt()->set_issuer("https://issuer.example");
          consumer.mutable_jwt()->set_secret(
              in_.Pick({"0123456789abcdef0123456789abcdef"}, {"too-short"}));
        }
        Note("consumer create " + OneLineOf(consumer));
        Check(store_->CreateConsumer(consumer, keys));
        break;
      }
      case 11: {
        const std::string name = in_.Pick(kConsumers);
        Note("consumer delete " + name);
        Check(store_->DeleteConsumer(name));
        break;
      }
      case 12: {
        const Certificate certificate = CertificateOf(in_);
        Note("certificate create " + certificate.name() + " default " +
             std::to_string(certificate.is_default()));
        Check(store_->CreateCertificate(certificate));
        break;
      }
      default: {
        const Certificate certificate = CertificateOf(in_);
        if (in_.OneIn(4)) {
          Note("certificate delete " + certificate.name());
          Check(store_->DeleteCertificate(certificate.name()));
          break;
        }
        FieldMask mask = MaskOf(in_, {"cert_pem", "key_pem", "is_default"});
        Note("certificate update " + certificate.name() + " mask " + OneLineOf(mask));
        Check(store_->UpdateCertificate(certificate, mask));
        break;
      }
    }
  }

  // Mostly the identity of a stored route (so that updates and deletes find one), else any.
  template <typename Message>
  void ExistingOrNewIdentity(Message& m) {
    if (current_->routes_size() == 0 || in_.OneIn(4)) return FillIdentity(in_, m, false);
    const Route& route = current_->routes(
        static_cast<int>(in_.Below(static_cast<uint32_t>(current_->routes_size()))));
    m.set_path(route.path());
    m.set_match(route.match());
    m.set_host(route.host());
    *m.mutable_methods() = route.methods();
    *m.mutable_headers() = route.headers();
  }

  void Note(std::string command) {
    log_.push_back(std::to_string(result_.commands) + ": " + std::move(command));
    if (log_.size() > 12) log_.pop_front();
  }

  void Fail(const std::string& what) {
    std::string failure = what + "\nlast commands:";
    for (const std::string& line : log_) failure += "\n  " + line;
    result_.failure = std::move(failure);
  }

  // The snapshot a write returned (every *Write type has one; reads answer ConfigPtr).
  static ConfigPtr SnapshotOf(const ServiceWrite& write) { return write.snapshot; }
  static ConfigPtr SnapshotOf(const RouteWrite& write) { return write.snapshot; }
  static ConfigPtr SnapshotOf(const ConsumerWrite& write) { return write.snapshot; }
  static ConfigPtr SnapshotOf(const CertificateWrite& write) { return write.snapshot; }
  static ConfigPtr SnapshotOf(const ConfigPtr& snapshot) { return snapshot; }

  template <typename T>
  void Check(const StoreResult<T>& result) {
    auto stored = store_->LoadSnapshot();
    if (!stored.ok()) return Fail("LoadSnapshot failed: " + stored.error().message);
    if (!result.ok()) {
      const std::string& message = result.error().message;
      if (message.empty() || message.find('\n') != std::string::npos ||
          message.size() > kMaxStatusMessageBytes)
        return Fail("a refusal is not one short line (" + std::to_string(message.size()) +
                    " bytes): " + message.substr(0, 500));
      if (result.error().code == StoreCode::kResourceExhausted) ++result_.refused_for_size;
      if (result.error().code == StoreCode::kInternal) return Fail("internal error: " + message);
      if (!google::protobuf::util::MessageDifferencer::Equals(**stored, *current_))
        return Fail("a refused command (" + message + ") changed the config");
      return;
    }
    ++result_.accepted;
    const ConfigPtr written = SnapshotOf(*result);
    const uint64_t before = current_->version();
    if (written->version() != before && written->version() != before + 1)
      return Fail("version went from " + std::to_string(before) + " to " +
                  std::to_string(written->version()));
    if (!google::protobuf::util::MessageDifferencer::Equals(**stored, *written))
      return Fail("the store holds another config than the write returned");
    if (std::string error = ValidateConfig(*written); !error.empty())
      return Fail("version " + std::to_string(written->version()) +
                  " fails ValidateConfig: " + error);
    std::string error;
    if (!RouteTable::Build(*written, ProxySettings{}.max_routes, &error, &registries_))
      return Fail("a gateway would NACK version " + std::to_string(written->version()) + ": " +
                  error);
    if (written->ByteSizeLong() > options_.max_config_bytes)
      return Fail("version " + std::to_string(written->version()) + " is " +
                  std::to_string(written->ByteSizeLong()) + " bytes, over the limit");
    current_ = written;
  }

  void CheckReopen() {
    store_.reset();
    store_ = ConfigStore::Open(db_path_, options_);
    auto reopened = store_->LoadSnapshot();
    if (!reopened.ok()) return Fail("reopening: " + reopened.error().message);
    if (!google::protobuf::util::MessageDifferencer::Equals(**reopened, *current_))
      return Fail("the reopened database holds another config");
  }

  Choices& in_;
  const std::string db_path_;
  ConfigStoreOptions options_;
  std::unique_ptr<ConfigStore> store_;
  ConfigPtr current_;
  PolicyRegistries registries_;  // carried from one version to the next, as a gateway does
  std::deque<std::string> log_;
  SequenceResult result_;
};

}  // namespace

SequenceResult RunAdminSequence(const uint8_t* data, size_t size, const std::string& db_path) {
  Choices in(data, size);
  return Sequence(in, db_path).Run();
}

}  // namespace gw::fuzz
