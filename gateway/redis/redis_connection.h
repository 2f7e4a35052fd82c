// RedisConnection: one blocking connection to Redis (hiredis), with a bounded connect and a
// bounded wait for every reply; the RAII owner of the hiredis context. Used by the one thread of
// RedisBucketClient, never on the request path.
//
// Errors: Connect returns null and Run returns false with one line in *error ("connection
// refused", "no answer within 250ms"); after a false Run the connection is unusable (the
// caller drops it and connects again). Never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/validation.h"

struct redisContext;

namespace gw {

class RedisConnection {
 public:
  // What the bucket client reads from a reply.
  struct Reply {
    enum class Kind { kInteger, kString, kError, kOther };
    Kind kind = Kind::kOther;
    long long integer = 0;
    std::string text;  // a string, status or error reply
  };

  // Connects within `timeout`, which then also bounds each reply's wait.
  static std::unique_ptr<RedisConnection> Connect(const HostPort& address,
                                                  std::chrono::milliseconds timeout,
                                                  std::string* error);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends every command (each a list of arguments, binary-safe) in one pipeline and reads their
  // replies in order into *replies. False, with why in *error, when the connection failed or a
  // reply did not come within the timeout.
  bool Run(const std::vector<std::vector<std::string>>& commands, std::vector<Reply>* replies,
           std::string* error);

 private:
  RedisConnection(redisContext* context, std::chrono::milliseconds timeout);
  std::string DescribeError() const;

  redisContext* context_;
  std::chrono::milliseconds timeout_;
};

}  // namespace gw
