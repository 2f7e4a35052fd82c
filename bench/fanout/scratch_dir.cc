#include "bench/fanout/scratch_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

namespace gw::bench {
namespace {

std::mutex& DirsMutex() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& Dirs() {  // the directories to remove on a signal
  static std::set<std::string> dirs;
  return dirs;
}

}  // namespace

ScratchDir::ScratchDir(const std::string& prefix, bool traversable) {
  std::string pattern = "/tmp/" + prefix + "XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr)
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  path_ = buffer.data();
  if (traversable) ::chmod(path_.c_str(), 0755);
  std::lock_guard lock(DirsMutex());
  Dirs().insert(path_);
}

ScratchDir::~ScratchDir() {
  {
    std::lock_guard lock(DirsMutex());
    Dirs().erase(path_);
  }
  if (keep_) {
    std::fprintf(stderr, "fanout: kept %s\n", path_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void RemoveAllScratchDirs() {
  std::lock_guard lock(DirsMutex());
  for (const std::string& dir : Dirs()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  Dirs().clear();
}

}  // namespace gw::bench
