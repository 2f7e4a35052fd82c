#include "gateway/redis/redis_bucket_client.h"

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "gateway/config/backoff.h"

namespace gw {

// Numbers are written back with string.format: Redis would turn a Lua number into a string
// with 14 significant digits, which would round a time in microseconds.
const char* const RedisBucketClient::kBucketScript = R"lua(
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local rate = tonumber(ARGV[1]) / (tonumber(ARGV[2]) * 1000000)
local size = tonumber(ARGV[3])
local charge = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'level', 'time')
local level = size
local last = now
if state[1] then
  level = tonumber(state[1])
  last = tonumber(state[2])
  if now > last then
    level = math.min(size, level + (now - last) * rate)
    last = now
  end
end
level = level - charge
local ttl = math.ceil((size - level) / rate / 1000) + 1000
if ttl > 1e12 then ttl = 1e12 end
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'time', string.format('%d', last))
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return math.floor(level * 1000)
)lua";

RedisBucketClient::RedisBucketClient(RedisBucketOptions options) : options_(std::move(options)) {}

RedisBucketClient::~RedisBucketClient() { Stop(); }

std::string RedisBucketClient::address() const {
  return FormatHostPort(options_.address.host, options_.address.port);
}

void RedisBucketClient::Start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void RedisBucketClient::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<Pending> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(pending_);
  }
  available_.store(false, std::memory_order_relaxed);
}

void RedisBucketClient::QueueSync(std::shared_ptr<ClusterRateLimiter> limiter, std::string key) {
  bool was_empty = false;
  {
    std::lock_guard lock(mutex_);
    was_empty = pending_.empty();
    pending_.push_back({std::move(limiter), std::move(key)});
  }
  // The thread drains the whole queue when it wakes: one notify per batch is enough.
  if (was_empty) wake_.notify_one();
}

void RedisBucketClient::Run() {
  Backoff backoff(options_.reconnect_initial, options_.reconnect_max);
  auto retry_at = std::chrono::steady_clock::now();
  std::vector<Pending> batch;
  while (true) {
    if (!connection_) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait_until(lock, retry_at, [this] { return stopping_; });
        if (stopping_) break;
      }
      if (!Connect()) {
        retry_at = std::chrono::steady_clock::now() + backoff.Next();
        continue;
      }
      backoff.Reset();
    }
    batch.clear();
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.ping_interval,
                     [this] { return stopping_ || !pending_.empty(); });
      if (stopping_) break;
      const size_t take = std::min(pending_.size(), kMaxBatch);
      std::move(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(take),
                std::back_inserter(batch));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(take));
    }
    const bool ok = batch.empty() ? Ping() : Sync(batch);
    if (!ok) retry_at = std::chrono::steady_clock::now() + backoff.Next();
  }
  connection_.reset();
}

bool RedisBucketClient::Connect() {
  std::string error;
  connection_ = RedisConnection::Connect(options_.address, options_.timeout, &error);
  if (!connection_) {
    MarkDown(error);
    return false;
  }
  std::vector<RedisConnection::Reply> replies;
  if (!connection_->Run({{"SCRIPT", "LOAD", kBucketScript}}, &replies, &error)) {
    MarkDown(error);
    return false;
  }
  if (replies[0].kind != RedisConnection::Reply::Kind::kString) {
    MarkDown("SCRIPT LOAD answered " + replies[0].text);
    return false;
  }
  script_sha_ = replies[0].text;
  available_.store(true, std::memory_order_relaxed);
  if (reported_ != Reported::kUp) {
    LogInfo("redis " + address() + (reported_ == Reported::kDown ? " is back" : " connected") +
            ": cluster-scope rate limits are counted there");
    reported_ = Reported::kUp;
  }
  return true;
}

bool RedisBucketClient::Ping() {
  std::vector<RedisConnection::Reply> replies;
  std::string error;
  if (!connection_->Run({{"PING"}}, &replies, &error)) {
    MarkDown(error);
    return false;
  }
  if (replies[0].kind == RedisConnection::Reply::Kind::kError) {
    MarkDown("PING answered " + replies[0].text);
    return false;
  }
  return true;
}

