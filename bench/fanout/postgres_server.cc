#include "bench/fanout/postgres_server.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <thread>
#include <vector>

namespace gw::bench {
namespace {

constexpr const char* kUser = "gateway";
constexpr const char* kDatabase = "gateway";

// A port on 127.0.0.1 free right now (bound, then released: the server binds it next).
int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// PostgreSQL refuses to run as root: then the server and initdb run as nobody.
std::vector<std::string> AsServerUser(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                                      "--clear-groups", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

// Runs a tool to its end within `timeout`; "" or what went wrong (with its output).
std::string RunTool(const std::string& name, const std::vector<std::string>& argv,
                    const std::string& dir, std::chrono::milliseconds timeout) {
  auto tool = ChildProcess::Spawn(name, argv, dir + "/" + name + ".log", dir);
  const auto status = tool->Wait(timeout);
  if (!status) {
    tool->Stop(SIGKILL);
    return name + " did not finish within " + std::to_string(timeout.count()) + " ms:\n" +
           tool->LogTail();
  }
  if (*status != 0)
    return name + " exited with status " + std::to_string(*status) + ":\n" + tool->LogTail();
  return "";
}

bool MakeServerDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0) return false;
  if (::geteuid() != 0) return true;
  const passwd* user = ::getpwnam("nobody");
  const group* group = ::getgrnam("nogroup");
  return user && group && ::chown(path.c_str(), user->pw_uid, group->gr_gid) == 0;
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::Start(const std::string& bin_dir,
                                                      const std::string& dir,
                                                      std::chrono::milliseconds timeout,
                                                      std::string* error) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto left = [&deadline] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  if (::access((bin_dir + "/postgres").c_str(), X_OK) != 0) {
    *error = bin_dir + "/postgres not found (scripts/install-deps.sh installs PostgreSQL 15)";
    return nullptr;
  }
  const std::string data = dir + "/postgres-data";
  const std::string socket_dir = dir + "/postgres-socket";
  if (!MakeServerDir(data) || !MakeServerDir(socket_dir)) {
    *error = "cannot create " + data + " or " + socket_dir + " for user nobody";
    return nullptr;
  }
  if (std::string failed = RunTool("initdb",
                                   AsServerUser({bin_dir + "/initdb", "-D", data, "-U", kUser,
                                                 "--auth=trust", "--encoding=UTF8", "--no-sync"}),
                                   dir, left());
      !failed.empty()) {
    *error = failed;
    return nullptr;
  }
  const int port = FreeLoopbackPort();
  if (port == 0) {
    *error = "no free port on 127.0.0.1 for PostgreSQL";
    return nullptr;
  }
  // The server runs under a watchdog shell (as the bench's user): PR_SET_PDEATHSIG does not
  // survive setpriv, so the shell polls the bench every second and gives the server a fast
  // shutdown (SIGINT) once the bench is gone, however it ended. The shell ignores the SIGINT
  // that Stop() sends to the whole group and waits for the server to finish.
  std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "trap '' INT TERM; \"$@\" & server=$!; "
      "while kill -0 " +
          std::to_string(::getpid()) +
          " 2>/dev/null && kill -0 $server 2>/dev/null; "
          "do sleep 1; done; kill -INT $server 2>/dev/null; wait $server",
      "postgres-watchdog"};
  for (std::string& arg : AsServerUser(
           {bin_dir + "/postgres", "-D", data, "-p", std::to_string(port), "-k", socket_dir, "-c",
            "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
            "full_page_writes=off", "-c", "max_connections=200"}))
    argv.push_back(std::move(arg));
  auto process = ChildProcess::Spawn("postgres", argv, dir + "/postgres.log", dir,
                                     /*die_with_bench=*/false);
  std::unique_ptr<PostgresServer> server(new PostgresServer(std::move(process), port));
  while (true) {
    if (!server->process_->Running()) {
      *error = "postgres exited with status " +
               std::to_string(server->process_->exit_status().value_or(-1)) + ":\n" +
               server->process_->LogTail();
      return nullptr;
    }
    if (RunTool("pg_isready",
                {bin_dir + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", std::to_string(port)}, dir,
                left())
            .empty())
      break;
    if (std::chrono::steady_clock::now() >= deadline) {
      *error = "postgres on port " + std::to_string(port) + " not ready within " +
               std::to_string(timeout.count()) + " ms:\n" + server->process_->LogTail();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (std::string failed = RunTool("createdb",
                                   {bin_dir + "/createdb", "-h", "127.0.0.1", "-p",
                                    std::to_string(port), "-U", kUser, kDatabase},
                                   dir, left());
      !failed.empty()) {
    *error = failed;
    return nullptr;
  }
  return server;
}

PostgresServer::~PostgresServer() { process_->Stop(SIGINT); }

std::string PostgresServer::url() const {
  return std::string("postgresql://") + kUser + "@127.0.0.1:" + std::to_string(port_) + "/" +
         kDatabase;
}

}  // namespace gw::bench
