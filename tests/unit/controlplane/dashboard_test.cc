// The dashboard (controlplane/dashboard.h): the JSON of /api/dashboard, its headers, who may
// read it, what it does when the store is slow; and the admin page of a real control plane
// in-process (ports chosen at run time) with and without a token file.
#include "controlplane/dashboard.h"

#include <arpa/inet.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <future>
#include <map>
#include <string>

#include "controlplane/control_plane.h"
#include "controlplane/dashboard_page.h"
#include "gateway.grpc.pb.h"
#include "tests/unit/support/temp_dir.h"

namespace gw {
namespace {

using namespace std::chrono_literals;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kViewerToken[] = "viewer-token-0123456789abcdef";
constexpr char kGatewayToken[] = "gateway-token-0123456789abcdef";

// A hostile name: it must reach the page as the text it is.
constexpr char kHostile[] = "<script>alert(1)</script><img src=x onerror=alert(2)>";

Struct ParseJson(const std::string& text) {
  Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << ": " << text;
  return parsed;
}

const Value& Field(const Struct& object, const std::string& key) {
  static const Value kMissing;
  const auto found = object.fields().find(key);
  EXPECT_NE(found, object.fields().end()) << "no field " << key;
  return found == object.fields().end() ? kMissing : found->second;
}

std::string Header(const AdminResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers)
    if (key == name) return value;
  return "";
}

gateway::v1::Hello MakeHello(const std::string& id, uint64_t running) {
  gateway::v1::Hello hello;
  hello.mutable_node()->set_id(id);
  hello.mutable_node()->set_address("127.0.0.1:8080");
  hello.mutable_node()->set_build_version("test");
  hello.set_running_version(running);
  return hello;
}

// ------------------------------------------------------------------------------ the JSON alone

ConfigPtr SampleConfig() {
  auto config = std::make_shared<gateway::v1::Config>();
  config->set_version(7);
  auto* service = config->add_services();
  service->set_name("order-svc");
  service->set_version(3);
  auto* endpoint = service->add_endpoints();
  endpoint->set_host("10.0.0.1");
  endpoint->set_port(9000);
  auto* route = config->add_routes();
  route->set_path("/api");
  route->set_match(gateway::v1::MATCH_PREFIX);
  route->set_target("order-svc");
  route->add_methods("GET");
  auto* header = route->add_headers();
  header->set_name("x-name");
  header->set_value(kHostile);
  route->set_auth(gateway::v1::AUTH_JWT);
  route->set_version(7);
  auto* exact = config->add_routes();
  exact->set_path("/health");
  exact->set_match(gateway::v1::MATCH_EXACT);
  exact->set_target("order-svc");
  exact->set_version(4);
  return config;
}

TEST(DashboardJsonTest, ShowsVersionGatewaysWithLagRoutesServicesAndHistory) {
  DashboardData data;
  data.now_unix_ms = 1700000000000;
  data.replica_id = "cp-1";
  data.build_version = "1.2.3";
  data.store = "database /tmp/cp.db";
  data.config = SampleConfig();
  gateway::v1::GatewayStatus current;
  current.set_node_id("gw-current");
  current.set_address("10.1.0.1:8080");
  current.set_replica("cp-1");
  current.set_connected(true);
  current.set_acked_version(7);
  current.set_last_seen_unix_ms(1699999999000);
  gateway::v1::GatewayStatus lagging = current;
  lagging.set_node_id("gw-lagging");
  lagging.set_acked_version(5);
  lagging.set_cache_error("disk full");
  gateway::v1::GatewayStatus nacked = current;
  nacked.set_node_id("gw-nacked");
  nacked.set_acked_version(6);
  nacked.set_nacked_version(7);
  nacked.set_error(kHostile);
  gateway::v1::GatewayStatus gone = current;
  gone.set_node_id("gw-gone");
  gone.set_connected(false);
  gone.set_acked_version(2);
  gone.set_disconnected_unix_ms(1699999000000);
  data.gateways = {current, lagging, nacked, gone};
  gateway::v1::HistoryRecord record;
  record.set_version(7);
  record.set_at_unix_ms(1699999990000);
  record.set_actor("alice");
  record.set_action("create_route");
  record.set_summary("route /api created");
  record.set_command(std::string("gatewayctl route add ") + kHostile);
  data.history = {record};
  gateway::v1::ReplicaStatus self;
  self.set_id("cp-1");
  self.set_address("10.2.0.1:50051");
  self.set_loaded_version(7);
  self.set_gateways_connected(3);
  self.set_alive(true);
  self.set_self(true);
  self.set_heartbeat_unix_ms(1699999999900);
  gateway::v1::ReplicaStatus down = self;
  down.set_id("cp-2");
  down.set_loaded_version(6);
  down.set_alive(false);
  down.set_self(false);
  data.replicas = {self, down};
  data.oldest_history_version = 1;
  data.store_read_unix_ms = 1699999999500;
  data.errors = {"the store is slow"};

  const Struct json = ParseJson(DashboardJson(data, 1000));
  EXPECT_EQ(Field(json, "replica").string_value(), "cp-1");
  EXPECT_EQ(Field(json, "build_version").string_value(), "1.2.3");
  EXPECT_EQ(Field(json, "store").string_value(), "database /tmp/cp.db");
  EXPECT_EQ(Field(json, "config_version").number_value(), 7);
  EXPECT_GT(Field(json, "config_bytes").number_value(), 0);
  EXPECT_EQ(Field(json, "now_unix_ms").number_value(), 1700000000000);
  EXPECT_EQ(Field(json, "store_read_unix_ms").number_value(), 1699999999500);
  ASSERT_EQ(Field(json, "errors").list_value().values_size(), 1);
  EXPECT_EQ(Field(json, "errors").list_value().values(0).string_value(), "the store is slow");

  EXPECT_EQ(Field(json, "gateways_total").number_value(), 4);
  EXPECT_EQ(Field(json, "gateways_connected").number_value(), 3);
  const auto& gateways = Field(json, "gateways").list_value();
  ASSERT_EQ(gateways.values_size(), 4);
  std::map<std::string, Struct> by_id;
  for (const auto& gateway : gateways.values())
    by_id[Field(gateway.struct_value(), "node_id").string_value()] = gateway.struct_value();
  EXPECT_EQ(Field(by_id["gw-current"], "state").string_value(), "in-sync");
  EXPECT_EQ(Field(by_id["gw-current"], "lag").number_value(), 0);
  EXPECT_EQ(Field(by_id["gw-current"], "address").string_value(), "10.1.0.1:8080");
  EXPECT_EQ(Field(by_id["gw-current"], "replica").string_value(), "cp-1");
  EXPECT_EQ(Field(by_id["gw-current"], "last_seen_unix_ms").number_value(), 1699999999000);
  EXPECT_EQ(Field(by_id["gw-lagging"], "state").string_value(), "syncing");
  EXPECT_EQ(Field(by_id["gw-lagging"], "lag").number_value(), 2);
  EXPECT_EQ(Field(by_id["gw-lagging"], "acked_version").number_value(), 5);
  EXPECT_EQ(Field(by_id["gw-lagging"], "cache_error").string_value(), "disk full");
  EXPECT_EQ(Field(by_id["gw-nacked"], "state").string_value(), "nacked");
  EXPECT_EQ(Field(by_id["gw-nacked"], "nacked_version").number_value(), 7);
  EXPECT_EQ(Field(by_id["gw-nacked"], "error").string_value(), kHostile);  // data, as it is
  EXPECT_EQ(Field(by_id["gw-gone"], "state").string_value(), "disconnected");
  EXPECT_FALSE(Field(by_id["gw-gone"], "connected").bool_value());
  EXPECT_EQ(Field(by_id["gw-gone"], "lag").number_value(), 5);
  EXPECT_EQ(Field(by_id["gw-gone"], "disconnected_unix_ms").number_value(), 1699999000000);

  const auto& replicas = Field(json, "replicas").list_value();
  ASSERT_EQ(replicas.values_size(), 2);
  const Struct& first = replicas.values(0).struct_value();
  EXPECT_EQ(Field(first, "id").string_value(), "cp-1");
  EXPECT_EQ(Field(first, "address").string_value(), "10.2.0.1:50051");
  EXPECT_EQ(Field(first, "loaded_version").number_value(), 7);
  EXPECT_EQ(Field(first, "gateways_connected").number_value(), 3);
  EXPECT_TRUE(Field(first, "alive").bool_value());
  EXPECT_TRUE(Field(first, "self").bool_value());
  EXPECT_EQ(Field(first, "heartbeat_unix_ms").number_value(), 1699999999900);
  EXPECT_FALSE(Field(replicas.values(1).struct_value(), "alive").bool_value());
  EXPECT_FALSE(Field(replicas.values(1).struct_value(), "self").bool_value());

  EXPECT_EQ(Field(json, "routes_total").number_value(), 2);
  const auto& routes = Field(json, "routes").list_value();
  ASSERT_EQ(routes.values_size(), 2);
  const Struct& api = routes.values(0).struct_value();
  EXPECT_EQ(Field(api, "path").string_value(), "/api");
  EXPECT_EQ(Field(api, "kind").string_value(), "prefix");
  EXPECT_EQ(Field(api, "targets").string_value(), "order-svc");
  EXPECT_EQ(Field(api, "policies").string_value(), "auth=jwt");
  EXPECT_EQ(Field(api, "version").number_value(), 7);
  ASSERT_EQ(Field(api, "methods").list_value().values_size(), 1);
  EXPECT_EQ(Field(api, "methods").list_value().values(0).string_value(), "GET");
  // The hostile header value stays one string of data (quoted as messages quote it).
  ASSERT_EQ(Field(api, "headers").list_value().values_size(), 1);
  EXPECT_NE(Field(api, "headers").list_value().values(0).string_value().find(kHostile),
            std::string::npos);
  EXPECT_NE(Field(api, "match").string_value().find(kHostile), std::string::npos);
  EXPECT_EQ(Field(routes.values(1).struct_value(), "kind").string_value(), "exact");

  EXPECT_EQ(Field(json, "services_total").number_value(), 1);
  const Struct& service = Field(json, "services").list_value().values(0).struct_value();
  EXPECT_EQ(Field(service, "name").string_value(), "order-svc");
  EXPECT_EQ(Field(service, "endpoints").list_value().values(0).string_value(), "10.0.0.1:9000");
  EXPECT_EQ(Field(service, "version").number_value(), 3);
  EXPECT_EQ(Field(json, "consumers_total").number_value(), 0);

  EXPECT_EQ(Field(json, "oldest_history_version").number_value(), 1);
  const Struct& history = Field(json, "history").list_value().values(0).struct_value();
  EXPECT_EQ(Field(history, "version").number_value(), 7);
  EXPECT_EQ(Field(history, "at_unix_ms").number_value(), 1699999990000);
  EXPECT_EQ(Field(history, "actor").string_value(), "alice");
  EXPECT_EQ(Field(history, "action").string_value(), "create_route");
  EXPECT_EQ(Field(history, "summary").string_value(), "route /api created");
  EXPECT_EQ(Field(history, "command").string_value(),
            std::string("gatewayctl route add ") + kHostile);
}

TEST(DashboardJsonTest, LongTablesAreCutAndCounted) {
  DashboardData data;
  auto config = std::make_shared<gateway::v1::Config>();
  for (int i = 0; i < 5; ++i) {
    auto* route = config->add_routes();
    route->set_path("/r" + std::to_string(i));
    route->set_target("svc");
  }
  data.config = config;
  for (int i = 0; i < 4; ++i) {
    gateway::v1::GatewayStatus gateway;
    gateway.set_node_id("gw-" + std::to_string(i));
    gateway.set_connected(true);
    data.gateways.push_back(gateway);
  }
  const Struct json = ParseJson(DashboardJson(data, 3));
  EXPECT_EQ(Field(json, "routes_total").number_value(), 5);
  EXPECT_EQ(Field(json, "routes").list_value().values_size(), 3);
  EXPECT_EQ(Field(json, "gateways_total").number_value(), 4);
  EXPECT_EQ(Field(json, "gateways_connected").number_value(), 4);
  EXPECT_EQ(Field(json, "gateways").list_value().values_size(), 3);
}

TEST(DashboardJsonTest, GatewayStates) {
  gateway::v1::GatewayStatus gateway;
  gateway.set_connected(true);
  gateway.set_acked_version(4);
  EXPECT_EQ(GatewayState(gateway, 4), "in-sync");
  EXPECT_EQ(GatewayState(gateway, 3), "in-sync");  // ahead (another database): not lagging
  EXPECT_EQ(GatewayState(gateway, 5), "syncing");
  gateway.set_behind("version 5 needs feature cors");
  EXPECT_EQ(GatewayState(gateway, 5), "behind");
  gateway.set_error("too many routes");
  gateway.set_nacked_version(5);
  EXPECT_EQ(GatewayState(gateway, 5), "nacked");
  gateway.set_acked_version(6);  // a later version ACKed: the old NACK no longer describes it
  gateway.clear_behind();
  EXPECT_EQ(GatewayState(gateway, 6), "in-sync");
  gateway.set_connected(false);
  EXPECT_EQ(GatewayState(gateway, 6), "disconnected");
}

// ------------------------------------------------------------- the page's static files

TEST(DashboardPageTest, ThePageLoadsOnlyItsOwnScriptAndStyleAndTheScriptNeverWritesHtml) {
  const std::string_view html = kDashboardHtml;
  EXPECT_NE(html.find(R"(<script src="/dashboard.js" defer></script>)"), std::string::npos);
  EXPECT_NE(html.find(R"(<link rel="stylesheet" href="/dashboard.css">)"), std::string::npos);
  // No inline script or style (the policy would refuse them), nothing from elsewhere.
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("<style"), std::string::npos);
  EXPECT_EQ(html.find("style="), std::string::npos);
  // No event-handler attribute (onclick=, onload=, ...).
  for (size_t at = html.find(" on"); at != std::string_view::npos; at = html.find(" on", at + 1)) {
    size_t end = at + 3;
    while (end < html.size() && std::isalpha(static_cast<unsigned char>(html[end]))) ++end;
    EXPECT_FALSE(end < html.size() && html[end] == '=') << html.substr(at, end - at + 1);
  }
  EXPECT_EQ(std::string_view(kDashboardIcon).find("<script"), std::string_view::npos);
  for (std::string_view text : {html, kDashboardJs, kDashboardCss}) {
    EXPECT_EQ(text.find("http://"), std::string::npos);
    EXPECT_EQ(text.find("https://"), std::string::npos);
    EXPECT_EQ(text.find("@import"), std::string::npos);
  }
  const std::string_view js = kDashboardJs;
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                           "eval(", "new Function", "setAttribute('on", "srcdoc"})
    EXPECT_EQ(js.find(sink), std::string_view::npos) << sink;
  EXPECT_NE(js.find("textContent"), std::string_view::npos);
  EXPECT_NE(js.find("'/api/dashboard'"), std::string_view::npos);
  EXPECT_NE(js.find("sessionStorage"), std::string_view::npos);
}

