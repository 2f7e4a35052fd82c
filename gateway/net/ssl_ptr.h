// Owning pointers to OpenSSL's SSL_CTX and SSL (both reference-counted by OpenSSL itself: a
// pointer here holds one reference).
#pragma once

#include <openssl/ssl.h>

#include <memory>

namespace gw {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

}  // namespace gw
