#include "controlplane/store_worker.h"

#include <utility>

namespace gw {

StoreWorker::StoreWorker(size_t queue_limit)
    : queue_limit_(queue_limit), thread_([this] { Run(); }) {}

StoreWorker::~StoreWorker() { Stop(); }

bool StoreWorker::Post(Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= queue_limit_) return false;
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void StoreWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void StoreWorker::Run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace gw
