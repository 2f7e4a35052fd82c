// StoreWorker: the one thread that runs every ConfigStore call.
//
// gRPC reactions never block, so the admin service posts each store call here as a closure that
// ends by finishing its RPC. One thread also means SQLite sees one writer, in arrival order.
// The queue is bounded: when it is full Post() refuses and the caller answers UNAVAILABLE.
// Owned by the ControlPlane; Stop() (or the destructor) runs what is queued, then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace gw {

inline constexpr size_t kDefaultStoreQueueLimit = 1024;

class StoreWorker {
 public:
  using Task = std::function<void()>;

  explicit StoreWorker(size_t queue_limit = kDefaultStoreQueueLimit);
  ~StoreWorker();

  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Queues `task`. False (and `task` is dropped) when the queue is full or the worker stopped.
  bool Post(Task task);

  // Refuses new tasks, runs the queued ones, joins the thread. Idempotent.
  void Stop();

 private:
  void Run();

  const size_t queue_limit_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gw
