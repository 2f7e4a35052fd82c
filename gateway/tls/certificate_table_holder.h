// CertificateTableHolder: the one published CertificateTable of a gateway process.
//
// The config applier stores each newly built table; a worker loads it once per accepted TLS
// connection, whose SSL then pins it (CertificateTable::NewConnection): a certificate changed by
// the control plane serves the next handshake, and open connections keep theirs.
#pragma once

#include <atomic>
#include <memory>

#include "gateway/tls/certificate_table.h"

namespace gw {

class CertificateTableHolder {
 public:
  CertificateTableConstSharedPtr Load() const { return table_.load(std::memory_order_acquire); }
  void Store(CertificateTableConstSharedPtr table) {
    table_.store(std::move(table), std::memory_order_release);
  }

 private:
  std::atomic<CertificateTableConstSharedPtr> table_;
};

}  // namespace gw
