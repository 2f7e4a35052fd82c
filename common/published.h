// Published<T>: one immutable value that a writer replaces and many threads read. Load() returns
// a shared_ptr copy, so a reader keeps the value it loaded for as long as it holds it, whatever
// is stored meanwhile; the value a Store() replaces is freed by its last holder.
//
// A mutex, not std::atomic<std::shared_ptr<T>>: libstdc++ 12's atomic load releases its lock bit
// with a relaxed store, so a load and a later store are not ordered (a data race, and
// ThreadSanitizer reports it). The lock is held for a reference-count increment or a pointer
// swap; the old value is released after it.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace gw {

template <typename T>
class Published {
 public:
  std::shared_ptr<T> Load() const {
    std::lock_guard lock(mutex_);
    return value_;
  }

  void Store(std::shared_ptr<T> value) {
    {
      std::lock_guard lock(mutex_);
      value_.swap(value);
    }
    // `value` now holds the old one and releases it here, outside the lock.
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<T> value_;
};

}  // namespace gw
