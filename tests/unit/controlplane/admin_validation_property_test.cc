// The properties of fuzz/admin_api.h (what the store promises of arbitrary admin requests: a
// refused write changes nothing, an accepted one changes what it names by one version, the
// canonical form is a fixed point, nothing is half-stored) on seeded random call sequences, on
// both store backends, and on every seed of the admin_api fuzzer's corpus.
//
// The generator builds structurally plausible requests from small pools (names that collide,
// paths and header values with odd bytes, out-of-range enums and numbers, field masks naming
// unknown fields), refers back to routes it created (by their identity, in other cases, or by
// fewer conditions), and now and then mutates a request's serialized bytes and parses it back,
// as a fuzzer would. Strings stay UTF-8: gRPC refuses a request whose strings are not.
//
// ADMIN_API_SEED=N runs only sequence N (the seed a failure names); ADMIN_API_SEQUENCES=N runs
// sequences 1..N (a longer search than the default);
// ADMIN_API_CORPUS_OUT=DIR writes the first sequences there, as the fuzzer's seeds were made.
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "admin_calls.pb.h"
#include "common/api_key.h"
#include "fuzz/admin_api.h"
#include "tests/unit/controlplane/store_backends.h"

namespace gw {
namespace {

using gateway::fuzz::AdminCall;
using gateway::fuzz::AdminCalls;
using gateway::v1::Route;
using gateway::v1::RouteKey;
using gateway::v1::Service;
using testing::Backend;
using testing::StoreLocation;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kU32Max = std::numeric_limits<uint32_t>::max();

const std::string kRsaPublicKeyPem = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAo9pNPw/t7Op5XWo/kSsT
m9677gG1EDT4z42dvXi2uPgF9gMaDbEKM/HZv3JgPBhi+oq/UfRiuzqojwbErR+D
s/iw3TvWLXXkYMSuxzaC8U2SxOPVbbVlPoNKqP74H4XAV5G/ctLqL/ORCuSd0Ly3
K80MFawOEeFsZ8kvAN74Iadmqx8gUPSEU+3r5bx7+M25YnG9PnuTfRRdG5QZ2b2m
2TtnH7A1klcC8uIp1rfNIQGgoEneFKV/zlA4HgwWgcPPO6Nq2eQGU8De4NGbMUL9
qqhNBAMczTyP54GEwasES4+2L6B2VE1DbaZOMlWTsLwqGxxxoF3O+ZguChMv4yA7
7wIDAQAB
-----END PUBLIC KEY-----
)";

class Generator {
 public:
  explicit Generator(uint64_t seed) : random_(seed) {}

  AdminCalls Sequence() {
    AdminCalls calls;
    routes_.clear();
    // Mostly the real limit; sometimes one that a few routes reach.
    if (OneIn(4)) calls.set_max_config_bytes(Pick<uint64_t>({600, 2048, 4096, 1}));
    const uint32_t count = 1 + Below(OneIn(3) ? 48 : 16);
    for (uint32_t i = 0; i < count; ++i) *calls.add_calls() = Call();
    if (OneIn(16)) calls = Mutated(calls);
    return calls;
  }

