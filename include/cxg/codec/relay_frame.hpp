#pragma once
// Relay v1 frames: `codex.exec_server.relay.v1.RelayMessageFrame` (wire-protocol.md §3).
//
// A hand-written protobuf wire-format reader and writer rather than libprotobuf because:
//  - cxg forwards frames byte for byte (X2) and never re-encodes them, so it needs only a
//    zero-copy view of a few fields, not an owning message object with its allocations;
//  - the spec fixes exactly what is *malformed* (close 1002 `malformed frame`) versus
//    *invalid* (a well-formed frame cxg refuses), and a generic parser draws that line in
//    other places (it skips known fields with the wrong wire type, accepts groups, ...);
//  - frames cxg creates itself must be the canonical bytes of §3, which are easiest to
//    guarantee, and test, when the writer is a few lines of explicit code.
// Everything here is pure: no I/O, no clocks, and decode() does not allocate, so it can be fed
// any bytes (fuzzing, Z2/Z3).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cxg::codec::relay {

// The oneof `body`; `none` when the frame carries no body member.
enum class Body : std::uint8_t { none, data, ack, resume, reset, heartbeat, handshake };
const char* to_string(Body b);

// A decoded frame. The string_views point into the buffer given to decode(), which must
// outlive the view. Fields that do not belong to `body` are 0 / empty.
struct FrameView {
  std::uint32_t version = 0;
  std::string_view stream_id;
  Body body = Body::none;
  std::uint32_t seq = 0;  // data
  std::uint32_t segment_index = 0, segment_count = 0;  // data
  std::string_view payload;  // data or handshake payload (bytes, not checked for UTF-8)
  std::uint32_t next_seq = 0;  // resume
  std::string_view reason;  // reset
};

// Why a well-formed frame is refused (§3 "invalid"), checked in this order. An empty
// stream_id is reported as bad_stream_id; callers that need to tell it apart (§7.1
// `Resume missing stream_id`) test stream_id.empty().
enum class Validity { ok, bad_version, bad_stream_id, no_body, empty_reset_reason };
const char* to_string(Validity v);

// nullopt = malformed: wire type 3, 4, 6 or 7; truncation; a varint longer than 10 bytes; a
// length past the end of its message; field number 0 or a tag above 32 bits; a known field
// (1-10 and the fields of the body messages) with the wrong wire type; a `string` that is
// not UTF-8 (stream_id, reset reason, traceparent 11, tracestate 12).
// Rules: proto3 defaults, any field order, the last scalar wins, unknown fields are skipped,
// uint32 keeps the low 32 bits. A oneof member replaces a different earlier member entirely;
// the same member seen twice is merged field by field, as protobuf parsers (and so the
// executor) do. Fields 11/12 are unknown to 0.131-0.138 executors: any wire type is skipped,
// but a length-delimited one must hold UTF-8.
std::optional<FrameView> decode(std::string_view bytes);

// version == 1, ids::is_valid_stream_id, a body present, a Reset with a non-empty reason.
Validity validate(const FrameView& frame);

// For messages too large to read whole (§9, L4): the stream_id if `prefix` (the leading bytes
// of a message) holds field 2 completely, preceded only by field-1 varints, which is how
// Codex writes frames. nullopt if the prefix is too short, is laid out differently, or the
// stream_id is empty or not UTF-8. Only the prefix is seen, so a later stream_id field that
// would override this one in the whole message cannot be known.
std::optional<std::string_view> peek_stream_id(std::string_view prefix);

// Canonical §3 encodings of the frames cxg creates. append_* add to `out` (to reuse buffers
// on hot paths); encode_* return a new string. Inputs are not validated: the caller passes a
// valid stream_id, a non-empty JSON payload and a non-empty UTF-8 reason.
void append_data(std::string& out, std::string_view stream_id, std::uint32_t seq, std::string_view payload);
void append_resume(std::string& out, std::string_view stream_id, std::uint32_t next_seq);
void append_reset(std::string& out, std::string_view stream_id, std::string_view reason);
std::string encode_data(std::string_view stream_id, std::uint32_t seq, std::string_view payload);
std::string encode_resume(std::string_view stream_id, std::uint32_t next_seq);
std::string encode_reset(std::string_view stream_id, std::string_view reason);

}  // namespace cxg::codec::relay
