#include "cxg/codec/relay_frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace cxg::codec::relay {
namespace {

// "08 01 12" -> the three bytes; spaces are ignored.
std::string hex(std::string_view text) {
  std::string out;
  int high = -1;
  for (char c : text) {
    if (c == ' ') continue;
    const int nibble = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (nibble < 0) ADD_FAILURE() << "bad hex digit " << c;
    if (high < 0) {
      high = nibble;
    } else {
      out.push_back(static_cast<char>(high * 16 + nibble));
      high = -1;
    }
  }
  EXPECT_LT(high, 0) << "odd number of hex digits";
  return out;
}

std::string varint(std::uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
  out.push_back(static_cast<char>(v));
  return out;
}

std::string len_field(std::uint32_t field, std::string_view bytes) {
  return varint(field << 3 | 2) + varint(bytes.size()) + std::string(bytes);
}

std::string varint_field(std::uint32_t field, std::uint64_t v) { return varint(field << 3 | 0) + varint(v); }

// The §3 byte examples.
const std::string kHeaderStreamA = "08 01 12 08 73 74 72 65 61 6d 2d 61";
const std::string kDataSeq2 = hex(kHeaderStreamA + " 2a 08 08 02 18 01 22 02 7b 7d");
const std::string kResume0 = hex(kHeaderStreamA + " 3a 00");
const std::string kResume5 = hex(kHeaderStreamA + " 3a 02 08 05");
const std::string kResetTest = hex(kHeaderStreamA + " 42 0c 0a 0a 74 65 73 74 5f 72 65 73 65 74");
const std::string kHeartbeatS = hex("08 01 12 01 73 4a 00");

std::string payload_of_size(std::size_t n) {
  std::string p = R"({"p":")";
  p.append(n - p.size() - 2, 'x');
  p += R"("})";
  return p;
}

// Views point into the decoded buffer, so the buffer is kept alive for the whole test run
// (callers often pass temporaries).
FrameView must_decode(std::string_view bytes) {
  static std::deque<std::string> kept_buffers;
  const auto frame = decode(kept_buffers.emplace_back(bytes));
  EXPECT_TRUE(frame.has_value());
  return frame.value_or(FrameView{});
}

void expect_same_frame(const FrameView& a, const FrameView& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.stream_id, b.stream_id);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.segment_index, b.segment_index);
  EXPECT_EQ(a.segment_count, b.segment_count);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.next_seq, b.next_seq);
  EXPECT_EQ(a.reason, b.reason);
}

// ---- §3 byte examples, both ways ----

TEST(RelayFrameSpecExamples, EncodeProducesExactBytes) {
  EXPECT_EQ(encode_data("stream-a", 2, "{}"), kDataSeq2);
  EXPECT_EQ(encode_resume("stream-a", 0), kResume0);
  EXPECT_EQ(encode_resume("stream-a", 5), kResume5);
  EXPECT_EQ(encode_reset("stream-a", "test_reset"), kResetTest);
}

TEST(RelayFrameSpecExamples, DecodeData) {
  const FrameView f = must_decode(kDataSeq2);
  EXPECT_EQ(f.version, 1u);
  EXPECT_EQ(f.stream_id, "stream-a");
  EXPECT_EQ(f.body, Body::data);
  EXPECT_EQ(f.seq, 2u);
  EXPECT_EQ(f.segment_index, 0u);
  EXPECT_EQ(f.segment_count, 1u);
  EXPECT_EQ(f.payload, "{}");
  EXPECT_EQ(validate(f), Validity::ok);
}

TEST(RelayFrameSpecExamples, DecodeResume) {
  const FrameView zero = must_decode(kResume0);
  EXPECT_EQ(zero.body, Body::resume);
  EXPECT_EQ(zero.stream_id, "stream-a");
  EXPECT_EQ(zero.next_seq, 0u);
  EXPECT_EQ(validate(zero), Validity::ok);

  const FrameView five = must_decode(kResume5);
  EXPECT_EQ(five.body, Body::resume);
  EXPECT_EQ(five.next_seq, 5u);
  EXPECT_EQ(validate(five), Validity::ok);
}

