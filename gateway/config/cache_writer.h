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

  // The file already holds `version` (loaded from it at start-up).
  void NoteLoaded(uint64_t version);
  // The file could not be used at start-up (`error`: why): unhealthy until a write succeeds.
  void NoteLoadFailed(std::string error);

  // Hands over the newest applied config; returns at once.
  void Write(std::shared_ptr<const gateway::v1::Config> config);

  // Blocks until everything handed over so far is on disk, or failed and was logged. Returns
  // "" when the newest write succeeded (or there was none), else why it failed.
  std::string Flush();

  struct Status {
    bool healthy = true;         // the newest write succeeded, or none yet and the file loaded
    uint64_t version = 0;        // the version the file holds (0: none loaded or written)
    uint64_t failed_writes = 0;  // since start
    std::string last_error;      // of the newest write (or load); "" when it succeeded
  };
  Status status() const;

 private:
  void Run();

  const std::string path_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // work arrived, or stopping
  std::condition_variable idle_;  // nothing pending and nothing being written
  std::shared_ptr<const gateway::v1::Config> pending_;
  bool writing_ = false;
  bool stopping_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace gw
