// CertificateTableHolder: the one published CertificateTable of a gateway process.
//
// The config applier stores each newly built table; a worker loads it once per accepted TLS
// connection, whose SSL then pins it (CertificateTable::NewConnection): a certificate changed by
// the control plane serves the next handshake, and open connections keep theirs.
#pragma once

#include "common/published.h"
#include "gateway/tls/certificate_table.h"

namespace gw {

using CertificateTableHolder = Published<const CertificateTable>;

}  // namespace gw