TEST(RelayFrameSpecExamples, DecodeReset) {
  const FrameView f = must_decode(kResetTest);
  EXPECT_EQ(f.body, Body::reset);
  EXPECT_EQ(f.stream_id, "stream-a");
  EXPECT_EQ(f.reason, "test_reset");
  EXPECT_EQ(validate(f), Validity::ok);
}

TEST(RelayFrameSpecExamples, DecodeHeartbeat) {
  const FrameView f = must_decode(kHeartbeatS);
  EXPECT_EQ(f.version, 1u);
  EXPECT_EQ(f.stream_id, "s");
  EXPECT_EQ(f.body, Body::heartbeat);
  EXPECT_EQ(validate(f), Validity::ok);
}

TEST(RelayFrameSpecExamples, TwoHundredBytePayloadUsesTwoByteLengths) {
  const std::string payload = payload_of_size(200);
  const std::string expected = hex("08 01 12 02 73 31 2a cd 01 18 01 22 c8 01") + payload;
  EXPECT_EQ(encode_data("s1", 0, payload), expected);

  const FrameView f = must_decode(expected);
  EXPECT_EQ(f.stream_id, "s1");
  EXPECT_EQ(f.body, Body::data);
  EXPECT_EQ(f.seq, 0u);
  EXPECT_EQ(f.segment_count, 1u);
  EXPECT_EQ(f.payload, payload);
}

// ---- encoding details ----

TEST(RelayFrameEncode, AppendAddsToExistingBuffer) {
  std::string out = "prefix";
  append_resume(out, "stream-a", 0);
  append_data(out, "stream-a", 2, "{}");
  append_reset(out, "stream-a", "test_reset");
  EXPECT_EQ(out, "prefix" + kResume0 + kDataSeq2 + kResetTest);
}