// ------------------------------------------- the Dashboard on its own, with a store to stall

class DashboardTest : public ::testing::Test {
 protected:
  DashboardTest() {
    store_ = ConfigStore::Open(dir_.File("config.db"));
    publisher_ = std::make_unique<SnapshotPublisher>(MakeSnapshot(*store_->LoadSnapshot()));
    store_->OnChange(
        [this](const ConfigPtr& config, bool) { publisher_->Publish(MakeSnapshot(config)); });
    cluster_ = std::make_unique<Cluster>(*store_, worker_, registry_, *publisher_);
    authorizer_ = std::make_unique<Authorizer>(AuthOptions{});
  }
  ~DashboardTest() override { worker_.Stop(); }

  Dashboard MakeDashboard(std::chrono::milliseconds store_wait) {
    DashboardOptions options;
    options.store_wait = store_wait;
    options.reuse_read_for = 0ms;
    return Dashboard(*store_, worker_, *publisher_, registry_, *cluster_, *authorizer_, "cp-test",
                     options);
  }

  // Runs `write` on the store worker (as the admin service does) and waits for it.
  void OnWorker(std::function<void()> write) {
    std::promise<void> done;
    ASSERT_TRUE(worker_.Post([&] {
      write();
      done.set_value();
    }));
    done.get_future().wait();
  }

