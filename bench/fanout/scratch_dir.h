// ScratchDir: the bench's temp directory (databases, logs), removed when the object dies and,
// through RemoveAllScratchDirs(), by the signal thread before the bench exits on a signal.
//
// Threads: one owner; RemoveAllScratchDirs from any thread.
// Errors: the constructor throws std::runtime_error when mkdtemp fails (start-up only).
#pragma once

#include <string>

namespace gw::bench {

class ScratchDir {
 public:
  // A new directory /tmp/<prefix>XXXXXX. `traversable`: mode 0755 rather than 0700, so that a
  // server run as `nobody` (PostgreSQL) reaches its directories inside.
  explicit ScratchDir(const std::string& prefix, bool traversable = true);
  ~ScratchDir();

  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

  // Leave the directory in place (--keep-temp); it is named on stderr at exit.
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// Removes every ScratchDir not kept. For the signal thread, right before _exit.
void RemoveAllScratchDirs();

}  // namespace gw::bench
