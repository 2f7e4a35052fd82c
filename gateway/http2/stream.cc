#include "gateway/http2/stream.h"

#include <algorithm>
#include <utility>

#include "gateway/http2/connection.h"

namespace gw::http2 {

Stream::Stream(std::shared_ptr<Connection> connection, int32_t id, size_t max_header_bytes)
    : connection_(std::move(connection)), id_(id), request_(max_header_bytes) {}

const HttpFields& Stream::request_trailers() const {
  static const HttpFields kNone;
  return trailers_ ? trailers_->fields() : kNone;
}

void Stream::Consume(size_t n) {
  n = std::min(n, body_.size());
  if (n == 0) return;
  body_.erase(0, n);
  // Once closed, the connection gave the window back already (Connection::CloseStream).
  if (closed_ || connection_->closed()) return;
  nghttp2_session_consume(connection_->session_, id_, n);
  connection_->Flush();
}

void Stream::SubmitResponse(const HttpResponseHeader& header, bool has_body) {
  if (closed_ || response_submitted_ || connection_->closed()) return;
  response_submitted_ = true;
  const ResponseFields fields(header);
  nghttp2_data_provider provider{};
  provider.source.ptr = this;
  provider.read_callback = &Connection::ReadBody;
  if (nghttp2_submit_response(connection_->session_, id_, fields.data(), fields.size(),
                              has_body ? &provider : nullptr) != 0) {
    Reset(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  connection_->Flush();
}

void Stream::SetResponseTrailers(HttpFields trailers) { response_trailers_ = std::move(trailers); }

void Stream::Resume() {
  if (closed_ || connection_->closed()) return;
  nghttp2_session_resume_data(connection_->session_, id_);
  connection_->Flush();
}

void Stream::Reset(uint32_t error_code) {
  if (closed_ || connection_->closed()) return;
  nghttp2_submit_rst_stream(connection_->session_, NGHTTP2_FLAG_NONE, id_, error_code);
  connection_->Flush();
}

void Stream::Release() {
  if (!closed_ || released_) return;
  released_ = true;
  connection_->ReleaseStream(id_);
}

}  // namespace gw::http2