TEST(RelayFrameEncode, MaxSeqUsesFiveByteVarint) {
  const std::string bytes = encode_data("s", 0xFFFF'FFFFu, "{}");
  EXPECT_EQ(bytes, hex("08 01 12 01 73 2a 0c 08 ff ff ff ff 0f 18 01 22 02 7b 7d"));
  EXPECT_EQ(must_decode(bytes).seq, 0xFFFF'FFFFu);
}

TEST(RelayFrameEncode, ViewsPointIntoTheDecodedBuffer) {
  const std::string bytes = kDataSeq2;
  const auto f = decode(bytes);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->stream_id.data(), bytes.data() + 4);
  EXPECT_EQ(f->payload.data(), bytes.data() + bytes.size() - 2);
}

// ---- decoding rules ----

TEST(RelayFrameDecode, EmptyBufferIsAnEmptyFrame) {
  const FrameView f = must_decode("");
  EXPECT_EQ(f.version, 0u);
  EXPECT_EQ(f.body, Body::none);
  EXPECT_EQ(validate(f), Validity::bad_version);
}

TEST(RelayFrameDecode, FieldsInAnyOrder) {
  const std::string data_body = hex("22 02 7b 7d 18 01 08 02");  // payload, segment_count, seq
  const std::string bytes = len_field(5, data_body) + len_field(2, "stream-a") + varint_field(1, 1);
  expect_same_frame(must_decode(bytes), must_decode(kDataSeq2));
}

TEST(RelayFrameDecode, LastScalarWins) {
  const std::string bytes = varint_field(1, 7) + len_field(2, "first") + hex("3a 00") + varint_field(1, 1) +
                            len_field(2, "second");
  const FrameView f = must_decode(bytes);
  EXPECT_EQ(f.version, 1u);
  EXPECT_EQ(f.stream_id, "second");
  EXPECT_EQ(f.body, Body::resume);
}

TEST(RelayFrameDecode, LaterOneofMemberReplacesTheBody) {
  const FrameView data_then_reset = must_decode(kDataSeq2 + hex("42 03 0a 01 72"));
  EXPECT_EQ(data_then_reset.body, Body::reset);
  EXPECT_EQ(data_then_reset.reason, "r");
  EXPECT_EQ(data_then_reset.seq, 0u);
  EXPECT_EQ(data_then_reset.segment_count, 0u);
  EXPECT_TRUE(data_then_reset.payload.empty());

  const FrameView reset_then_resume = must_decode(kResetTest + hex("3a 02 08 09"));
  EXPECT_EQ(reset_then_resume.body, Body::resume);
  EXPECT_EQ(reset_then_resume.next_seq, 9u);
  EXPECT_TRUE(reset_then_resume.reason.empty());

  const FrameView data_then_handshake = must_decode(kDataSeq2 + hex("52 03 0a 01 68"));
  EXPECT_EQ(data_then_handshake.body, Body::handshake);
  EXPECT_EQ(data_then_handshake.payload, "h");
  EXPECT_EQ(data_then_handshake.seq, 0u);

  const FrameView resume_then_heartbeat = must_decode(kResume5 + hex("4a 00"));
  EXPECT_EQ(resume_then_heartbeat.body, Body::heartbeat);
  EXPECT_EQ(resume_then_heartbeat.next_seq, 0u);

  const FrameView heartbeat_then_ack = must_decode(kHeartbeatS + hex("32 00"));
  EXPECT_EQ(heartbeat_then_ack.body, Body::ack);
}

// Protobuf merges a repeated occurrence of the same message field, so an executor sees the
// union of both; cxg must judge the same frame.
TEST(RelayFrameDecode, SameOneofMemberTwiceMerges) {
  const FrameView data = must_decode(kDataSeq2 + hex("2a 02 08 03"));
  EXPECT_EQ(data.body, Body::data);
  EXPECT_EQ(data.seq, 3u);
  EXPECT_EQ(data.segment_count, 1u);
  EXPECT_EQ(data.payload, "{}");

  const FrameView reset = must_decode(kResetTest + hex("42 00"));
  EXPECT_EQ(reset.reason, "test_reset");
  EXPECT_EQ(validate(reset), Validity::ok);
}

TEST(RelayFrameDecode, ResetWithEmptyBodyHasEmptyReason) {
  const FrameView f = must_decode(hex(kHeaderStreamA + " 42 00"));
  EXPECT_EQ(f.body, Body::reset);
  EXPECT_EQ(validate(f), Validity::empty_reset_reason);
}

// One unknown field of each skippable wire type.
std::vector<std::string> unknown_fields(std::uint32_t field) {
  return {varint_field(field, 300), varint(field << 3 | 1) + std::string(8, '\x01'),
          len_field(field, "trace-ish"), varint(field << 3 | 5) + std::string(4, '\x02')};
}

TEST(RelayFrameDecode, UnknownFieldsAreSkippedByWireType) {
  const FrameView expected = must_decode(kDataSeq2);
  const std::string header = hex(kHeaderStreamA);
  const std::string body = kDataSeq2.substr(header.size());
  for (std::uint32_t field : {11u, 12u, 99u, 536870911u}) {
    for (const std::string& unknown : unknown_fields(field)) {
      SCOPED_TRACE("field " + std::to_string(field) + " wire " + std::to_string(unknown[0] & 7));
      expect_same_frame(must_decode(unknown + kDataSeq2), expected);
      expect_same_frame(must_decode(header + unknown + body), expected);
      expect_same_frame(must_decode(kDataSeq2 + unknown), expected);
    }
  }
}

TEST(RelayFrameDecode, UnknownFieldsInsideBodiesAreSkipped) {
  for (const std::string& unknown : unknown_fields(9)) {
    const FrameView data = must_decode(hex(kHeaderStreamA) + len_field(5, unknown + hex("08 02 18 01 22 02 7b 7d")));
    expect_same_frame(data, must_decode(kDataSeq2));
    const FrameView reset = must_decode(hex(kHeaderStreamA) + len_field(8, hex("0a 01 72") + unknown));
    EXPECT_EQ(reset.reason, "r");
    EXPECT_EQ(must_decode(hex(kHeaderStreamA) + len_field(9, unknown)).body, Body::heartbeat);
    EXPECT_EQ(must_decode(hex(kHeaderStreamA) + len_field(6, unknown)).body, Body::ack);
  }
}

TEST(RelayFrameDecode, TraceContextIsTolerated) {
  const std::string trace = len_field(11, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") +
                            len_field(12, "congo=t61rcWkgMzE");
  expect_same_frame(must_decode(kDataSeq2 + trace), must_decode(kDataSeq2));
}

TEST(RelayFrameDecode, GroupAndUndefinedWireTypesAreMalformed) {
  for (std::uint8_t wire : {3, 4, 6, 7}) {
    SCOPED_TRACE("wire " + std::to_string(wire));
    const std::string unknown = varint(99u << 3 | wire);
    EXPECT_FALSE(decode(kDataSeq2 + unknown));
    EXPECT_FALSE(decode(unknown + kDataSeq2));
    EXPECT_FALSE(decode(hex(kHeaderStreamA) + len_field(5, unknown)));  // inside a body
    EXPECT_FALSE(decode(hex(kHeaderStreamA) + len_field(9, unknown)));  // inside an empty message
  }
}

// Cutting a frame inside a field is malformed. Cutting it between top-level fields leaves a
// shorter but well-formed frame (protobuf has no end marker), which validate() refuses.
TEST(RelayFrameDecode, TruncationInsideAFieldIsMalformed) {
  const std::string frame = kDataSeq2 + len_field(11, "tp") + varint_field(99, 1);
  const std::size_t boundaries[] = {0, 2, 12, kDataSeq2.size(), kDataSeq2.size() + 4};
  for (std::size_t n = 0; n < frame.size(); ++n) {
    SCOPED_TRACE("prefix " + std::to_string(n));
    const auto prefix = decode(std::string_view(frame).substr(0, n));
    const bool at_boundary = std::find(std::begin(boundaries), std::end(boundaries), n) != std::end(boundaries);
    EXPECT_EQ(prefix.has_value(), at_boundary);
    if (prefix && n < kDataSeq2.size()) {
      EXPECT_NE(validate(*prefix), Validity::ok);
    }
  }
  EXPECT_TRUE(decode(frame));
}

TEST(RelayFrameDecode, TruncatedFixedWidthUnknownFieldsAreMalformed) {
  EXPECT_FALSE(decode(kDataSeq2 + varint(99u << 3 | 1) + std::string(7, '\0')));
  EXPECT_FALSE(decode(kDataSeq2 + varint(99u << 3 | 5) + std::string(3, '\0')));
}

TEST(RelayFrameDecode, LengthPastTheEndIsMalformed) {
  EXPECT_FALSE(decode(hex("08 01 12 09 73 74 72 65 61 6d 2d 61")));
  EXPECT_FALSE(decode(hex("08 01 12") + varint(0xFFFF'FFFF'FFFF'FFFFull) + "stream-a"));
  EXPECT_FALSE(decode(hex(kHeaderStreamA + " 2a 09 08 02 18 01 22 02 7b 7d")));
  EXPECT_FALSE(decode(hex(kHeaderStreamA + " 2a 08 08 02 18 01 22 03 7b 7d 00")));  // inner length too long
}

TEST(RelayFrameDecode, TenByteVarintKeepsLow32Bits) {
  const std::string ten_bytes = hex("81 80 80 80 80 80 80 80 80 01");  // 2^63 + 1
  EXPECT_EQ(ten_bytes, varint((1ull << 63) + 1));
  const FrameView f = must_decode(hex("08") + ten_bytes + hex("12 01 73 4a 00"));
  EXPECT_EQ(f.version, 1u);
  EXPECT_EQ(validate(f), Validity::ok);

  const std::string seq = varint(0xFFFF'FFFF'0000'0007ull);
  ASSERT_EQ(seq.size(), 10u);
  EXPECT_EQ(must_decode(hex("08 01 12 01 73") + len_field(5, hex("08") + seq)).seq, 7u);
}

TEST(RelayFrameDecode, ElevenByteVarintIsMalformed) {
  const std::string eleven_bytes = hex("81 80 80 80 80 80 80 80 80 80 00");
  EXPECT_FALSE(decode(hex("08") + eleven_bytes + hex("12 01 73 4a 00")));
  EXPECT_FALSE(decode(kDataSeq2 + varint(99u << 3) + eleven_bytes));  // unknown field
  EXPECT_FALSE(decode(hex("08 01 12 01 73") + len_field(7, hex("08") + eleven_bytes)));  // inside a body
}

TEST(RelayFrameDecode, NonUtf8StringsAreMalformed) {
  const std::string bad = "str\xff-a";
  EXPECT_FALSE(decode(hex("08 01") + len_field(2, bad) + hex("3a 00")));
  EXPECT_FALSE(decode(hex(kHeaderStreamA) + len_field(8, len_field(1, bad))));
  EXPECT_FALSE(decode(kDataSeq2 + len_field(11, bad)));
  EXPECT_FALSE(decode(kDataSeq2 + len_field(12, bad)));
  EXPECT_FALSE(decode(hex("08 01") + len_field(2, "\xed\xa0\x80") + hex("3a 00")));  // a surrogate
  EXPECT_FALSE(decode(hex("08 01") + len_field(2, "\xc0\xaf") + hex("3a 00")));      // overlong
}

TEST(RelayFrameDecode, PayloadsAreBytesNotStrings) {
  const std::string binary = "\xff\x00\xfe";
  EXPECT_EQ(must_decode(encode_data("s", 0, binary)).payload, binary);
  EXPECT_EQ(must_decode(hex("08 01 12 01 73") + len_field(10, len_field(1, binary))).payload, binary);
}

TEST(RelayFrameDecode, KnownFieldWithWrongWireTypeIsMalformed) {
  EXPECT_FALSE(decode(hex("08 01 10 05 3a 00")));                    // stream_id as varint
  EXPECT_FALSE(decode(len_field(1, "x") + hex("12 01 73 3a 00")));   // version as bytes
  EXPECT_FALSE(decode(hex(kHeaderStreamA + " 28 01")));              // data as varint
  EXPECT_FALSE(decode(hex(kHeaderStreamA + " 1d 00 00 00 00")));     // ack as fixed32
  EXPECT_FALSE(decode(hex(kHeaderStreamA + " 3a 02 0d 00")));        // next_seq as fixed32 (and short)
  EXPECT_FALSE(decode(hex(kHeaderStreamA) + len_field(5, len_field(1, "2"))));  // seq as bytes
  EXPECT_FALSE(decode(hex(kHeaderStreamA) + len_field(8, varint_field(1, 1))));  // reason as varint
}

TEST(RelayFrameDecode, InvalidKeysAreMalformed) {
  EXPECT_FALSE(decode(kDataSeq2 + hex("00 00")));                      // field 0
  EXPECT_FALSE(decode(kDataSeq2 + varint((1ull << 32) | 0) + hex("00")));  // key beyond 32 bits
}

// ---- validity ----

FrameView resume_on(std::string_view stream_id) { return must_decode(encode_resume(stream_id, 0)); }

TEST(RelayFrameValidate, Version) {
  EXPECT_EQ(validate(must_decode(hex("12 01 73 3a 00"))), Validity::bad_version);     // absent = 0
  EXPECT_EQ(validate(must_decode(hex("08 02 12 01 73 3a 00"))), Validity::bad_version);
  EXPECT_EQ(validate(must_decode(hex("08 01 12 01 73 3a 00"))), Validity::ok);
}

TEST(RelayFrameValidate, StreamId) {
  EXPECT_EQ(validate(resume_on("")), Validity::bad_stream_id);
  EXPECT_EQ(validate(resume_on(std::string(128, 'a'))), Validity::ok);
  EXPECT_EQ(validate(resume_on(std::string(129, 'a'))), Validity::bad_stream_id);
  EXPECT_EQ(validate(resume_on(" stream-a")), Validity::bad_stream_id);
  EXPECT_EQ(validate(resume_on("stream-a ")), Validity::bad_stream_id);
  EXPECT_EQ(validate(resume_on(" stream-a ")), Validity::bad_stream_id);
  EXPECT_EQ(validate(resume_on("str eam-\xc3\xa9")), Validity::ok);
}

TEST(RelayFrameValidate, BodyRequired) {
  EXPECT_EQ(validate(must_decode(hex(kHeaderStreamA))), Validity::no_body);
  EXPECT_EQ(validate(must_decode(hex(kHeaderStreamA) + varint_field(99, 1))), Validity::no_body);
}

TEST(RelayFrameValidate, ResetNeedsAReason) {
  EXPECT_EQ(validate(must_decode(encode_reset("stream-a", ""))), Validity::empty_reset_reason);
  EXPECT_EQ(validate(must_decode(encode_reset("stream-a", "protocol_error"))), Validity::ok);
}

TEST(RelayFrameValidate, ChecksInOrder) {
  EXPECT_EQ(validate(must_decode(hex("08 02 42 00"))), Validity::bad_version);
  EXPECT_EQ(validate(must_decode(hex("08 01 42 00"))), Validity::bad_stream_id);
}

TEST(RelayFrameValidate, Names) {
  EXPECT_STREQ(to_string(Validity::empty_reset_reason), "empty_reset_reason");
  EXPECT_STREQ(to_string(Body::handshake), "handshake");
}

// ---- peek_stream_id ----

TEST(RelayFramePeek, FindsStreamIdOnceThePrefixHoldsIt) {
  const std::string stream_id = "0f5f2e1c-6a43-4c38-9f0f-6b5e7f6d9a10";
  const std::string frame = encode_data(stream_id, 42, payload_of_size(1 << 20));
  const std::size_t header_size = 2 + 2 + stream_id.size();
  for (std::size_t n = 0; n <= header_size + 8; ++n) {
    SCOPED_TRACE("prefix " + std::to_string(n));
    const auto peeked = peek_stream_id(std::string_view(frame).substr(0, n));
    if (n < header_size) {
      EXPECT_FALSE(peeked);
    } else {
      ASSERT_TRUE(peeked);
      EXPECT_EQ(*peeked, stream_id);
    }
  }
  EXPECT_EQ(peek_stream_id(frame), stream_id);
}

TEST(RelayFramePeek, OtherLayouts) {
  EXPECT_EQ(peek_stream_id(hex("12 01 73 2a")), "s");             // version omitted
  EXPECT_EQ(peek_stream_id(hex("08 01 08 01 12 01 73")), "s");    // version repeated
  EXPECT_FALSE(peek_stream_id(hex("2a 00 12 01 73")));             // body before stream_id
  EXPECT_FALSE(peek_stream_id(hex("08 01 2a 00 12 01 73")));
  EXPECT_FALSE(peek_stream_id(hex("08 01 12 00 2a 00")));          // empty stream_id
  EXPECT_FALSE(peek_stream_id(hex("08 01 12 02 73 ff")));          // not UTF-8
  EXPECT_FALSE(peek_stream_id(hex("08 01 10 01")));                // wrong wire type
  EXPECT_FALSE(peek_stream_id(""));
}

// ---- fuzz ----

// Decoded frames must re-encode (through the encoder for their body) to the same values.
void expect_round_trip(const FrameView& f) {
  std::string bytes;
  switch (f.body) {
    case Body::data: bytes = encode_data(f.stream_id, f.seq, f.payload); break;
    case Body::resume: bytes = encode_resume(f.stream_id, f.next_seq); break;
    case Body::reset: bytes = encode_reset(f.stream_id, f.reason); break;
    default: return;
  }
  const auto again = decode(bytes);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->version, 1u);
  EXPECT_EQ(again->stream_id, f.stream_id);
  EXPECT_EQ(again->body, f.body);
  EXPECT_EQ(again->seq, f.seq);
  EXPECT_EQ(again->payload, f.payload);
  EXPECT_EQ(again->next_seq, f.next_seq);
  EXPECT_EQ(again->reason, f.reason);
  if (f.body == Body::data) {
    EXPECT_EQ(again->segment_count, 1u);
  }
}

// Every view must lie inside the decoded buffer (the decoder never points elsewhere).
void expect_views_inside(const FrameView& f, std::string_view buffer) {
  for (std::string_view v : {f.stream_id, f.payload, f.reason}) {
    if (v.empty()) continue;
    EXPECT_GE(v.data(), buffer.data());
    EXPECT_LE(v.data() + v.size(), buffer.data() + buffer.size());
  }
}

std::string mutate(std::string bytes, std::mt19937& rng) {
  auto pick = [&rng](std::size_t bound) { return std::uniform_int_distribution<std::size_t>(0, bound)(rng); };
  const std::size_t edits = 1 + pick(3);
  for (std::size_t e = 0; e < edits; ++e) {
    const auto random_byte = static_cast<char>(pick(255));
    switch (pick(5)) {
      case 0: if (!bytes.empty()) bytes[pick(bytes.size() - 1)] ^= static_cast<char>(1 << pick(7)); break;
      case 1: if (!bytes.empty()) bytes[pick(bytes.size() - 1)] = random_byte; break;
      case 2: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pick(bytes.size())), random_byte); break;
      case 3: if (!bytes.empty()) bytes.erase(pick(bytes.size() - 1), 1); break;
      case 4: bytes.resize(pick(bytes.size())); break;
      default: bytes.append(varint(pick(200) << 3 | pick(7))); break;  // a random key
    }
  }
  return bytes;
}

TEST(RelayFrameFuzz, NeverCrashesAndRoundTrips) {
  std::mt19937 rng(20240601);
  const std::vector<std::string> seeds = {
      kDataSeq2, kResume0, kResume5, kResetTest, kHeartbeatS,
      encode_data("s1", 0, payload_of_size(200)),
      kDataSeq2 + len_field(11, "tp") + varint_field(99, 5),
      hex(kHeaderStreamA) + len_field(10, len_field(1, "noise")),
  };
  std::size_t decoded = 0, round_tripped = 0;
  for (int i = 0; i < 200'000; ++i) {
    std::string bytes;
    if (i % 10 == 0) {  // pure noise
      bytes.resize(std::uniform_int_distribution<std::size_t>(0, 64)(rng));
      for (char& c : bytes) c = static_cast<char>(rng());
    } else {
      bytes = mutate(seeds[static_cast<std::size_t>(i) % seeds.size()], rng);
    }
    (void)peek_stream_id(bytes);
    const auto frame = decode(bytes);
    if (!frame) continue;
    ++decoded;
    (void)validate(*frame);
    expect_views_inside(*frame, bytes);
    expect_round_trip(*frame);
    if (frame->body == Body::data || frame->body == Body::resume || frame->body == Body::reset) ++round_tripped;
    if (HasFailure()) FAIL() << "iteration " << i;
  }
  // Mutations must exercise both outcomes, or the loop tests nothing.
  EXPECT_GT(decoded, 10'000u);
  EXPECT_GT(round_tripped, 5'000u);
  EXPECT_LT(decoded, 190'000u);
}

}  // namespace
}  // namespace cxg::codec::relay