 private:
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(random_() % n); }
  bool OneIn(uint32_t n) { return Below(n) == 0; }
  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return values.begin()[Below(static_cast<uint32_t>(values.size()))];
  }
  std::string Pick(std::initializer_list<const char*> values) {
    return values.begin()[Below(static_cast<uint32_t>(values.size()))];
  }
  // One of `good` mostly, else one of `bad`.
  std::string Pick(std::initializer_list<const char*> good,
                   std::initializer_list<const char*> bad) {
    return Bad(8) ? Pick(bad) : Pick(good);
  }
  template <typename T>
  T Pick(std::initializer_list<T> good, std::initializer_list<T> bad) {
    return Bad(8) ? Pick(bad) : Pick(good);
  }
  // Whether to use a bad value (one in n), never in a clean call.
  bool Bad(uint32_t n) { return !clean_ && OneIn(n); }

  // Odd bytes, all UTF-8.
  std::string Weird() {
    switch (Below(10)) {
      case 0:
        return std::string("a\0b", 3);
      case 1:
        return "a\r\nb";
      case 2:
        return "\x7f";
      case 3:
        return "\xc3\xa9";  // é
      case 4:
        return "\xf0\x9f\x98\x80";  // an emoji
      case 5:
        return std::string(1 + Below(3000), 'x');
      case 6:
        return "%00";
      case 7:
        return "\t";
      case 8:
        return " ";
      default:
        return "\"";
    }
  }

  std::string ServiceName() {
    if (Bad(10)) return Pick({"", "A-svc", "-svc", "svc-", "9svc", "a_b", "a.b"});
    if (Bad(20)) return "s" + Weird();
    if (Bad(40)) return std::string(64, 'a');
    return Pick({"a-svc", "b-svc", "c-svc"});
  }
  std::string ConsumerName() {
    if (Bad(10)) return Pick({"", "Alice", "bad_name", "-x"});
    if (Bad(20)) return "c" + Weird();
    return Pick({"alice", "bob", "carol"});
  }

  std::string Path() {
    if (Bad(6)) {
      if (OneIn(3)) return "/" + Weird();
      if (OneIn(8)) return "/long/" + std::string(1100, 'p');  // over kMaxRoutePathLength
      return Pick(
          {"/api/", "//api", "/a/../b", "/./a", "api", "", "/a?b", "/a#b", "/%zz", "/A", "/%41"});
    }
    switch (Below(16)) {
      case 0:
        return "/";
      case 1:
        return "/api";
      case 2:
        return "/api/pay";
      case 3:
        return "/a%2Fb";
      case 4:
      case 5:
        return "/long/" + std::string(Below(1000), 'p');  // fills a small size limit
      default:
        return "/r" + std::to_string(Below(6));
    }
  }
  std::string Host() {
    return Pick({"api.example.com", "*.example.com", "API.Example.COM"},
                {"bad_host", "*", "*.", "1.2.3.4", "[::1]", "::1", "a..b", "", "-a.com",
                 "xn--bcher-kva.example"});
  }
  std::string HeaderName() {
    return Bad(10) ? Pick({"bad name", "", "x\r", "X_Y", "Host", ":authority"})
                   : Pick({"x", "X", "x-v", "X-V"});
  }
  std::string HeaderValue() {
    if (Bad(6)) return Weird();
    return Pick({"1", "2", "1, header y=2", "x=1", "a b", "", "\"q\"", "=", "a=b=c"});
  }

  template <typename Message>  // Route or RouteKey
  void Conditions(Message* m) {
    if (OneIn(3)) m->set_host(Host());
    if (OneIn(4)) {
      const uint32_t n = Bad(20) ? 20 : 1 + Below(3);
      for (uint32_t i = 0; i < n; ++i)
        m->add_methods(Pick({"GET", "post", "DELETE", "GET"}, {"G(T", "", "get ", "\xc3\xa9"}));
    }
    const uint32_t headers = OneIn(3) ? (Bad(20) ? 20 : 1 + Below(3)) : 0;
    for (uint32_t i = 0; i < headers; ++i) {
      auto* header = m->add_headers();
      header->set_name(HeaderName());
      header->set_value(HeaderValue());
    }
  }
  gateway::v1::MatchKind Match(bool key) {
    if (Bad(25)) return static_cast<gateway::v1::MatchKind>(Pick<int>({3, 99, -1}));
    if (key && OneIn(3)) return gateway::v1::MATCH_UNSPECIFIED;
    if (!key && Bad(25)) return gateway::v1::MATCH_UNSPECIFIED;
    return OneIn(3) ? gateway::v1::MATCH_EXACT : gateway::v1::MATCH_PREFIX;
  }

  std::string Target() {
    if (OneIn(3))
      return Pick(
          {"legacy.internal:8080", "PaymentSvc", "payment-svc", "127.0.0.1:9101", "[::1]:80"},
          {"", "host:0", "host:65536", ":80", "a b", "123", "bad_host:80", "[::1]"});
    return ServiceName();
  }

  void Targets(Route* route) {
    if (!OneIn(3)) {
      route->set_target(Target());
      return;
    }
    const uint32_t n = Bad(10) ? Pick<uint32_t>({0, 1, 17}) : 2 + Below(3);
    for (uint32_t i = 0; i < n; ++i) {
      auto* target = route->add_split();
      target->set_target(Target());
      target->set_weight(Pick<uint32_t>({1, 50, 100, 10000}, {0, 10001, kU32Max}));
    }
    if (Bad(20)) route->set_target("a-svc");  // both: refused
  }

  void HeaderValues(google::protobuf::RepeatedPtrField<gateway::v1::HeaderValue>* values) {
    const uint32_t n = Bad(30) ? 130 : 1 + Below(2);
    for (uint32_t i = 0; i < n; ++i) {
      auto* value = values->Add();
      value->set_name(Bad(6) ? Pick({"Host", "X-Consumer", "Content-Length", "Connection",
                                     "Transfer-Encoding", "", "a b"})
                             : Pick({"X-A", "x-b", "X-A"}));
      value->set_value(Bad(6) ? Weird() : Pick({"1", "two words", ""}));
    }
  }
  void HeaderNames(google::protobuf::RepeatedPtrField<std::string>* names) {
    const uint32_t n = 1 + Below(2);
    for (uint32_t i = 0; i < n; ++i)
      *names->Add() = Pick({"Server", "X-Powered-By", "x-b"},
                           {"Transfer-Encoding", "Host", "", "a b", "Connection"});
  }

  void Policies(Route* route) {
    const uint32_t which = Below(1u << 12);
    if (which & 1)
      route->set_max_body_size(Pick<uint64_t>({1024, 1ull << 40}, {(1ull << 40) + 1, kU64Max}));
    if (which & 2) {
      if (OneIn(2)) route->set_strip_prefix(true);
      if (OneIn(2)) route->set_rewrite_prefix(Pick({"/v2", "/"}, {"v2", "/a/../b", "/v2/", "/\t"}));
    }
    if (which & 4) HeaderValues(route->mutable_set_request_headers());
    if (which & 8) HeaderNames(route->mutable_remove_request_headers());
    if (which & 16) HeaderValues(route->mutable_set_response_headers());
    if (which & 32) HeaderNames(route->mutable_remove_response_headers());
    if (which & 64) {
      route->set_timeout_ms(Pick<uint64_t>({500, 30000, 0}, {kU64Max, 1}));
      route->set_retries(Pick<uint32_t>({0, 2, 10}, {11, kU32Max}));
      if (OneIn(2)) route->set_per_try_timeout_ms(Pick<uint64_t>({100, 60000}, {kU64Max}));
    }
    if (which & 128) {
      auto* limit = route->mutable_rate_limit();
      if (!OneIn(10)) limit->set_requests(Pick<uint64_t>({5, 100}, {0, kU64Max}));
      if (!OneIn(10)) limit->set_period_seconds(Pick<uint32_t>({1, 60, 3600}, {0, 7, kU32Max}));
      if (OneIn(2)) limit->set_burst(Pick<uint64_t>({10, 1000}, {kU64Max, 1}));
      limit->set_key(Pick({"", "ip", "header:x-user", "consumer", "IP"},
                          {"bogus", "header:", "header:a b", "header:X-User"}));
      if (OneIn(4))
        limit->set_scope(static_cast<gateway::v1::RateLimit::Scope>(Pick<int>({0, 1}, {7, -3})));
    }
    if (which & 256)
      route->set_auth(static_cast<gateway::v1::AuthKind>(Pick<int>({0, 1, 2}, {3, 99})));
    if (which & 512) {
      auto* cors = route->mutable_cors();
      const uint32_t n = Below(3);
      for (uint32_t i = 0; i < n; ++i)
        cors->add_origins(Pick({"*", "https://a.example", "HTTPS://A.example:443"},
                               {"foo", "", "https://a.example/", "https://a.example:0"}));
      if (OneIn(2)) cors->add_methods(Pick({"get", "PUT"}, {"", "G T"}));
      if (OneIn(2)) cors->add_headers(Pick({"x-a", "Content-Type"}, {"", "a b"}));
      if (OneIn(2)) cors->set_max_age_seconds(Pick<uint32_t>({0, 600}, {90000, kU32Max}));
    }
  }

  Route NewRoute() {
    Route route;
    route.set_path(Path());
    route.set_match(Match(false));
    Conditions(&route);
    Targets(&route);
    Policies(&route);
    if (OneIn(20)) route.set_version(Pick<uint64_t>({1, 7, kU64Max}));
    return route;
  }

  // A route key: mostly the identity of a route created earlier in the sequence (as sent, in
  // other cases, without its kind, or with fewer conditions), else a new one.
  template <typename Message>
  void RouteIdentity(Message* m) {
    if (routes_.empty() || OneIn(5)) {
      m->set_path(Path());
      m->set_match(Match(true));
      Conditions(m);
      return;
    }
    const Route& route = routes_[Below(static_cast<uint32_t>(routes_.size()))];
    m->set_path(route.path());
    m->set_match(OneIn(3) ? gateway::v1::MATCH_UNSPECIFIED : route.match());
    m->set_host(OneIn(4) ? std::string() : route.host());
    if (!OneIn(4)) *m->mutable_methods() = route.methods();
    if (!OneIn(4)) *m->mutable_headers() = route.headers();
    if (OneIn(5)) {
      std::string host = m->host();
      for (char& c : host) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      m->set_host(host);
      for (auto& method : *m->mutable_methods())
        for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }

  Service NewService() {
    Service service;
    service.set_name(ServiceName());
    const uint32_t n = Bad(10) ? Pick<uint32_t>({0, 70}) : 1 + Below(3);
    for (uint32_t i = 0; i < n; ++i) {
      auto* endpoint = service.add_endpoints();
      endpoint->set_host(OneIn(8) ? Host() : Pick({"127.0.0.1", "::1", "backend.internal"}));
      endpoint->set_port(Pick<uint32_t>({9101, 9102, 80}, {0, 65536, kU32Max}));
    }
    if (OneIn(3)) {
      service.set_lb(static_cast<gateway::v1::LoadBalancing>(Pick<int>({0, 1, 2, 3}, {4, 17})));
      if (service.lb() == gateway::v1::LB_RING_HASH || OneIn(8))
        service.set_hash_header(Pick({"x-user", "X-User"}, {"", "bad name"}));
    }
    if (OneIn(4)) {
      auto* health = service.mutable_health_check();
      health->set_path(Pick({"/healthz", "/"}, {"healthz", "", "/a b"}));
      if (OneIn(2)) health->set_interval_ms(Pick<uint64_t>({0, 1000}, {1, kU64Max}));
      if (OneIn(2)) health->set_unhealthy_threshold(Pick<uint32_t>({0, 3}, {kU32Max}));
      if (OneIn(2)) health->set_healthy_threshold(Pick<uint32_t>({0, 2}, {kU32Max}));
    }
    if (OneIn(4)) {
      service.set_eject_after(Pick<uint32_t>({0, 5}, {kU32Max}));
      if (OneIn(2)) service.set_eject_for_ms(Pick<uint64_t>({0, 1000, 30000}, {1, kU64Max}));
    }
    if (OneIn(4)) service.set_max_connections(Pick<uint32_t>({0, 10, 100000}, {kU32Max}));
    if (OneIn(4)) service.set_max_pending(Pick<uint32_t>({0, 10}, {kU32Max}));
    if (OneIn(4)) service.set_connect_timeout_ms(Pick<uint64_t>({0, 1000}, {kU64Max}));
    if (OneIn(20)) service.set_version(Pick<uint64_t>({1, kU64Max}));
    return service;
  }

  google::protobuf::FieldMask Mask(std::initializer_list<const char*> fields,
                                   std::initializer_list<const char*> bad) {
    google::protobuf::FieldMask mask;
    if (OneIn(6)) return mask;  // no mask: what clients from before it send
    const uint32_t n = 1 + Below(3);
    for (uint32_t i = 0; i < n; ++i) mask.add_paths(Bad(8) ? Pick(bad) : Pick(fields));
    return mask;
  }

  // A consumer to create, with its api keys in clear added to `keys`.
  void NewConsumer(gateway::v1::Consumer* consumer,
                   google::protobuf::RepeatedPtrField<std::string>* keys) {
    consumer->set_name(ConsumerName());
    const uint32_t count = Below(3);
    for (uint32_t i = 0; i < count; ++i) *keys->Add() = ApiKey();
    if (Bad(8))  // a client sending digests itself
      consumer->add_api_key_sha256(OneIn(2) ? ApiKeySha256Hex(ApiKey())
                                            : Pick({"zz", "", "ABCDEF"}));
    if (count == 0 || OneIn(2)) {
      auto* jwt = consumer->mutable_jwt();
      jwt->set_issuer(Bad(8) ? Weird()
                             : Pick({"https://issuer.example", "https://other.example"},
                                    {"", "a\nb", "\xc3\xa9"}));
      if (OneIn(4))
        jwt->set_public_key_pem(Bad(4) ? std::string("-----BEGIN PUBLIC KEY-----\nxx\n")
                                       : kRsaPublicKeyPem);
      else
        jwt->set_secret(Bad(8) ? "0123456789abcdef0123456789abcde" + Weird()
                               : Pick({"0123456789abcdef0123456789abcdef"}, {"too-short", ""}));
      if (Bad(10)) jwt->set_secret("0123456789abcdef0123456789abcdef");  // maybe both
      if (Bad(10))  // the digest export shows, of this secret or another
        jwt->set_secret_sha256(
            ApiKeySha256Hex(OneIn(2) ? std::string("0123456789abcdef0123456789abcdef") : ApiKey()));
    }
    if (OneIn(20)) consumer->set_version(7);
  }

  std::string ApiKey() {
    return Pick({"key-0123456789abcdef-1", "key-0123456789abcdef-2", "key-0123456789abcdef-3"},
                {"short", "", "key with spaces 0123456789", "key-0123456789abcdef-\xc3\xa9"});
  }

  AdminCall Call() {
    clean_ = OneIn(2);  // half the calls hold only values the store accepts
    AdminCall call;
    switch (Below(28)) {
      case 0:
      case 1:
      case 2:
        *call.mutable_create_service()->mutable_service() = NewService();
        break;
      case 3:
      case 4: {
        auto* request = call.mutable_update_service();
        *request->mutable_service() = NewService();
        *request->mutable_update_mask() = Mask(
            {"endpoints", "lb", "hash_header", "health_check", "health_check.path", "eject_after",
             "eject_for_ms", "max_connections", "max_pending", "connect_timeout_ms"},
            {"name", "version", "bogus", "", "endpoints.host", "health_check.bogus",
             "health_check.", ".", "lb.x"});
        break;
      }
      case 5:
        call.mutable_get_service()->set_name(ServiceName());
        break;
      case 6:
        call.mutable_list_services();
        break;
      case 7:
        call.mutable_delete_service()->set_name(ServiceName());
        break;
      case 8:
      case 9:
      case 10:
      case 11: {
        Route route = NewRoute();
        routes_.push_back(route);
        *call.mutable_create_route()->mutable_route() = std::move(route);
        break;
      }
      case 12:
      case 13:
      case 14: {
        auto* request = call.mutable_update_route();
        Route route = NewRoute();
        RouteIdentity(&route);
        *request->mutable_route() = std::move(route);
        *request->mutable_update_mask() = Mask(
            {"target", "split", "max_body_size", "strip_prefix", "rewrite_prefix",
             "set_request_headers", "remove_request_headers", "set_response_headers",
             "remove_response_headers", "timeout_ms", "retries", "per_try_timeout_ms", "rate_limit",
             "rate_limit.burst", "rate_limit.key", "auth", "cors", "cors.origins"},
            {"path", "match", "host", "headers", "version", "bogus", "", "rate_limit.bogus",
             "split.weight", "target.x", "rate_limit.", ".", "cors.origins.x"});
        break;
      }
      case 15:
        RouteIdentity(call.mutable_get_route()->mutable_key());
        break;
      case 16:
        call.mutable_list_routes();
        break;
      case 17:
      case 18:
        RouteIdentity(call.mutable_delete_route()->mutable_key());
        break;
      case 19:
      case 20: {
        auto* request = call.mutable_create_consumer();
        NewConsumer(request->mutable_consumer(), request->mutable_api_keys());
        break;
      }
      case 21:
        call.mutable_get_consumer()->set_name(ConsumerName());
        break;
      case 22:
        call.mutable_list_consumers();
        break;
      case 23:
        call.mutable_delete_consumer()->set_name(ConsumerName());
        break;
      case 24:
      case 25: {
        // A document of a few objects, maybe pruning, maybe a dry run.
        auto* request = call.mutable_apply();
        for (uint32_t i = Below(3); i > 0; --i) *request->add_services() = NewService();
        for (uint32_t i = Below(4); i > 0; --i) {
          Route route = NewRoute();
          routes_.push_back(route);
          *request->add_routes() = std::move(route);
        }
        for (uint32_t i = Below(2); i > 0; --i) {
          auto* spec = request->add_consumers();
          NewConsumer(spec->mutable_consumer(), spec->mutable_api_keys());
        }
        request->set_prune(OneIn(4));
        request->set_dry_run(OneIn(6));
        if (OneIn(8)) request->mutable_options()->set_if_version(Below(6));
        break;
      }
      default: {
        auto* request = call.mutable_rollback();
        request->set_version(Bad(10) ? kU64Max : Below(24));
        request->set_dry_run(OneIn(6));
        if (OneIn(8)) request->mutable_options()->set_if_version(Below(24));
        break;
      }
    }
    if (Bad(6)) return Mutated(call);
    return call;
  }

  // `message` with a few of its serialized bytes changed, parsed back (a version that does not
  // parse, as gRPC would refuse it, is tried again, else the original stays).
  template <typename Message>
  Message Mutated(const Message& message) {
    const std::string original = message.SerializeAsString();
    google::protobuf::LogSilencer quiet;  // a string that is not UTF-8 is logged by parsing
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::string bytes = original;
      const uint32_t edits = 1 + Below(4);
      for (uint32_t i = 0; i < edits; ++i) {
        const uint32_t at = bytes.empty() ? 0 : Below(static_cast<uint32_t>(bytes.size()));
        switch (Below(4)) {
          case 0:
            if (!bytes.empty()) bytes[at] = static_cast<char>(bytes[at] ^ (1u << Below(8)));
            break;
          case 1:
            if (!bytes.empty()) bytes[at] = static_cast<char>(Below(256));
            break;
          case 2:
            bytes.insert(bytes.begin() + at, static_cast<char>(Below(256)));
            break;
          default:
            if (!bytes.empty()) bytes.erase(at, 1);
            break;
        }
      }
      Message parsed;
      if (parsed.ParseFromString(bytes)) return parsed;
    }
    return message;
  }

  std::mt19937_64 random_;
  bool clean_ = false;
  std::vector<Route> routes_;  // created in this sequence: later calls name them
};

