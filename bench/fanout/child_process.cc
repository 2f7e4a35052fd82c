#include "bench/fanout/child_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace gw::bench {
namespace {

// Process groups of the children still running (their pids: each child leads its own group).
std::mutex& LiveMutex() {
  static std::mutex mu;
  return mu;
}
std::set<pid_t>& Live() {
  static std::set<pid_t> live;
  return live;
}

constexpr auto kPollInterval = std::chrono::milliseconds(5);

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::Spawn(std::string name,
                                                  const std::vector<std::string>& argv,
                                                  const std::string& log_path,
                                                  const std::string& cwd, bool die_with_bench) {
  if (argv.empty()) throw std::runtime_error("spawn " + name + ": no program");
  // Everything the child needs is prepared before fork(): between fork and exec only
  // async-signal-safe calls (gRPC threads may hold locks in the parent).
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_path + ": " + std::strerror(errno));
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(log_fd);
    throw std::runtime_error(std::string("cannot open /dev/null: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();

  std::lock_guard lock(LiveMutex());  // a child is in Live() before anyone can kill "all"
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(log_fd);
    ::close(null_fd);
    throw std::runtime_error("fork for " + name + ": " + std::strerror(error));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (die_with_bench) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the bench died before prctl took effect
    }
    // The bench blocks its stop signals (its signal thread takes them) and ignores SIGPIPE;
    // the child starts with the defaults.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &default_action, nullptr);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execv(args[0], args.data());
    const char message[] = "exec failed\n";
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from here, so the group exists before anyone signals it
  ::close(log_fd);
  ::close(null_fd);
  Live().insert(pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(std::move(name), pid, log_path));
}

ChildProcess::ChildProcess(std::string name, pid_t pid, std::string log_path)
    : name_(std::move(name)), pid_(pid), log_path_(std::move(log_path)) {}

ChildProcess::~ChildProcess() { Stop(SIGKILL, std::chrono::milliseconds(0)); }

void ChildProcess::Reaped(int wait_status) {
  exit_status_ = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  std::lock_guard lock(LiveMutex());
  Live().erase(pid_);
}

bool ChildProcess::Running() {
  if (exit_status_) return false;
  int status = 0;
  const pid_t result = ::waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    Reaped(status);
    // Whatever it started in its group (PostgreSQL's backends) goes with it.
    ::kill(-pid_, SIGKILL);
    return false;
  }
  if (result < 0 && errno == ECHILD) {  // reaped elsewhere (cannot happen: one owner)
    exit_status_ = -1;
    std::lock_guard lock(LiveMutex());
    Live().erase(pid_);
    return false;
  }
  return true;
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
  return exit_status_;
}

int ChildProcess::Stop(int signal, std::chrono::milliseconds grace) {
  if (Running()) {
    ::kill(-pid_, signal);
    if (signal != SIGKILL && !Wait(grace)) {
      ::kill(-pid_, SIGKILL);
    }
    if (Running()) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      if (::waitpid(pid_, &status, 0) == pid_) {
        Reaped(status);
        ::kill(-pid_, SIGKILL);
      }
    }
  }
  return exit_status_.value_or(-1);
}

std::string ChildProcess::LogTail(size_t lines) const { return FileTail(log_path_, lines); }

void KillAllChildren() {
  std::lock_guard lock(LiveMutex());
  for (const pid_t pid : Live()) ::kill(-pid, SIGKILL);
}

std::string FileTail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  if (!in) return "";
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& kept : tail) out += "  | " + kept + "\n";
  return out;
}

}  // namespace gw::bench
