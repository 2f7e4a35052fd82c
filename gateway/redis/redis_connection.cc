#include "gateway/redis/redis_connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace gw {
namespace {

timeval ToTimeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

}  // namespace

RedisConnection::RedisConnection(redisContext* context, std::chrono::milliseconds timeout)
    : context_(context), timeout_(timeout) {}

RedisConnection::~RedisConnection() { redisFree(context_); }

std::string RedisConnection::DescribeError() const {
  const std::string text = Lower(context_->errstr);
  // A blocking hiredis socket with SO_RCVTIMEO reports a reply that did not come as EAGAIN.
  if (text.find("temporarily unavailable") != std::string::npos ||
      text.find("timed out") != std::string::npos || text.find("timeout") != std::string::npos) {
    return "no answer within " + std::to_string(timeout_.count()) + "ms";
  }
  if (context_->err == REDIS_ERR_EOF || text.empty()) return "connection closed by the server";
  return text;
}

std::unique_ptr<RedisConnection> RedisConnection::Connect(const HostPort& address,
                                                          std::chrono::milliseconds timeout,
                                                          std::string* error) {
  redisContext* context =
      redisConnectWithTimeout(address.host.c_str(), address.port, ToTimeval(timeout));
  if (context == nullptr) {
    *error = "out of memory";
    return nullptr;
  }
  std::unique_ptr<RedisConnection> connection(new RedisConnection(context, timeout));
  if (context->err != 0) {
    *error = connection->DescribeError();
    return nullptr;
  }
  if (redisSetTimeout(context, ToTimeval(timeout)) != REDIS_OK) {
    *error = connection->DescribeError();
    return nullptr;
  }
  redisEnableKeepAlive(context);
  return connection;
}

bool RedisConnection::Run(const std::vector<std::vector<std::string>>& commands,
                          std::vector<Reply>* replies, std::string* error) {
  replies->clear();
  replies->reserve(commands.size());
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      *error = DescribeError();
      return false;
    }
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      *error = DescribeError();
      return false;
    }
    const auto* reply = static_cast<const redisReply*>(raw);
    Reply out;
    switch (reply->type) {
      case REDIS_REPLY_INTEGER:
        out.kind = Reply::Kind::kInteger;
        out.integer = reply->integer;
        break;
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
        out.kind = Reply::Kind::kString;
        out.text.assign(reply->str, reply->len);
        break;
      case REDIS_REPLY_ERROR:
        out.kind = Reply::Kind::kError;
        out.text.assign(reply->str, reply->len);
        break;
      default:
        break;
    }
    freeReplyObject(raw);
    replies->push_back(std::move(out));
  }
  return true;
}

}  // namespace gw