  testing::TempDir dir_;
  std::unique_ptr<ConfigStore> store_;
  StoreWorker worker_;
  std::unique_ptr<SnapshotPublisher> publisher_;
  GatewayRegistry registry_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Authorizer> authorizer_;
};

TEST_F(DashboardTest, AnswersFromTheStoreAndTheLiveRegistry) {
  auto dashboard = MakeDashboard(5s);
  OnWorker([&] {
    gateway::v1::Route route;
    route.set_path("/api");
    route.set_target("order.internal:80");
    route.set_match(gateway::v1::MATCH_PREFIX);
    WriteContext context;
    context.actor = "alice";
    context.command = "gatewayctl route add /api order.internal:80";
    const auto written = store_->CreateRoute(route, context);
    ASSERT_TRUE(written) << written.error().message;
  });
  registry_.Connect(MakeHello("gw-1", 0), "ipv4:127.0.0.1:5000", 1);
  const auto answer = dashboard.Serve({"GET", "/api/dashboard", "", ""});
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200u);
  const Struct json = ParseJson(answer->body);
  EXPECT_EQ(Field(json, "config_version").number_value(), 1);
  EXPECT_EQ(Field(json, "replica").string_value(), "cp-test");
  EXPECT_EQ(Field(json, "errors").list_value().values_size(), 0);
  ASSERT_EQ(Field(json, "history").list_value().values_size(), 1);
  const Struct& record = Field(json, "history").list_value().values(0).struct_value();
  EXPECT_EQ(Field(record, "actor").string_value(), "alice");
  EXPECT_EQ(Field(record, "command").string_value(), "gatewayctl route add /api order.internal:80");
  ASSERT_EQ(Field(json, "gateways").list_value().values_size(), 1);
  const Struct& gateway = Field(json, "gateways").list_value().values(0).struct_value();
  EXPECT_EQ(Field(gateway, "node_id").string_value(), "gw-1");
  EXPECT_EQ(Field(gateway, "lag").number_value(), 1);
  EXPECT_EQ(Field(gateway, "state").string_value(), "syncing");
}

