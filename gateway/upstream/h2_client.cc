#include "gateway/upstream/h2_client.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <charconv>
#include <string_view>

#include "gateway/http2/header_conversion.h"

namespace gw {
namespace {

namespace http = boost::beast::http;

// Output gathered into one write, and the output in flight over which reads pause.
constexpr size_t kMaxOutput = 64 * 1024;
constexpr int32_t kMaxStreamId = (1U << 31) - 1;
constexpr uint32_t kAssumedMaxConcurrentStreams = 100;

std::string_view View(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A request header as the nghttp2_nv array nghttp2_submit_request copies: the four
// pseudo-headers, then the fields lower-cased without Host (it is :authority) and without the
// connection-specific ones (RFC 9113 section 8.2.2: Connection and those it names, Keep-Alive,
// Proxy-Connection, Transfer-Encoding, Upgrade, TE other than "trailers").
class RequestFields {
 public:
  explicit RequestFields(const HttpRequestHeader& head) {
    std::vector<std::string> nominated;
    for (const auto& token : http::token_list(head[http::field::connection])) {
      nominated.push_back(Lower(ToStd(token)));
    }
    Append(":method", ToStd(head.method_string()));
    Append(":scheme", "http");
    Append(":authority", ToStd(head[http::field::host]));
    Append(":path", ToStd(head.target()));
    for (const auto& field : head) {
      const std::string name = Lower(ToStd(field.name_string()));
      const std::string_view value = ToStd(field.value());
      if (name == "host" || name == "connection" || name == "keep-alive" ||
          name == "proxy-connection" || name == "transfer-encoding" || name == "upgrade" ||
          std::find(nominated.begin(), nominated.end(), name) != nominated.end() ||
          (name == "te" && !boost::beast::iequals(field.value(), "trailers"))) {
        continue;
      }
      Append(name, value);
    }
    auto* base = reinterpret_cast<uint8_t*>(storage_.data());
    for (const auto& s : spans_) {
      nv_.push_back(
          {base + s.name, base + s.value, s.name_size, s.value_size, NGHTTP2_NV_FLAG_NONE});
    }
  }

  const nghttp2_nv* data() const { return nv_.data(); }
  size_t size() const { return nv_.size(); }

 private:
  // Offsets first: the pointers are taken once storage_ stops growing.
  void Append(std::string_view name, std::string_view value) {
    spans_.push_back({storage_.size(), name.size(), storage_.size() + name.size(), value.size()});
    storage_ += name;
    storage_ += value;
  }

  struct Span {
    size_t name, name_size, value, value_size;
  };
  std::string storage_;
  std::vector<Span> spans_;
  std::vector<nghttp2_nv> nv_;
};

}  // namespace

// nghttp2's callbacks, each forwarding to the connection in user_data. Built once per process
// with the options, as nghttp2_session_client_new2 copies both.
struct H2ClientConnection::Callbacks {
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<H2ClientConnection*>(user);
    if (StreamState* stream = c.Find(frame->hd.stream_id)) {
      stream->fields.clear();
      stream->header_bytes = 0;
      stream->status = 0;
    }
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_size, const uint8_t* value, size_t value_size, uint8_t,
                      void* user) {
    auto& c = *static_cast<H2ClientConnection*>(user);
    StreamState* stream = c.Find(frame->hd.stream_id);
    if (stream == nullptr) return 0;
    stream->header_bytes += name_size + value_size + http2::kFieldOverhead;
    if (stream->header_bytes > c.settings_.max_header_list_size) {
      // nghttp2 answers RST_STREAM(INTERNAL_ERROR) and skips the rest of the block; the
      // handler's OnClose gets that code.
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    const std::string_view n = View(name, name_size);
    const std::string_view v = View(value, value_size);
    if (n == ":status") {
      // nghttp2's messaging checks hold :status to three digits before this callback.
      std::from_chars(v.data(), v.data() + v.size(), stream->status);
    } else if (!n.starts_with(':')) {
      stream->fields.insert(ToBeast(n), ToBeast(v));
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<H2ClientConnection*>(user);
    if (c.closed_) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        StreamState* stream = c.Find(frame->hd.stream_id);
        if (stream == nullptr || stream->reset) break;
        if (!stream->response_started) {
          if (stream->status < 200) break;  // 1xx: the final header is still to come
          stream->response_started = true;
          stream->response_ended = end_stream;
          stream->handler->OnResponseHeader(stream->status, stream->fields, end_stream);
        } else {
          stream->response_ended = true;  // nghttp2 holds trailers to END_STREAM
          stream->handler->OnResponseTrailers(stream->fields);
        }
        break;
      }
      case NGHTTP2_DATA:
        if (StreamState* stream = c.Find(frame->hd.stream_id); stream && end_stream) {
          stream->response_ended = true;
        }
        break;
      case NGHTTP2_GOAWAY:
        // nghttp2 closes the streams above last_stream_id with REFUSED_STREAM itself.
        c.goaway_received_ = true;
        break;
      case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) c.ping_deadline_ = Clock::time_point::max();
        break;
      default:
        break;
    }
    if (end_stream && frame->hd.type != NGHTTP2_PING) {
      // The response is complete while the request is not (an early gRPC status): RFC 9113
      // section 8.1 lets the rest of the request go; the stream closes with NO_ERROR.
      if (StreamState* stream = c.Find(frame->hd.stream_id);
          stream && stream->response_ended && !stream->request_ended) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
      }
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                         size_t size, void* user) {
    auto& c = *static_cast<H2ClientConnection*>(user);
    StreamState* stream = c.closed_ ? nullptr : c.Find(id);
    if (stream == nullptr || stream->reset) {
      // Nobody reads these bytes: the window gets them back at once.
      nghttp2_session_consume(session, id, size);
      return 0;
    }
    stream->unconsumed += size;
    stream->handler->OnResponseData({data, size});
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    auto& c = *static_cast<H2ClientConnection*>(user);
    if (!c.closed_) c.CloseStream(id, error_code);
    return 0;
  }

  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<H2ClientConnection*>(user);
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (StreamState* stream = c.Find(frame->hd.stream_id)) stream->header_sent = true;
    }
    return 0;
  }

  static int OnFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int, void* user) {
    // A request header nghttp2 would not send (GOAWAY arrived first): the peer never saw it.
    auto& c = *static_cast<H2ClientConnection*>(user);
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        !c.closed_) {
      c.CloseStream(frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
    }
    return 0;
  }

  static const nghttp2_session_callbacks* Get() {
    static const nghttp2_session_callbacks* const callbacks = [] {
      nghttp2_session_callbacks* cb = nullptr;
      nghttp2_session_callbacks_new(&cb);
      nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &OnBeginHeaders);
      nghttp2_session_callbacks_set_on_header_callback(cb, &OnHeader);
      nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &OnFrameRecv);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &OnDataChunk);
      nghttp2_session_callbacks_set_on_stream_close_callback(cb, &OnStreamClose);
      nghttp2_session_callbacks_set_on_frame_send_callback(cb, &OnFrameSend);
      nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, &OnFrameNotSend);
      return cb;
    }();
    return callbacks;
  }

  static const nghttp2_option* Options() {
    static const nghttp2_option* const options = [] {
      nghttp2_option* o = nullptr;
      nghttp2_option_new(&o);
      // Response bytes are consumed when the caller passed them on (ConsumeResponse).
      nghttp2_option_set_no_auto_window_update(o, 1);
      // CVE-2024-27316 holds for an upstream too: a header block in at most 9 frames.
      nghttp2_option_set_max_continuations(o, 8);
      // What nghttp2 assumes until the peer's SETTINGS come, set so that Submit and
      // CanTakeStream count against the same number.
      nghttp2_option_set_peer_max_concurrent_streams(o, kAssumedMaxConcurrentStreams);
      return o;
    }();
    return options;
  }
};

