#include "gateway/http2/connection.h"

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <string>

#include "gateway/http2/header_conversion.h"

namespace gw::http2 {
namespace {

// Output gathered into one write, and the output in flight over which reads pause.
constexpr size_t kMaxOutput = 64 * 1024;
// The premature-reset rule (Envoy's): judged once this many streams were opened.
constexpr uint64_t kPrematureResetMinStreams = 100;
// The stream id of a shutdown notice's GOAWAY (RFC 9113 section 6.8).
constexpr int32_t kShutdownNoticeId = (1U << 31) - 1;

Stream* StreamOf(nghttp2_session* session, int32_t id) {
  return static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, id));
}

std::string_view View(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

std::string_view GoawayReasonName(GoawayReason reason) {
  switch (reason) {
    case GoawayReason::kIdle:
      return "idle";
    case GoawayReason::kDrain:
      return "drain";
    case GoawayReason::kAbuse:
      return "abuse";
    case GoawayReason::kProtocolError:
      return "protocol_error";
    case GoawayReason::kSettingsTimeout:
      return "settings_timeout";
  }
  return "unknown";
}

// nghttp2's callbacks, each forwarding to the Connection in user_data. Built once per process
// with the options, as nghttp2_session_server_new2 copies both.
struct Connection::Callbacks {
  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<Connection*>(user);
    if (c.closed_ || frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    auto stream = std::make_shared<Stream>(c.shared_from_this(), frame->hd.stream_id,
                                           c.settings_.max_header_list_size);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream.get());
    c.streams_.emplace(frame->hd.stream_id, std::move(stream));
    ++c.open_streams_;
    ++c.streams_opened_;
    ++c.counters_.streams;
    c.idle_deadline_ = Clock::time_point::max();
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_size, const uint8_t* value, size_t value_size, uint8_t flags,
                      void* user) {
    Stream* stream = StreamOf(session, frame->hd.stream_id);
    if (stream == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
    const auto& c = *static_cast<Connection*>(user);
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      stream->request_.Add(View(name, name_size), View(value, value_size));
    } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
      if (!stream->trailers_) stream->trailers_.emplace(c.settings_.max_header_list_size);
      stream->trailers_->Add(View(name, name_size), View(value, value_size));
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<Connection*>(user);
    if (c.closed_) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) c.settings_received_ = true;
        break;
      case NGHTTP2_HEADERS:
        if (Stream* stream = StreamOf(session, frame->hd.stream_id)) {
          if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            c.OnRequestHeader(*stream, end_stream);
          } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
            c.OnRequestTrailers(*stream);
          }
        }
        break;
      case NGHTTP2_DATA:
        if (Stream* stream = StreamOf(session, frame->hd.stream_id); stream && end_stream) {
          c.OnRequestEnd(*stream);
        }
        break;
      case NGHTTP2_RST_STREAM:
        if (Stream* stream = StreamOf(session, frame->hd.stream_id)) stream->reset_by_peer_ = true;
        break;
      default:
        break;
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t flags, int32_t id, const uint8_t* data,
                         size_t size, void* user) {
    auto& c = *static_cast<Connection*>(user);
    if (c.closed_) return 0;
    Stream* stream = StreamOf(session, id);
    if (stream == nullptr || stream->discard_body_ || !stream->handler_ || stream->closed_) {
      // Nobody reads these bytes: their window goes back at once (for a stream nghttp2 forgot,
      // the connection's only).
      nghttp2_session_consume(session, id, size);
      return 0;
    }
    stream->body_.append(reinterpret_cast<const char*>(data), size);
    stream->handler_->OnRequestBody();
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t id, uint32_t error_code, void* user) {
    auto& c = *static_cast<Connection*>(user);
    if (Stream* stream = StreamOf(session, id); stream && !c.closed_) {
      c.CloseStream(*stream, error_code);
    }
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<Connection*>(user);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      // The response is complete before the request (an early answer, a 408): RFC 9113
      // section 8.1 asks for RST_STREAM(NO_ERROR), else a client that stalls its body holds
      // the stream open for good.
      if (Stream* stream = StreamOf(session, frame->hd.stream_id);
          stream && !stream->request_ended_ && !stream->closed_) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
      }
    }
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (Stream* stream = StreamOf(session, frame->hd.stream_id)) {
          stream->response_headers_sent_ = true;
        }
        break;
      case NGHTTP2_RST_STREAM:
        ++c.counters_.resets_by_gateway;
        break;
      case NGHTTP2_GOAWAY: {
        if (frame->goaway.last_stream_id == kShutdownNoticeId) break;
        GoawayReason reason = GoawayReason::kProtocolError;
        if (c.goaway_reason_) {
          reason = *c.goaway_reason_;
        } else if (frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM) {
          reason = GoawayReason::kAbuse;  // nghttp2's own: the RST_STREAM rate, a flood
        }
        ++c.counters_.goaways[static_cast<size_t>(reason)];
        break;
      }
      default:
        break;
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
      return cb;
    }();
    return callbacks;
  }

  static const nghttp2_option* Options() {
    static const nghttp2_option* const options = [] {
      nghttp2_option* o = nullptr;
      nghttp2_option_new(&o);
      // Request bytes are consumed when their handler passed them on (Stream::Consume).
      nghttp2_option_set_no_auto_window_update(o, 1);
      // CVE-2024-27316 / CVE-2024-28182: a header block in at most 9 frames.
      nghttp2_option_set_max_continuations(o, 8);
      // CVE-2023-44487: 1000 RST_STREAMs at once, 33 a second after; beyond, GOAWAY.
      nghttp2_option_set_stream_reset_rate_limit(o, 1000, 33);
      nghttp2_option_set_max_deflate_dynamic_table_size(o, 4096);
      nghttp2_option_set_max_settings(o, 32);
      nghttp2_option_set_max_outbound_ack(o, 1000);
      // No RFC 7540 priority tree: closed streams need not be kept for it.
      nghttp2_option_set_no_closed_streams(o, 1);
      return o;
    }();
    return options;
  }
};

