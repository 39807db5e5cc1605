#pragma once
// Realistic inputs shared by the microbenchmarks: Data frames as Codex and the exec-server
// write them (a JSON-RPC message as the payload, a UUID stream_id), built with cxg's own codec.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cxg/codec/relay_frame.hpp"

namespace cxg::bench {

// Codex names relay streams with UUIDs.
inline constexpr std::string_view kStreamId = "6f1c2a9e-4b7d-4e21-9a35-0c8d7f6b2e41";

// The Data payload sizes of issue 6: a small JSON-RPC call, a typical output chunk, a large one.
inline constexpr std::int64_t kSmallPayload = 200, kMediumPayload = 1024, kLargePayload = 64 * 1024;

// A JSON-RPC notification of exactly `size` bytes (at least the envelope's size), shaped like
// the exec-server's process output: base64-ish text in a string member.
inline std::string json_rpc_payload(std::size_t size) {
  const std::string_view head = R"({"jsonrpc":"2.0","method":"process/output","params":{"processId":7,"chunk":")";
  const std::string_view tail = R"("}})";
  std::string out(head);
  const std::size_t filler = size > head.size() + tail.size() ? size - head.size() - tail.size() : 0;
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < filler; ++i) out.push_back(kAlphabet[(i * 7 + 3) % kAlphabet.size()]);
  out.append(tail);
  return out;
}

// The canonical Data frame carrying a json_rpc_payload of `payload_size` bytes.
inline std::string data_frame(std::size_t payload_size, std::uint32_t seq = 41) {
  return codec::relay::encode_data(kStreamId, seq, json_rpc_payload(payload_size));
}

}  // namespace cxg::bench