// The admin thread never waits long for the store: a stalled store worker costs one wait of
// store_wait, then answers come at once, with the live parts and the reason, until it is back.
TEST_F(DashboardTest, AStalledStoreIsWaitedForOnlyBrieflyAndSaidSo) {
  auto dashboard = MakeDashboard(200ms);
  ASSERT_EQ(dashboard.Serve({"GET", "/api/dashboard", "", ""})->status, 200u);  // a first read

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(worker_.Post([released] { released.wait(); }));
  registry_.Connect(MakeHello("gw-live", 0), "ipv4:127.0.0.1:5000", 1);

  auto started = std::chrono::steady_clock::now();
  auto answer = dashboard.Serve({"GET", "/api/dashboard", "", ""});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200u);
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
  Struct json = ParseJson(answer->body);
  ASSERT_EQ(Field(json, "errors").list_value().values_size(), 1);
  EXPECT_NE(Field(json, "errors")
                .list_value()
                .values(0)
                .string_value()
                .find("the store did not answer within 200 ms"),
            std::string::npos);
  // This replica's gateways are live all the same.
  ASSERT_EQ(Field(json, "gateways").list_value().values_size(), 1);
  EXPECT_EQ(Field(Field(json, "gateways").list_value().values(0).struct_value(), "node_id")
                .string_value(),
            "gw-live");

  // The read is still pending: the next request does not wait for it again.
  started = std::chrono::steady_clock::now();
  answer = dashboard.Serve({"GET", "/api/dashboard", "", ""});
  took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 150ms);
  json = ParseJson(answer->body);
  ASSERT_EQ(Field(json, "errors").list_value().values_size(), 1);
  EXPECT_NE(Field(json, "errors")
                .list_value()
                .values(0)
                .string_value()
                .find("the store has not answered for"),
            std::string::npos);

  release.set_value();
  OnWorker([] {});  // the pending read has run
  json = ParseJson(dashboard.Serve({"GET", "/api/dashboard", "", ""})->body);
  EXPECT_EQ(Field(json, "errors").list_value().values_size(), 0);
}