H2ClientConnection::H2ClientConnection(const NetExecutor& executor,
                                       const H2ClientSettings& settings)
    : settings_(settings), timer_(executor), idle_since_(Clock::now()), last_read_(idle_since_) {}

H2ClientConnection::~H2ClientConnection() {
  closed_ = true;  // nghttp2_session_del calls no callback; should it, they do nothing
  nghttp2_session_del(session_);
}

void H2ClientConnection::Start() {
  if (nghttp2_session_client_new2(&session_, Callbacks::Get(), this, Callbacks::Options()) != 0) {
    session_ = nullptr;
    closed_ = true;
    CloseSocket();
    return;
  }
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_list_size},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        settings_.connection_window);
  Flush();
}

int32_t H2ClientConnection::Submit(const HttpRequestHeader& head, bool end_stream,
                                   H2UpstreamStream& handler) {
  if (closed_ || session_ == nullptr || goaway_received_) return kSubmitClosing;
  if (nghttp2_session_get_next_stream_id(session_) > static_cast<uint32_t>(kMaxStreamId)) {
    return kSubmitIdsExhausted;
  }
  if (streams_.size() >=
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)) {
    return kSubmitNoCapacity;
  }
  const RequestFields fields(head);
  nghttp2_data_provider provider{};
  provider.read_callback = &H2ClientConnection::ReadBody;
  const int32_t id = nghttp2_submit_request(session_, nullptr, fields.data(), fields.size(),
                                            end_stream ? nullptr : &provider, nullptr);
  if (id < 0) return kSubmitFailed;
  StreamState& stream = streams_[id];
  stream.handler = &handler;
  stream.request_ended = end_stream;
  PostFlush();
  return id;
}

