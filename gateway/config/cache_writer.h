// CacheWriter: persists applied configs to the cache file on its own low-priority thread, so
// that the disk (a temp file, two fsyncs, a rename) never delays serving or the ACK, and so that
// with many gateways on one host their fsyncs yield the CPU to the data path. Owned by the
// ConfigApplier. Only the newest handed-over config matters: one superseded while waiting is
// skipped, the newest is always written. The destructor writes what is pending, then joins.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gateway.pb.h"

namespace gw {

class CacheWriter {
 public:
  explicit CacheWriter(std::string path);
  ~CacheWriter();

  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  // Hands over the newest applied config; returns at once.
  void Write(std::shared_ptr<const gateway::v1::Config> config);

  // Blocks until everything handed over so far is on disk (or failed and was logged).
  void Flush();

 private:
  void Run();

  const std::string path_;
  std::mutex mu_;
  std::condition_variable wake_;  // work arrived, or stopping
  std::condition_variable idle_;  // nothing pending and nothing being written
  std::shared_ptr<const gateway::v1::Config> pending_;
  bool writing_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gw