TEST_F(DashboardTest, TheStaticFilesAndTheApiCarryTheStrictHeaders) {
  auto dashboard = MakeDashboard(5s);
  const std::map<std::string, std::string> types = {
      {"/", "text/html; charset=utf-8"},
      {"/index.html", "text/html; charset=utf-8"},
      {"/dashboard.js", "text/javascript; charset=utf-8"},
      {"/dashboard.css", "text/css; charset=utf-8"},
      {"/favicon.svg", "image/svg+xml"},
      {"/api/dashboard", "application/json"},
  };
  for (const auto& [path, type] : types) {
    const auto answer = dashboard.Serve({"GET", path, "", ""});
    ASSERT_TRUE(answer) << path;
    EXPECT_EQ(answer->status, 200u) << path;
    EXPECT_EQ(answer->content_type, type) << path;
    EXPECT_EQ(Header(*answer, "Content-Security-Policy"), kPolicy) << path;
    EXPECT_EQ(Header(*answer, "Referrer-Policy"), "no-referrer") << path;
    EXPECT_EQ(Header(*answer, "X-Frame-Options"), "DENY") << path;
  }
  EXPECT_FALSE(dashboard.Serve({"GET", "/healthz", "", ""}));  // not the dashboard's
  EXPECT_FALSE(dashboard.Serve({"GET", "/api/dashboard/x", "", ""}));
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const auto answer = dashboard.Serve({method, "/api/dashboard", "", ""});
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 405u) << method;
    EXPECT_EQ(Header(*answer, "Allow"), "GET, HEAD");
    EXPECT_EQ(dashboard.Serve({method, "/", "", ""})->status, 405u) << method;
  }
}