bool H2ClientConnection::SubmitRequestTrailers(int32_t id, HttpFields fields) {
  StreamState* stream = Find(id);
  if (stream == nullptr || stream->request_ended) return false;
  stream->request_trailers = std::move(fields);
  return true;
}

void H2ClientConnection::ResumeRequest(int32_t id) {
  if (closed_ || Find(id) == nullptr) return;
  nghttp2_session_resume_data(session_, id);
  PostFlush();
}

void H2ClientConnection::ConsumeResponse(int32_t id, size_t n) {
  StreamState* stream = closed_ ? nullptr : Find(id);
  if (stream == nullptr) return;
  n = std::min(n, stream->unconsumed);
  stream->unconsumed -= n;
  nghttp2_session_consume(session_, id, n);
  PostFlush();
}

void H2ClientConnection::Reset(int32_t id, uint32_t error_code) {
  StreamState* stream = closed_ ? nullptr : Find(id);
  if (stream == nullptr || stream->reset) return;
  stream->reset = true;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, error_code);
  PostFlush();
}

bool H2ClientConnection::CanTakeStream() const {
  return !closed_ && session_ != nullptr && !goaway_received_ &&
         streams_.size() < nghttp2_session_get_remote_settings(
                               session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) &&
         nghttp2_session_get_next_stream_id(session_) <= static_cast<uint32_t>(kMaxStreamId);
}

void H2ClientConnection::OnRead(const boost::system::error_code& ec, size_t bytes) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    Close();  // the upstream is gone (or reset the connection)
    return;
  }
  last_read_ = Clock::now();
  Receive(read_buffer_.data(), bytes);
  Flush();
}

void H2ClientConnection::OnWritten(const boost::system::error_code& ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) {
    Close();
    return;
  }
  Flush();
}

H2ClientConnection::StreamState* H2ClientConnection::Find(int32_t id) {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

void H2ClientConnection::Receive(const uint8_t* data, size_t size) {
  in_receive_ = true;
  const ssize_t rv = nghttp2_session_mem_recv(session_, data, size);
  in_receive_ = false;
  // Fatal for the session (a protocol error of the upstream's): nghttp2 queued a GOAWAY and
  // wants nothing more; Flush sends it and closes.
  if (rv < 0 && !closed_) nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
}

void H2ClientConnection::PostFlush() {
  if (flush_posted_ || in_receive_ || in_send_) return;  // those flush when they are done
  flush_posted_ = true;
  boost::asio::post(timer_.get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->Flush();
  });
}

void H2ClientConnection::Flush() {
  if (closed_ || in_receive_ || in_send_) return;
  if (!writing_) {
    output_.clear();
    in_send_ = true;
    while (output_.size() < kMaxOutput) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        in_send_ = false;
        Close();
        return;
      }
      if (n == 0) break;
      output_.insert(output_.end(), data, data + n);
    }
    in_send_ = false;
    if (closed_) return;  // a handler closed the connection from a callback
    if (!output_.empty()) {
      writing_ = true;
      WriteAll(output_);
    }
  }
  if (!writing_ && nghttp2_session_want_read(session_) == 0 &&
      nghttp2_session_want_write(session_) == 0) {
    Close();
    return;
  }
  ArmTimer();
  MaybeRead();
}

void H2ClientConnection::MaybeRead() {
  if (reading_ || closed_ || nghttp2_session_want_read(session_) == 0) return;
  reading_ = true;
  ReadSome(read_buffer_);
}

void H2ClientConnection::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel(ignored);
  CloseSocket();
  lease_.reset();
  // Handlers learn that the connection is gone; a request never written is safe to resend.
  auto streams = std::move(streams_);
  streams_.clear();
  idle_since_ = Clock::now();
  for (auto& [id, stream] : streams) {
    stream.handler->OnClose(stream.header_sent ? NGHTTP2_CANCEL : NGHTTP2_REFUSED_STREAM);
  }
}

