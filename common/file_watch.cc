#include "common/file_watch.h"

#include <sys/stat.h>

namespace gw {

std::string FileStamp(const std::vector<std::string>& paths) {
  std::string stamp;
  for (const std::string& path : paths) {
    if (path.empty()) continue;
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
      stamp += "missing|";
      continue;
    }
    stamp += std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" +
             std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
             std::to_string(info.st_mtim.tv_nsec) + "|";
  }
  return stamp;
}

Ticker::Ticker(std::chrono::milliseconds period, std::function<void()> tick)
    : thread_([this, period, tick = std::move(tick)] {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
          lock.unlock();
          tick();
          lock.lock();
        }
      }) {}

Ticker::~Ticker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace gw