// A fresh directory for a sequence's SQLite database, on a RAM file system when there is one:
// every store closed syncs its file, which on a disk is most of the test's time.
class ScratchDir {
 public:
  ScratchDir() {
    std::error_code error;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", error)
                                           ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path();
    std::string pattern = (base / "gw-admin-api-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Sequences per backend; PostgreSQL's writes are slower (each sequence has a schema of its own).
uint64_t SequencesFor(Backend backend) { return backend == Backend::kSqlite ? 1000 : 60; }

class AdminValidationProperty : public ::testing::TestWithParam<Backend> {};

TEST_P(AdminValidationProperty, RandomCallSequencesKeepEveryPromise) {
  uint64_t first = 1, last = SequencesFor(GetParam());
  if (const char* count = std::getenv("ADMIN_API_SEQUENCES"))
    last = std::strtoull(count, nullptr, 10);
  if (const char* only = std::getenv("ADMIN_API_SEED"))
    first = last = std::strtoull(only, nullptr, 10);
  const char* corpus_out = std::getenv("ADMIN_API_CORPUS_OUT");
  fuzz::AdminApiStats stats;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = first; seed <= last; ++seed) {
    const AdminCalls calls = Generator(seed).Sequence();
    if (corpus_out && seed <= 24) {
      std::ofstream out(std::filesystem::path(corpus_out) / ("seed-" + std::to_string(seed)),
                        std::ios::binary);
      out << calls.SerializeAsString();
    }
    std::string failure;
    if (GetParam() == Backend::kSqlite) {
      ScratchDir dir;
      failure = fuzz::RunAdminCalls(calls, dir.File("config.db"), &stats);
    } else {
      StoreLocation location(GetParam());
      if (location.skip()) GTEST_SKIP() << location.unavailable();
      ASSERT_EQ(location.unavailable(), "");
      failure = fuzz::RunAdminCalls(calls, location.db(), &stats);
    }
    ASSERT_EQ(failure, "") << "sequence " << seed << " (ADMIN_API_SEED=" << seed << ")";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "admin API property: " << (last - first + 1) << " sequences, " << stats.calls
            << " calls and " << stats.follow_ups << " checks in " << seconds
            << " s: " << stats.accepted << " writes accepted, " << stats.no_ops << " no-ops, "
            << stats.refused << " refused, " << stats.reads << " reads, " << stats.reopens
            << " reopens\n";
  RecordProperty("calls", std::to_string(stats.calls));
  RecordProperty("accepted", std::to_string(stats.accepted));
  RecordProperty("refused", std::to_string(stats.refused));
  if (first != last) {
    // Not vacuous: the generator reaches both sides, and every kind of refusal.
    EXPECT_GT(stats.accepted, stats.calls / 12) << stats.accepted << " of " << stats.calls;
    EXPECT_GT(stats.refused, stats.calls / 12) << stats.refused << " of " << stats.calls;
    EXPECT_GT(stats.no_ops, 0u);
    EXPECT_GT(stats.reads, 0u);
    EXPECT_GT(stats.reopens, last - first);
    for (StoreCode code :
         {StoreCode::kInvalidArgument, StoreCode::kAlreadyExists, StoreCode::kNotFound,
          StoreCode::kFailedPrecondition, StoreCode::kResourceExhausted})
      EXPECT_GT(stats.refusals[code], 0u)
          << "no call was refused with code " << static_cast<int>(code);
  }
}

// Every seed of the fuzzer's corpus holds, on each backend (the fuzzer runs them on SQLite).
TEST_P(AdminValidationProperty, TheFuzzersSeedsHold) {
  const std::filesystem::path corpus =
      std::filesystem::path(GATEWAY_SOURCE_DIR) / "fuzz" / "corpus" / "admin_api";
  ASSERT_TRUE(std::filesystem::is_directory(corpus)) << corpus;
  size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::ifstream file(entry.path(), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(file), {}};
    AdminCalls calls;
    ASSERT_TRUE(calls.ParseFromString(bytes)) << entry.path() << " is no AdminCalls";
    if (GetParam() == Backend::kSqlite) {
      ScratchDir dir;
      EXPECT_EQ(fuzz::RunAdminCalls(calls, dir.File("config.db")), "") << entry.path();
    } else {
      StoreLocation location(GetParam());
      if (location.skip()) GTEST_SKIP() << location.unavailable();
      ASSERT_EQ(location.unavailable(), "");
      EXPECT_EQ(fuzz::RunAdminCalls(calls, location.db()), "") << entry.path();
    }
    ++seeds;
  }
  EXPECT_GT(seeds, 0u);
}

GW_STORE_BACKENDS(AdminValidationProperty);

}  // namespace
}  // namespace gw
