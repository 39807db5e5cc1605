#pragma once
// The two websocket roles: an executor connection (wire-protocol.md §2) and a bridge
// connection (§7). Both are thin adapters from WsConnection events to relay::Hub calls.
#include "ws_connection.hpp"

namespace cxg::transport {

template <class Stream>
class ExecutorSession final : public WsConnection<Stream> {
 public:
  ExecutorSession(Stream&& s, WsLimits limits, relay::Hub& hub, std::string exe_id, bool legacy)
      : WsConnection<Stream>(std::move(s), limits), hub_(hub), exe_id_(std::move(exe_id)), legacy_(legacy) {}

 private:
  void on_open() override;
  relay::ReadGate on_message(std::string message, bool binary) override;
  void on_message_too_big(std::string_view prefix) override;
  void on_closed() override;

  relay::Hub& hub_;
  const std::string exe_id_;
  const bool legacy_;
  std::shared_ptr<relay::ExecutorLink> link_;
};

template <class Stream>
class BridgeSession final : public WsConnection<Stream> {
 public:
  BridgeSession(Stream&& s, WsLimits limits, relay::Hub& hub, relay::BridgeIdentity who,
                std::chrono::milliseconds first_frame_timeout)
      : WsConnection<Stream>(std::move(s), limits), hub_(hub), who_(std::move(who)), first_frame_timeout_(first_frame_timeout) {}

 private:
  void on_open() override;
  relay::ReadGate on_message(std::string message, bool binary) override;
  void on_message_too_big(std::string_view prefix) override;
  void on_closed() override;

  relay::Hub& hub_;
  const relay::BridgeIdentity who_;
  const std::chrono::milliseconds first_frame_timeout_;
  bool first_seen_ = false;
  std::shared_ptr<relay::BridgeLink> link_;
};

}  // namespace cxg::transport
