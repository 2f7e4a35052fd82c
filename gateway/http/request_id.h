// RequestIdGenerator: random 128-bit request ids (32 lower-case hex digits) for X-Request-Id.
//
// One per worker, used only on that worker's thread, so ids cost no lock and no system call.
// Not cryptographic: ids correlate logs, they are not secrets.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace gw {

// 32 lower-case hex digits: `high` then `low`, zero-padded. Writes into `out`.
void FormatRequestId(uint64_t high, uint64_t low, std::string& out);

// A client-sent X-Request-Id is kept when it is 1..128 visible ASCII characters; anything else
// (empty, too long, spaces, control bytes) is replaced by a generated id.
bool IsAcceptableRequestId(std::string_view id);

class RequestIdGenerator {
 public:
  explicit RequestIdGenerator(uint64_t seed) : engine_(seed) {}
  void Next(std::string& out) { FormatRequestId(engine_(), engine_(), out); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace gw
