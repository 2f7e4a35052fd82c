#include "gateway/config/cache_writer.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway/config/config_cache.h"

namespace gw {

CacheWriter::CacheWriter(std::string path) : path_(std::move(path)), thread_([this] { Run(); }) {}

CacheWriter::~CacheWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void CacheWriter::Write(std::shared_ptr<const gateway::v1::Config> config) {
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(config);
  }
  wake_.notify_one();
}

std::string CacheWriter::Flush() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return !pending_ && !writing_; });
  return status_.last_error;
}

void CacheWriter::NoteLoaded(uint64_t version) {
  std::lock_guard lock(mu_);
  status_.version = version;
}

void CacheWriter::NoteLoadFailed(std::string error) {
  std::lock_guard lock(mu_);
  status_.healthy = false;
  status_.last_error = std::move(error);
}

CacheWriter::Status CacheWriter::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void CacheWriter::Run() {
  // Background work: below the workers and the config stream (Linux nice is per thread).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return pending_ || stopping_; });
    if (!pending_) return;  // stopping, nothing left to write
    auto config = std::move(pending_);
    writing_ = true;
    lock.unlock();
    std::string error;
    const bool stored = StoreConfigCache(path_, *config, &error);
    if (!stored) {
      LogWarn("cannot write config version " + std::to_string(config->version()) +
              " to the cache: " + error + " (the config stays applied)");
    }
    lock.lock();
    status_.healthy = stored;
    if (stored) {
      status_.version = config->version();
      status_.last_error.clear();
    } else {
      ++status_.failed_writes;
      status_.last_error = std::move(error);
    }
    writing_ = false;
    if (!pending_) idle_.notify_all();
  }
}

}  // namespace gw