Connection::Connection(const NetExecutor& executor, const ConnectionSettings& settings,
                       StreamHandlerFactory factory, Http2Counters& counters)
    : settings_(settings), factory_(std::move(factory)), counters_(counters), timer_(executor) {
  ++counters_.connections;
}

Connection::~Connection() {
  closed_ = true;  // nghttp2_session_del calls no callback; should it, they do nothing
  nghttp2_session_del(session_);
}

void Connection::Start(std::string_view received) {
  if (nghttp2_session_server_new2(&session_, Callbacks::Get(), this, Callbacks::Options()) != 0) {
    session_ = nullptr;
    Close();
    return;
  }
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_list_size},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
  // The connection window bounds the request bytes buffered by all streams together.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        settings_.connection_window);
  const auto now = Clock::now();
  settings_deadline_ = now + settings_.settings_timeout;
  idle_deadline_ = now + settings_.idle_timeout;
  ArmTimer(NextDeadline());
  if (!received.empty()) {
    Receive(reinterpret_cast<const uint8_t*>(received.data()), received.size());
  }
  Flush();
}

void Connection::Drain() {
  if (closed_ || draining_) return;
  draining_ = true;
  nghttp2_submit_shutdown_notice(session_);
  goaway_at_ = Clock::now() + settings_.drain_delay;
  ArmTimer(goaway_at_);
  Flush();
}

void Connection::OnRead(const boost::system::error_code& ec, size_t bytes) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    Close();  // the client is gone (or reset the connection)
    return;
  }
  Receive(read_buffer_.data(), bytes);
  Flush();
}

void Connection::OnWritten(const boost::system::error_code& ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) {
    Close();
    return;
  }
  Flush();
}

void Connection::Receive(const uint8_t* data, size_t size) {
  in_receive_ = true;
  const ssize_t rv = nghttp2_session_mem_recv(session_, data, size);
  in_receive_ = false;
  if (rv >= 0 || closed_) return;
  // Fatal for the session: a bad preface, too many CONTINUATIONs, a flood of frames nghttp2
  // must answer. GOAWAY says so if the peer still reads; the connection closes anyway.
  const bool abuse = rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
  Terminate(abuse ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR,
            abuse ? GoawayReason::kAbuse : GoawayReason::kProtocolError);
}

void Connection::Flush() {
  // Inside nghttp2's callbacks mem_send may not run; Receive's and the send loop's callers
  // flush after them.
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
  MaybeRead();
}

void Connection::MaybeRead() {
  if (reading_ || closed_ || nghttp2_session_want_read(session_) == 0) return;
  // The client does not read what it asked for: it may ask for no more until it does.
  if (writing_ && output_.size() >= kMaxOutput) return;
  // Streams the client reset still hold their place until their handlers let go of them
  // (Go's fix for rapid reset). Open streams alone are bounded by nghttp2, which refuses those
  // over the limit; waiting for them here could wait for a WINDOW_UPDATE never read.
  if (streams_.size() >= settings_.max_concurrent_streams && streams_.size() > open_streams_) {
    return;
  }
  reading_ = true;
  ReadSome(read_buffer_);
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel(ignored);
  CloseSocket();
  // Handlers of streams still open learn that the connection is gone. Release is posted, so
  // streams_ does not change under the loop.
  for (auto& [id, stream] : streams_) {
    if (!stream->closed_) CloseStream(*stream, NGHTTP2_CANCEL);
  }
}

void Connection::Terminate(uint32_t error_code, GoawayReason reason) {
  if (closed_ || close_deadline_ != Clock::time_point::max()) return;
  goaway_reason_ = reason;
  nghttp2_session_terminate_session(session_, error_code);
  close_deadline_ = Clock::now() + settings_.close_grace;
  ArmTimer(close_deadline_);
}

