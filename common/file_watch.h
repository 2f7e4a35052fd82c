// Noticing that files changed, for what is re-read without a restart (certificates, token
// files): a stamp of each file (device, inode, size, modification time; stat() follows
// symlinks, so a Kubernetes Secret update, which swaps a symlink, changes it too) and a thread
// that calls back every second.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gw {

// What the files look like now; "" paths are skipped. Equal stamps: nothing changed.
std::string FileStamp(const std::vector<std::string>& paths);

// Calls `tick` every `period` on its own thread until destroyed.
class Ticker {
 public:
  Ticker(std::chrono::milliseconds period, std::function<void()> tick);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gw
