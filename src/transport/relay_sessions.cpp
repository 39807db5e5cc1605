#include "relay_sessions.hpp"

namespace cxg::transport {

// ------------------------------------------------------------------ executor

void ExecutorSession::on_open() {
  link_ = hub_.attach_executor(exe_id_, legacy_, std::static_pointer_cast<relay::Peer>(self()));
}

relay::ReadGate ExecutorSession::on_message(std::string message, bool binary) {
  // The executor reader never waits on a bridge: the hub only queues.
  if (link_) hub_.executor_message(*link_, std::move(message), binary);
  return relay::ReadGate::go_on;
}

void ExecutorSession::on_message_too_big(std::string_view prefix) {
  if (link_) hub_.executor_message_too_big(*link_, prefix);
}

void ExecutorSession::on_closed() {
  if (!link_) return;
  hub_.executor_gone(*link_);
  link_.reset();  // breaks the link -> peer -> session cycle
}

// ------------------------------------------------------------------ bridge

void BridgeSession::on_open() {
  aux_timer().expires_after(first_frame_timeout_);
  aux_timer().async_wait([self = self(), this](boost::beast::error_code ec) {
    if (ec || first_seen_) return;
    close(relay::close::kFirstFrameReadFailed);
  });
}

relay::ReadGate BridgeSession::on_message(std::string message, bool binary) {
  if (!first_seen_) {
    first_seen_ = true;
    aux_timer().cancel();
    auto opened = hub_.open_bridge(who_, std::static_pointer_cast<relay::Peer>(self()), std::move(message), binary);
    if (!opened.link) {
      close_with(opened.close_code, std::move(opened.close_reason), false);
      return relay::ReadGate::go_on;
    }
    link_ = std::move(opened.link);
    return opened.gate;
  }
  if (!link_) return relay::ReadGate::go_on;
  return hub_.bridge_message(*link_, std::move(message), binary);
}

void BridgeSession::on_message_too_big(std::string_view) {
  if (link_) hub_.bridge_message_too_big(*link_);
  else close(relay::close::kMessageTooBig);
}

void BridgeSession::on_closed() {
  if (!link_) return;
  hub_.bridge_gone(*link_, ended_by_write_timeout() ? relay::reset::kBridgeOverflow
                                                    : relay::reset::kHarnessDisconnected);
  link_.reset();
}

}  // namespace cxg::transport
