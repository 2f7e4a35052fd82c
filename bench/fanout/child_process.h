// ChildProcess: one program the fan-out bench started (a control plane, PostgreSQL and its
// tools), in a process group of its own, its stdout and stderr in a log file.
//
// Nothing the bench starts may outlive it: every live child is also in a process-wide list,
// and KillAllChildren() SIGKILLs each child's whole group. The bench's signal thread calls it
// on SIGINT/SIGTERM/SIGHUP, and ~ChildProcess stops its own child. A child also gets
// PR_SET_PDEATHSIG(SIGKILL), so even a bench killed with SIGKILL takes it along; a program
// that changes its credentials (PostgreSQL run as nobody through setpriv) loses that setting,
// so such a child is spawned with `die_with_bench` false and watches the bench itself (see
// PostgresServer).
//
// Threads: Spawn/Stop/Running on any one thread per object; KillAllChildren from any thread.
// Errors: Spawn throws std::runtime_error when fork or the log file fails (start-up only).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gw::bench {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with `argv` in `cwd`, stdin from /dev/null, stdout and stderr
  // appended to `log_path`. `die_with_bench`: PR_SET_PDEATHSIG(SIGKILL).
  static std::unique_ptr<ChildProcess> Spawn(std::string name, const std::vector<std::string>& argv,
                                             const std::string& log_path, const std::string& cwd,
                                             bool die_with_bench = true);
  ~ChildProcess();  // Stop(SIGKILL)

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // Whether it still runs (reaps it when it exited).
  bool Running();
  // Its exit status once it ended: the exit code, or 128 + the signal that ended it.
  std::optional<int> exit_status() const { return exit_status_; }

  // Sends `signal` to its process group, waits up to `grace` for it to end, then SIGKILLs the
  // group and reaps it. Returns the exit status (see exit_status()).
  int Stop(int signal, std::chrono::milliseconds grace = std::chrono::seconds(10));

  // Waits up to `timeout` for it to end by itself; nullopt if it still runs then.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

  // The last `lines` lines of its log, for error messages.
  std::string LogTail(size_t lines = 20) const;

 private:
  ChildProcess(std::string name, pid_t pid, std::string log_path);
  void Reaped(int wait_status);

  const std::string name_;
  const pid_t pid_;
  const std::string log_path_;
  std::optional<int> exit_status_;
};

// SIGKILLs the process group of every child still running. Safe from any thread; used by the
// signal thread before it exits.
void KillAllChildren();

// The last `lines` lines of a text file ("" if it cannot be read).
std::string FileTail(const std::string& path, size_t lines);

}  // namespace gw::bench