// ------------------------------------------------ a real control plane, over HTTP, with tokens

struct HttpAnswer {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// One HTTP/1.1 request over a blocking socket (Connection: close).
HttpAnswer Http(const std::string& address, const std::string& method, const std::string& path,
                const std::string& authorization = "") {
  HttpAnswer answer;
  const size_t colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return answer;
  }
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n";
  if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
  request += "\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return answer;
  }
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  const size_t end = response.find("\r\n\r\n");
  if (response.size() < 12 || end == std::string::npos) return answer;
  answer.status = static_cast<unsigned>(std::stoi(response.substr(9, 3)));
  size_t line = response.find("\r\n") + 2;
  while (line < end) {
    const size_t next = response.find("\r\n", line);
    const std::string field = response.substr(line, next - line);
    const size_t separator = field.find(':');
    std::string name = field.substr(0, separator);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    answer.headers[name] = field.substr(field.find_first_not_of(' ', separator + 1));
    line = next + 2;
  }
  answer.body = response.substr(end + 4);
  return answer;
}

class DashboardControlPlaneTest : public ::testing::Test {
 protected:
  void Start(bool with_tokens) {
    ControlPlaneOptions options;
    options.grpc_listen = {"127.0.0.1", 0};
    options.admin_listen = HostPort{"127.0.0.1", 0};
    options.db = dir_.File("config.db");
    if (with_tokens) {
      options.token_file = dir_.File("tokens.csv");
      std::ofstream(options.token_file) << kAdminToken << ",alice,admin\n"
                                        << kViewerToken << ",victor,viewer\n"
                                        << kGatewayToken << ",fleet,gateway\n";
    }
    control_plane_ = std::make_unique<ControlPlane>(options);
    admin_ = control_plane_->admin_address();
    stub_ = gateway::v1::AdminService::NewStub(
        grpc::CreateChannel(control_plane_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status AddRoute(const std::string& path, const std::string& command,
                        const std::string& token = kAdminToken) {
    gateway::v1::CreateRouteRequest request;
    request.mutable_route()->set_path(path);
    request.mutable_route()->set_target("order.internal:80");
    request.mutable_route()->set_match(gateway::v1::MATCH_PREFIX);
    request.mutable_options()->set_command(command);
    gateway::v1::RouteResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 20s);
    context.AddMetadata("authorization", std::string("Bearer ") + token);
    return stub_->CreateRoute(&context, request, &response);
  }

  testing::TempDir dir_;
  std::unique_ptr<ControlPlane> control_plane_;
  std::string admin_;
  std::unique_ptr<gateway::v1::AdminService::Stub> stub_;
};

TEST_F(DashboardControlPlaneTest, WithATokenFileTheDataNeedsAViewerOrAdminToken) {
  Start(/*with_tokens=*/true);
  // The page itself is public: it asks for the token.
  for (const char* path : {"/", "/dashboard.js", "/dashboard.css"}) {
    HttpAnswer page = Http(admin_, "GET", path);
    EXPECT_EQ(page.status, 200u) << path;
    EXPECT_EQ(page.headers["content-security-policy"], kPolicy) << path;
    EXPECT_EQ(page.headers["x-content-type-options"], "nosniff") << path;
    EXPECT_EQ(page.headers["cache-control"], "no-store") << path;
    EXPECT_EQ(page.headers["referrer-policy"], "no-referrer") << path;
  }
  for (const char* path : {"/api/dashboard", "/config"}) {
    for (const std::string& authorization :
         {std::string(), std::string("Bearer not-a-token"), std::string("Basic dXNlcjpwYXNz"),
          std::string("Bearer ")}) {
      HttpAnswer refused = Http(admin_, "GET", path, authorization);
      EXPECT_EQ(refused.status, 401u) << path << " with '" << authorization << "'";
      EXPECT_EQ(refused.headers["www-authenticate"], "Bearer realm=\"controlplane\"");
      EXPECT_EQ(refused.headers["content-type"], "application/json");
      EXPECT_FALSE(Field(ParseJson(refused.body), "error").string_value().empty());
    }
    HttpAnswer gateway = Http(admin_, "GET", path, std::string("Bearer ") + kGatewayToken);
    EXPECT_EQ(gateway.status, 403u) << path;
    const std::string message = Field(ParseJson(gateway.body), "error").string_value();
    EXPECT_NE(message.find("token fleet has role gateway"), std::string::npos) << message;
    EXPECT_EQ(message.find(kGatewayToken), std::string::npos);  // never the token itself
    for (const char* token : {kViewerToken, kAdminToken}) {
      HttpAnswer allowed = Http(admin_, "GET", path, std::string("Bearer ") + token);
      EXPECT_EQ(allowed.status, 200u) << path << " " << token;
      EXPECT_EQ(Field(ParseJson(allowed.body),
                      path == std::string("/config") ? "version" : "config_version")
                    .number_value(),
                0);
    }
    // The scheme is case-insensitive (RFC 9110 section 11.1).
    EXPECT_EQ(Http(admin_, "GET", path, std::string("bearer ") + kViewerToken).status, 200u);
  }
  // Probes stay open.
  EXPECT_EQ(Http(admin_, "GET", "/healthz").status, 200u);
  EXPECT_EQ(Http(admin_, "GET", "/ready").status, 200u);
}

TEST_F(DashboardControlPlaneTest, WithoutATokenFileTheDataIsOpenAndFollowsEveryWrite) {
  Start(/*with_tokens=*/false);
  HttpAnswer first = Http(admin_, "GET", "/api/dashboard");
  ASSERT_EQ(first.status, 200u);
  EXPECT_EQ(first.headers["content-security-policy"], kPolicy);
  Struct json = ParseJson(first.body);
  EXPECT_EQ(Field(json, "config_version").number_value(), 0);
  EXPECT_EQ(Field(json, "replica").string_value(), control_plane_->replica_id());
  EXPECT_NE(Field(json, "store").string_value().find("config.db"), std::string::npos);

  control_plane_->registry().Connect(MakeHello("gw-1", 0), "ipv4:127.0.0.1:5000", 1);
  control_plane_->registry().Ack("gw-1", 1, 0);
  const std::string command = std::string("gatewayctl route add /a ") + kHostile;
  const grpc::Status added = AddRoute("/a", command);
  ASSERT_TRUE(added.ok()) << added.error_message();

  json = ParseJson(Http(admin_, "GET", "/api/dashboard").body);
  EXPECT_EQ(Field(json, "config_version").number_value(), 1);
  ASSERT_EQ(Field(json, "gateways").list_value().values_size(), 1);
  const Struct& gateway = Field(json, "gateways").list_value().values(0).struct_value();
  EXPECT_EQ(Field(gateway, "node_id").string_value(), "gw-1");
  EXPECT_TRUE(Field(gateway, "connected").bool_value());
  EXPECT_EQ(Field(gateway, "lag").number_value(), 1);
  EXPECT_EQ(Field(gateway, "replica").string_value(), control_plane_->replica_id());
  ASSERT_EQ(Field(json, "routes").list_value().values_size(), 1);
  EXPECT_EQ(
      Field(Field(json, "routes").list_value().values(0).struct_value(), "path").string_value(),
      "/a");
  ASSERT_GE(Field(json, "history").list_value().values_size(), 1);
  const Struct& newest = Field(json, "history").list_value().values(0).struct_value();
  EXPECT_EQ(Field(newest, "version").number_value(), 1);
  EXPECT_EQ(Field(newest, "command").string_value(), command);  // the hostile text, as data

  control_plane_->registry().Ack("gw-1", 1, 1);
  json = ParseJson(Http(admin_, "GET", "/api/dashboard").body);
  EXPECT_EQ(
      Field(Field(json, "gateways").list_value().values(0).struct_value(), "state").string_value(),
      "in-sync");
  // /config is open too without a token file.
  EXPECT_EQ(Http(admin_, "GET", "/config").status, 200u);
}

TEST_F(DashboardControlPlaneTest, MethodsOtherThanGetAndHeadAreRefusedAndHeadHasNoBody) {
  Start(/*with_tokens=*/false);
  for (const char* path : {"/", "/api/dashboard", "/config", "/healthz"}) {
    HttpAnswer refused = Http(admin_, "POST", path);
    EXPECT_EQ(refused.status, 405u) << path;
    EXPECT_EQ(refused.headers["allow"], "GET, HEAD") << path;
  }
  HttpAnswer head = Http(admin_, "HEAD", "/");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.headers["content-length"], std::to_string(kDashboardHtml.size()));
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(Http(admin_, "GET", "/nothing").status, 404u);
}

}  // namespace
}  // namespace gw
