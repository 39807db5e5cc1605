#pragma once
// Websocket close codes/reasons and Reset reasons (wire-protocol.md §10).
#include <cstdint>
#include <string_view>

namespace cxg::relay {

struct CloseStatus {
  std::uint16_t code = 0;
  std::string_view reason;
};

namespace close {
inline constexpr CloseStatus kBridgeLeft{1000, "bridge left"};
inline constexpr CloseStatus kResetByExecutor{1000, "stream reset by executor"};
inline constexpr CloseStatus kResetByBridge{1000, "stream reset by bridge"};
inline constexpr CloseStatus kShuttingDown{1001, "gateway shutting down"};
inline constexpr CloseStatus kFirstFrameReadFailed{1002, "first frame read failed"};
inline constexpr CloseStatus kMalformedFirstFrame{1002, "malformed first frame"};
inline constexpr CloseStatus kFirstFrameNotResume{1002, "first frame must be Resume"};
inline constexpr CloseStatus kResumeMissingStreamId{1002, "Resume missing stream_id"};
inline constexpr CloseStatus kInvalidStreamId{1002, "invalid stream_id"};
inline constexpr CloseStatus kMalformedFrame{1002, "malformed frame"};
inline constexpr CloseStatus kUnsupportedVersion{1002, "unsupported relay frame version"};
inline constexpr CloseStatus kRelayBinaryOnly{1003, "relay bridge accepts binary frames only"};
inline constexpr CloseStatus kPlainTextOnly{1003, "plain bridge accepts text frames only"};
inline constexpr CloseStatus kInvalidExecutorPayload{1007, "invalid payload from executor"};
inline constexpr CloseStatus kMessageTooBig{1009, "message too big"};
inline constexpr CloseStatus kInternalError{1011, "internal error"};
inline constexpr CloseStatus kStreamLimit{1013, "stream limit reached"};
inline constexpr CloseStatus kKeepaliveTimeout{4000, "keepalive timeout"};
inline constexpr CloseStatus kWriteTimeout{4000, "write timeout"};
inline constexpr CloseStatus kReplaced{4001, "replaced by newer connection"};
inline constexpr CloseStatus kExecutorDeleted{4002, "executor deleted"};
inline constexpr CloseStatus kExecutorDisconnected{4100, "executor disconnected"};
inline constexpr CloseStatus kExecutorReplaced{4101, "executor replaced"};
inline constexpr CloseStatus kStreamReplaced{4102, "stream replaced"};
inline constexpr CloseStatus kTurnRevoked{4103, "turn revoked"};
inline constexpr CloseStatus kBridgeExecutorDeleted{4104, "executor deleted"};
inline constexpr CloseStatus kUnbound{4105, "executor unbound from workspace"};
inline constexpr CloseStatus kSlowConsumer{4106, "slow consumer"};
inline constexpr CloseStatus kStreamIdInUse{4107, "stream_id in use"};
inline constexpr CloseStatus kExecutorBusy{4108, "executor busy"};
}  // namespace close

namespace reset {
inline constexpr std::string_view kHarnessDisconnected = "harness_disconnected";
inline constexpr std::string_view kBridgeOverflow = "bridge_overflow";
inline constexpr std::string_view kFrameTooLarge = "frame_too_large";
inline constexpr std::string_view kProtocolError = "protocol_error";
inline constexpr std::string_view kTurnRevoked = "turn_revoked";
inline constexpr std::string_view kExecutorUnbound = "executor_unbound";
inline constexpr std::string_view kGatewayShutdown = "gateway_shutdown";
inline constexpr std::string_view kBridgeReset = "bridge_reset";
}  // namespace reset

// Close reasons are at most 123 bytes (RFC 6455 control frame limit), cut at a UTF-8 boundary.
std::string_view truncate_close_reason(std::string_view reason);

}  // namespace cxg::relay
