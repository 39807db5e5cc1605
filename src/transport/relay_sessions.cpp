#include "relay_sessions.hpp"

namespace cxg::transport {

// ------------------------------------------------------------------ executor

template <class Stream>
void ExecutorSession<Stream>::on_open() {
  link_ = hub_.attach_executor(exe_id_, legacy_, std::static_pointer_cast<relay::Peer>(this->self()));
}

template <class Stream>
relay::ReadGate ExecutorSession<Stream>::on_message(std::string message, bool binary) {
  // The executor reader never waits on a bridge: the hub only queues.
  if (link_) hub_.executor_message(*link_, std::move(message), binary);
  return relay::ReadGate::go_on;
}

template <class Stream>
void ExecutorSession<Stream>::on_message_too_big(std::string_view prefix) {
  if (link_) hub_.executor_message_too_big(*link_, prefix);
}

template <class Stream>
void ExecutorSession<Stream>::on_closed() {
  if (!link_) return;
  hub_.executor_gone(*link_);
  link_.reset();  // breaks the link -> peer -> session cycle
}

// ------------------------------------------------------------------ bridge

template <class Stream>
void BridgeSession<Stream>::on_open() {
  this->aux_timer().expires_after(first_frame_timeout_);
  this->aux_timer().async_wait([self = this->self(), this](boost::beast::error_code ec) {
    if (ec || first_seen_) return;
    this->close(relay::close::kFirstFrameReadFailed);
  });
}

template <class Stream>
relay::ReadGate BridgeSession<Stream>::on_message(std::string message, bool binary) {
  if (!first_seen_) {
    first_seen_ = true;
    this->aux_timer().cancel();
    auto opened = hub_.open_bridge(who_, std::static_pointer_cast<relay::Peer>(this->self()), std::move(message), binary);
    if (!opened.link) {
      this->close_with(opened.close_code, std::move(opened.close_reason), false);
      return relay::ReadGate::go_on;
    }
    link_ = std::move(opened.link);
    return opened.gate;
  }
  if (!link_) return relay::ReadGate::go_on;
  return hub_.bridge_message(*link_, std::move(message), binary);
}

template <class Stream>
void BridgeSession<Stream>::on_message_too_big(std::string_view) {
  if (link_) hub_.bridge_message_too_big(*link_);
  else this->close(relay::close::kMessageTooBig);
}

template <class Stream>
void BridgeSession<Stream>::on_closed() {
  if (!link_) return;
  hub_.bridge_gone(*link_, this->ended_by_write_timeout() ? relay::reset::kBridgeOverflow
                                                    : relay::reset::kHarnessDisconnected);
  link_.reset();
}


template class ExecutorSession<PlainStream>;
template class ExecutorSession<TlsStream>;
template class BridgeSession<PlainStream>;
template class BridgeSession<TlsStream>;

}  // namespace cxg::transport
