// Microbenchmarks of the codecs on the per-frame and per-connection paths: relay frame peek,
// decode and encode (every relayed frame is decoded once), capability token verify (every
// bridge connection and internal call) and WS ticket verify (every executor connection).
// Inputs are built once per benchmark, outside the timed loop.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "inputs.hpp"
#include "cxg/codec/cap_token.hpp"
#include "cxg/codec/relay_frame.hpp"
#include "cxg/codec/ws_ticket.hpp"

namespace cxg::bench {
namespace {

namespace frame = codec::relay;

void payload_sizes(benchmark::internal::Benchmark* b) {
  b->Arg(kSmallPayload)->Arg(kMediumPayload)->Arg(kLargePayload);
}

// Throughput counters: bytes/s over the whole frame, items/s = frames/s.
void count_frames(benchmark::State& state, std::size_t frame_bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame_bytes));
  state.counters["frame_bytes"] = static_cast<double>(frame_bytes);
}

// ------------------------------------------------------------------ relay frames

// What the transport does with the prefix of a message too large to read whole.
void BM_RelayFrame_PeekStreamId(benchmark::State& state) {
  const std::string bytes = data_frame(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto id = frame::peek_stream_id(bytes);
    benchmark::DoNotOptimize(id);
  }
  count_frames(state, bytes.size());
}
BENCHMARK(BM_RelayFrame_PeekStreamId)->Apply(payload_sizes);

// What the hub does with every relay frame: a full decode, then the §3 validity checks.
void BM_RelayFrame_DecodeValidate(benchmark::State& state) {
  const std::string bytes = data_frame(static_cast<std::size_t>(state.range(0)));
  if (!frame::decode(bytes)) state.SkipWithError("input frame does not decode");
  for (auto _ : state) {
    auto f = frame::decode(bytes);
    auto validity = frame::validate(*f);
    benchmark::DoNotOptimize(f);
    benchmark::DoNotOptimize(validity);
  }
  count_frames(state, bytes.size());
}
BENCHMARK(BM_RelayFrame_DecodeValidate)->Apply(payload_sizes);

// Data frames cxg creates (plain bridge text, legacy executor text) as the hub does: a new string.
void BM_RelayFrame_EncodeData(benchmark::State& state) {
  const std::string payload = json_rpc_payload(static_cast<std::size_t>(state.range(0)));
  std::uint32_t seq = 0;
  for (auto _ : state) {
    auto bytes = frame::encode_data(kStreamId, seq++, payload);
    benchmark::DoNotOptimize(bytes);
  }
  count_frames(state, frame::encode_data(kStreamId, seq, payload).size());
}
BENCHMARK(BM_RelayFrame_EncodeData)->Apply(payload_sizes);

// The same into a reused buffer (append_data): the encoding cost without the allocation.
void BM_RelayFrame_AppendDataReusedBuffer(benchmark::State& state) {
  const std::string payload = json_rpc_payload(static_cast<std::size_t>(state.range(0)));
  std::string buffer;
  std::uint32_t seq = 0;
  for (auto _ : state) {
    buffer.clear();
    frame::append_data(buffer, kStreamId, seq++, payload);
    benchmark::DoNotOptimize(buffer.data());
    benchmark::ClobberMemory();
  }
  count_frames(state, buffer.size());
}
BENCHMARK(BM_RelayFrame_AppendDataReusedBuffer)->Apply(payload_sizes);

void BM_RelayFrame_EncodeReset(benchmark::State& state) {
  for (auto _ : state) {
    auto bytes = frame::encode_reset(kStreamId, "bridge_overflow");
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RelayFrame_EncodeReset);

// ------------------------------------------------------------------ capability tokens

constexpr std::string_view kCapKey = "2b7e151628aed2a6abf7158809cf4f3c-cap-token-hmac-key";
constexpr std::int64_t kNow = 1'779'000'000;

codec::CapClaims realistic_claims() {
  codec::CapClaims c;
  c.turn_id = "trn_01JD8Z6Q3K7V2M4N5P6R7S8T9W";
  c.workspace_id = "ws_8c1f0a2e3b4d";
  c.user_id = "user_5e6f7a8b9c0d";
  c.iat = kNow - 30;
  c.exp = kNow + 3600;
  return c;
}

void BM_CapToken_VerifyValid(benchmark::State& state) {
  const std::string token = codec::mint_cap_token(kCapKey, realistic_claims());
  if (!codec::verify_cap_token(kCapKey, token, kNow).ok()) state.SkipWithError("minted token does not verify");
  for (auto _ : state) {
    auto claims = codec::verify_cap_token(kCapKey, token, kNow);
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CapToken_VerifyValid);

// The rejection path: a well-formed token whose signature is wrong (a forged or re-keyed one).
void BM_CapToken_VerifyBadSignature(benchmark::State& state) {
  const std::string token = codec::mint_cap_token("some-other-key", realistic_claims());
  const auto check = codec::verify_cap_token(kCapKey, token, kNow);
  if (check.ok() || check.error().error != codec::CapTokenError::bad_signature)
    state.SkipWithError("token is not rejected as bad_signature");
  for (auto _ : state) {
    auto claims = codec::verify_cap_token(kCapKey, token, kNow);
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CapToken_VerifyBadSignature);

// ------------------------------------------------------------------ WS tickets

constexpr std::string_view kTicketKey = "3c4d5e6f708192a3b4c5d6e7f8091a2b-ws-ticket-key";
constexpr std::string_view kExeId = "exe_0f9e8d7c-6b5a-4932-8170-a1b2c3d4e5f6";

void BM_WsTicket_VerifyValid(benchmark::State& state) {
  const std::string ticket = codec::mint_ws_ticket(kTicketKey, kExeId, kNow + 300);
  if (codec::verify_ws_ticket(kTicketKey, ticket, kExeId, kNow).error != codec::TicketError::none)
    state.SkipWithError("minted ticket does not verify");
  for (auto _ : state) {
    auto check = codec::verify_ws_ticket(kTicketKey, ticket, kExeId, kNow);
    benchmark::DoNotOptimize(check);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WsTicket_VerifyValid);

void BM_WsTicket_VerifyBadSignature(benchmark::State& state) {
  const std::string ticket = codec::mint_ws_ticket("some-other-key", kExeId, kNow + 300);
  if (codec::verify_ws_ticket(kTicketKey, ticket, kExeId, kNow).error != codec::TicketError::bad_signature)
    state.SkipWithError("ticket is not rejected as bad_signature");
  for (auto _ : state) {
    auto check = codec::verify_ws_ticket(kTicketKey, ticket, kExeId, kNow);
    benchmark::DoNotOptimize(check);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WsTicket_VerifyBadSignature);

}  // namespace
}  // namespace cxg::bench