bool RedisBucketClient::Sync(std::vector<Pending>& batch) {
  // Keys whose state is gone (dropped by their limiter) need nothing.
  std::vector<std::vector<std::string>> commands;
  std::vector<Pending*> sent;
  commands.reserve(batch.size());
  sent.reserve(batch.size());
  for (Pending& item : batch) {
    const std::optional<uint64_t> charge = item.limiter->BeginSync(item.key);
    if (!charge) continue;
    const RateLimitConfig& config = item.limiter->config();
    commands.push_back({"EVALSHA", script_sha_, "1", item.limiter->bucket_prefix() + item.key,
                        std::to_string(config.requests), std::to_string(config.period_seconds),
                        std::to_string(config.Capacity()), std::to_string(*charge)});
    sent.push_back(&item);
  }
  if (commands.empty()) return true;

  std::vector<RedisConnection::Reply> replies;
  std::string error;
  bool ok = connection_->Run(commands, &replies, &error);
  if (ok) {
    // The script is gone (SCRIPT FLUSH, or a failover to a server that never had it): load it
    // again and run those once more (their charges never reached the bucket).
    std::vector<size_t> again;
    for (size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].kind == RedisConnection::Reply::Kind::kError &&
          replies[i].text.starts_with("NOSCRIPT"))
        again.push_back(i);
    }
    if (!again.empty()) {
      std::vector<RedisConnection::Reply> loaded;
      ok = connection_->Run({{"SCRIPT", "LOAD", kBucketScript}}, &loaded, &error);
      if (ok && loaded[0].kind == RedisConnection::Reply::Kind::kString) {
        script_sha_ = loaded[0].text;
        std::vector<std::vector<std::string>> retry;
        for (const size_t i : again) {
          commands[i][1] = script_sha_;
          retry.push_back(commands[i]);
        }
        std::vector<RedisConnection::Reply> retried;
        ok = connection_->Run(retry, &retried, &error);
        for (size_t j = 0; ok && j < again.size(); ++j) replies[again[j]] = std::move(retried[j]);
      } else if (ok) {
        ok = false;
        error = "SCRIPT LOAD answered " + loaded[0].text;
      }
    }
  }
  for (size_t i = 0; ok && i < replies.size(); ++i) {
    if (replies[i].kind != RedisConnection::Reply::Kind::kInteger) {
      // An error reply (out of memory, a read-only replica, a key of another type): Redis
      // cannot keep the count, so nothing it says is trusted until a reconnect.
      ok = false;
      error = "the bucket script answered " +
              (replies[i].text.empty() ? std::string("no number") : replies[i].text);
    }
  }
  if (!ok) {
    std::vector<Pending> failed;
    for (Pending* item : sent) failed.push_back(std::move(*item));
    FailAll(failed);
    MarkDown(error);
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  std::vector<Pending> requeue;
  for (size_t i = 0; i < sent.size(); ++i) {
    const double level = static_cast<double>(replies[i].integer) / 1000.0;
    if (sent[i]->limiter->EndSync(sent[i]->key, level, now)) requeue.push_back(std::move(*sent[i]));
  }
  syncs_.fetch_add(sent.size(), std::memory_order_relaxed);
  if (!requeue.empty()) {
    std::lock_guard lock(mutex_);
    std::move(requeue.begin(), requeue.end(), std::back_inserter(pending_));
  }
  return true;
}

void RedisBucketClient::FailAll(std::vector<Pending>& items) {
  const auto now = std::chrono::steady_clock::now();
  for (Pending& item : items) item.limiter->FailSync(item.key, now);
  items.clear();
}

void RedisBucketClient::MarkDown(const std::string& error) {
  connection_.reset();
  errors_.fetch_add(1, std::memory_order_relaxed);
  available_.store(false, std::memory_order_relaxed);
  // What was queued before the workers saw Redis down; anything queued after waits for the
  // reconnect (the limiters count locally meanwhile).
  std::vector<Pending> queued;
  {
    std::lock_guard lock(mutex_);
    queued.swap(pending_);
  }
  FailAll(queued);
  if (reported_ != Reported::kDown) {
    LogWarn("redis " + address() + " is unreachable (" + error +
            "): cluster-scope rate limits are counted by each gateway alone until it is back "
            "(gateway_rate_limit_redis_fallback_total)");
    reported_ = Reported::kDown;
  }
}

}  // namespace gw