void Connection::OnRequestHeader(Stream& stream, bool end_stream) {
  stream.request_ended_ = end_stream;
  switch (stream.request_.Finish()) {
    case RequestVerdict::kOk:
      break;
    case RequestVerdict::kMalformed:
      // RFC 9113 section 8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
      stream.discard_body_ = true;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id_, NGHTTP2_PROTOCOL_ERROR);
      return;
    case RequestVerdict::kTooLarge:
      LocalReply(stream, 431, end_stream);
      return;
    case RequestVerdict::kConnect:
      LocalReply(stream, 501, end_stream);
      return;
  }
  stream.handler_ = factory_(stream);
  if (end_stream && !stream.closed_) stream.handler_->OnRequestEnd();
}

void Connection::OnRequestTrailers(Stream& stream) {
  stream.request_ended_ = true;
  if (!stream.handler_ || stream.closed_) return;
  if (stream.trailers_ && stream.trailers_->Finish() != RequestVerdict::kOk) {
    // The response may have begun: too large or malformed, the stream cannot go on.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id_, NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  stream.handler_->OnRequestEnd();
}

void Connection::OnRequestEnd(Stream& stream) {
  stream.request_ended_ = true;
  if (stream.handler_ && !stream.closed_) stream.handler_->OnRequestEnd();
}

void Connection::LocalReply(Stream& stream, unsigned status, bool end_stream) {
  stream.discard_body_ = true;
  stream.response_submitted_ = true;
  HttpResponseHeader header;
  header.result(status);
  header.set(boost::beast::http::field::content_length, "0");
  const ResponseFields fields(header);
  nghttp2_submit_response(session_, stream.id_, fields.data(), fields.size(), nullptr);
  // RFC 9113 section 8.1: the request body is not wanted; the client may stop sending it.
  if (!end_stream) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id_, NGHTTP2_NO_ERROR);
  }
}

void Connection::CloseStream(Stream& stream, uint32_t error_code) {
  if (stream.closed_) return;
  stream.closed_ = true;
  --open_streams_;
  if (!closed_ && !stream.body_.empty()) {
    // Bytes the handler will never consume: the connection's window gets them back, or every
    // reset mid-upload would shrink it until the connection stalls.
    nghttp2_session_consume_connection(session_, stream.body_.size());
  }
  stream.body_.clear();
  stream.body_.shrink_to_fit();
  if (stream.reset_by_peer_) {
    ++counters_.resets_by_client;
    if (!stream.response_headers_sent_ && ++premature_resets_ * 2 >= streams_opened_ &&
        streams_opened_ >= kPrematureResetMinStreams) {
      Terminate(NGHTTP2_ENHANCE_YOUR_CALM, GoawayReason::kAbuse);
    }
  }
  if (stream.handler_) {
    stream.handler_->OnClose(error_code);
  } else {
    stream.Release();
  }
}

void Connection::ReleaseStream(int32_t id) {
  boost::asio::post(timer_.get_executor(), [self = shared_from_this(), id] {
    self->streams_.erase(id);
    if (self->closed_) return;
    if (self->streams_.empty()) {
      self->idle_deadline_ = Clock::now() + self->settings_.idle_timeout;
      self->ArmTimer(self->idle_deadline_);
    }
    self->Flush();  // a read paused for released streams may start again
  });
}

Connection::Clock::time_point Connection::NextDeadline() const {
  auto next = std::min({goaway_at_, close_deadline_, idle_deadline_});
  if (!settings_received_) next = std::min(next, settings_deadline_);
  return next;
}

void Connection::ArmTimer(Clock::time_point when) {
  if (closed_ || when >= timer_at_) return;
  timer_at_ = when;
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->OnTimer();
  });
}

void Connection::OnTimer() {
  timer_at_ = Clock::time_point::max();
  if (closed_) return;
  const auto now = Clock::now();
  if (now >= close_deadline_) {
    Close();  // told to go away, and not reading it
    return;
  }
  if (!settings_received_ && now >= settings_deadline_) {
    Terminate(NGHTTP2_SETTINGS_TIMEOUT, GoawayReason::kSettingsTimeout);
  } else if (streams_.empty() && now >= idle_deadline_) {
    Terminate(NGHTTP2_NO_ERROR, GoawayReason::kIdle);
  }
  if (now >= goaway_at_) {
    goaway_at_ = Clock::time_point::max();
    goaway_reason_ = GoawayReason::kDrain;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
  }
  Flush();
  ArmTimer(NextDeadline());
}

ssize_t Connection::ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                             size_t length, uint32_t* data_flags, nghttp2_data_source* source,
                             void* user_data) {
  auto& stream = *static_cast<Stream*>(source->ptr);
  if (stream.closed_ || !stream.handler_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const BodyPull pull = stream.handler_->PullResponseBody({buf, length});
  if (pull.size == 0 && !pull.end) return NGHTTP2_ERR_DEFERRED;
  if (pull.end) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (stream.response_trailers_) {
      const ResponseFields trailers(*stream.response_trailers_);
      if (nghttp2_submit_trailer(session, stream_id, trailers.data(), trailers.size()) == 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
  }
  return static_cast<ssize_t>(pull.size);
}

}  // namespace gw::http2