void H2ClientConnection::CloseStream(int32_t id, uint32_t error_code) {
  const auto it = streams_.find(id);
  if (it == streams_.end()) return;
  H2UpstreamStream* handler = it->second.handler;
  if (it->second.unconsumed > 0) {
    // Bytes the caller will never consume: the connection's window gets them back, or every
    // reset mid-download would shrink it until the connection stalls.
    nghttp2_session_consume_connection(session_, it->second.unconsumed);
  }
  if (error_code == NGHTTP2_NO_ERROR && !it->second.response_ended) {
    error_code = NGHTTP2_INTERNAL_ERROR;  // reset with NO_ERROR before the response was whole
  }
  streams_.erase(it);
  if (streams_.empty()) idle_since_ = Clock::now();
  handler->OnClose(error_code);
}

void H2ClientConnection::ArmTimer() {
  // Liveness matters only while streams wait on the peer.
  if (closed_ || (streams_.empty() && ping_deadline_ == Clock::time_point::max())) return;
  const auto when = std::min(last_read_ + settings_.ping_interval, ping_deadline_);
  if (when >= timer_at_) return;
  timer_at_ = when;
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->OnTimer();
  });
}

void H2ClientConnection::OnTimer() {
  timer_at_ = Clock::time_point::max();
  if (closed_) return;
  const auto now = Clock::now();
  if (now >= ping_deadline_) {
    Close();  // no ACK: the peer or the path is dead
    return;
  }
  if (!streams_.empty() && ping_deadline_ == Clock::time_point::max() &&
      now >= last_read_ + settings_.ping_interval) {
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
    ping_deadline_ = now + settings_.ping_timeout;
  }
  Flush();
}

ssize_t H2ClientConnection::ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                                     size_t length, uint32_t* data_flags, nghttp2_data_source*,
                                     void* user_data) {
  auto& c = *static_cast<H2ClientConnection*>(user_data);
  StreamState* stream = c.Find(stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if (stream->reset) return NGHTTP2_ERR_DEFERRED;  // its RST_STREAM is on the way
  const http2::BodyPull pull = stream->handler->PullRequestBody({buf, length});
  // The handler may have reset the stream or closed the connection from inside the pull.
  stream = c.Find(stream_id);
  if (stream == nullptr || c.closed_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if ((pull.size == 0 && !pull.end) || stream->reset) return NGHTTP2_ERR_DEFERRED;
  if (pull.end) {
    stream->request_ended = true;
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (stream->request_trailers) {
      const http2::ResponseFields trailers(*stream->request_trailers);
      if (nghttp2_submit_trailer(session, stream_id, trailers.data(), trailers.size()) == 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
  }
  return static_cast<ssize_t>(pull.size);
}

H2ClientPool::ConnectionPtr H2ClientPool::Acquire(const HostPort& endpoint) {
  const auto it = connections_.find(Key{endpoint.host, endpoint.port});
  if (it == connections_.end()) return nullptr;
  auto& list = it->second;
  std::erase_if(list, [](const ConnectionPtr& c) { return c->closed(); });
  ConnectionPtr best;
  for (const auto& c : list) {
    if (c->CanTakeStream() && (!best || c->active_streams() > best->active_streams())) best = c;
  }
  if (list.empty()) connections_.erase(it);
  return best;
}

void H2ClientPool::Add(const HostPort& endpoint, ConnectionPtr connection) {
  if (closed_) {
    connection->Close();
    return;
  }
  connections_[Key{endpoint.host, endpoint.port}].push_back(std::move(connection));
}

void H2ClientPool::CloseIdle(H2ClientConnection::Clock::time_point idle_before) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    std::erase_if(it->second, [&](const ConnectionPtr& c) {
      if (!c->closed() && c->active_streams() == 0 && c->idle_since() < idle_before) c->Close();
      return c->closed();
    });
    it = it->second.empty() ? connections_.erase(it) : std::next(it);
  }
}

void H2ClientPool::Close() {
  closed_ = true;
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [key, list] : connections) {
    for (auto& c : list) c->Close();
  }
}

size_t H2ClientPool::connection_count() const {
  size_t n = 0;
  for (const auto& [key, list] : connections_) n += list.size();
  return n;
}

}  // namespace gw
