// relay-v1 frames (wire-protocol.md §3, behaviour.md Z4): decode, validate and
// peek_stream_id on arbitrary bytes, and the encode/decode round trip of Data, Resume and
// Reset frames built from fuzzed fields.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "cxg/codec/relay_frame.hpp"
#include "cxg/common/ids.hpp"
#include "fuzz_common.hpp"

namespace frame = cxg::codec::relay;
using cxg::fuzz::points_into;

namespace {

void check_arbitrary_bytes(std::string_view bytes) {
  const auto f = frame::decode(bytes);
  if (f) {
    // Views into the input, never copies (decode() does not allocate).
    FUZZ_CHECK(points_into(bytes, f->stream_id));
    FUZZ_CHECK(points_into(bytes, f->payload));
    FUZZ_CHECK(points_into(bytes, f->reason));
    // Z4: a string that is not UTF-8 makes the frame malformed.
    FUZZ_CHECK(cxg::ids::is_valid_utf8(f->stream_id));
    FUZZ_CHECK(cxg::ids::is_valid_utf8(f->reason));
    // Fields that do not belong to the body are zero / empty.
    if (f->body != frame::Body::data) FUZZ_CHECK(f->seq == 0 && f->segment_index == 0 && f->segment_count == 0);
    if (f->body != frame::Body::data && f->body != frame::Body::handshake) FUZZ_CHECK(f->payload.empty());
    if (f->body != frame::Body::resume) FUZZ_CHECK(f->next_seq == 0);
    if (f->body != frame::Body::reset) FUZZ_CHECK(f->reason.empty());
    FUZZ_CHECK(frame::to_string(f->body) != nullptr);

    const auto validity = frame::validate(*f);
    FUZZ_CHECK(frame::to_string(validity) != nullptr);
    if (validity == frame::Validity::ok) {
      FUZZ_CHECK(f->version == 1);
      FUZZ_CHECK(cxg::ids::is_valid_stream_id(f->stream_id));
      FUZZ_CHECK(f->body != frame::Body::none);
      // Re-encoding what cxg can create gives a frame that decodes to the same fields.
      std::string again;
      if (f->body == frame::Body::data) again = frame::encode_data(f->stream_id, f->seq, f->payload);
      if (f->body == frame::Body::resume) again = frame::encode_resume(f->stream_id, f->next_seq);
      if (f->body == frame::Body::reset) again = frame::encode_reset(f->stream_id, f->reason);
      if (!again.empty()) {
        const auto g = frame::decode(again);
        FUZZ_CHECK(g && frame::validate(*g) == frame::Validity::ok);
        FUZZ_CHECK(g->body == f->body && g->stream_id == f->stream_id && g->version == 1);
        FUZZ_CHECK(g->seq == f->seq && g->payload == f->payload && g->next_seq == f->next_seq && g->reason == f->reason);
        if (g->body == frame::Body::data) FUZZ_CHECK(g->segment_index == 0 && g->segment_count == 1);
        // The canonical encoding is a fixed point, and Codex's layout lets peek find the id.
        FUZZ_CHECK(frame::decode(again).has_value());
        const auto peeked = frame::peek_stream_id(again);
        FUZZ_CHECK(peeked && *peeked == f->stream_id);
      }
    }
  }

  const auto peeked = frame::peek_stream_id(bytes);
  if (peeked) {
    FUZZ_CHECK(!peeked->empty());
    FUZZ_CHECK(points_into(bytes, *peeked));
    FUZZ_CHECK(cxg::ids::is_valid_utf8(*peeked));
    // Only the prefix is seen: whatever follows does not change the answer.
    const std::string longer = std::string(bytes) + "\x2a\xff\xff\xff";
    const auto again = frame::peek_stream_id(longer);
    FUZZ_CHECK(again && *again == *peeked);
  }
}

void check_round_trip(FuzzedDataProvider& in) {
  const std::string sid = in.ConsumeRandomLengthString(160);
  const int kind = in.ConsumeIntegralInRange(0, 2);
  const auto number = in.ConsumeIntegral<std::uint32_t>();
  const std::string text = in.ConsumeRandomLengthString(4096);
  const bool sid_ok = cxg::ids::is_valid_utf8(sid);

  std::string encoded;
  if (kind == 0) encoded = frame::encode_data(sid, number, text);
  if (kind == 1) encoded = frame::encode_resume(sid, number);
  if (kind == 2) encoded = frame::encode_reset(sid, text);
  // append_* add the same bytes to what the buffer already holds.
  std::string appended = "prefix";
  if (kind == 0) frame::append_data(appended, sid, number, text);
  if (kind == 1) frame::append_resume(appended, sid, number);
  if (kind == 2) frame::append_reset(appended, sid, text);
  FUZZ_CHECK(appended == "prefix" + encoded);

  const auto f = frame::decode(encoded);
  // Strings must be UTF-8 (stream_id, reset reason); Data payload bytes are not checked.
  const bool expect_ok = sid_ok && (kind != 2 || cxg::ids::is_valid_utf8(text));
  FUZZ_CHECK(f.has_value() == expect_ok);
  if (!f) return;
  FUZZ_CHECK(f->version == 1 && f->stream_id == sid);
  switch (kind) {
    case 0:
      FUZZ_CHECK(f->body == frame::Body::data && f->seq == number && f->payload == text);
      FUZZ_CHECK(f->segment_index == 0 && f->segment_count == 1);
      break;
    case 1: FUZZ_CHECK(f->body == frame::Body::resume && f->next_seq == number); break;
    case 2: FUZZ_CHECK(f->body == frame::Body::reset && f->reason == text); break;
  }
  const auto validity = frame::validate(*f);
  if (!cxg::ids::is_valid_stream_id(sid)) FUZZ_CHECK(validity == frame::Validity::bad_stream_id);
  else if (kind == 2 && text.empty()) FUZZ_CHECK(validity == frame::Validity::empty_reset_reason);
  else FUZZ_CHECK(validity == frame::Validity::ok);
  if (!sid.empty()) {
    const auto peeked = frame::peek_stream_id(encoded);
    FUZZ_CHECK(peeked && *peeked == sid);
    // A prefix that ends inside the stream_id is too short to tell.
    FUZZ_CHECK(!frame::peek_stream_id(std::string_view(encoded).substr(0, 3 + sid.size() / 2 + (sid.size() > 127))));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cxg::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_arbitrary_bytes(cxg::fuzz::as_view(data, size));
  FuzzedDataProvider in(data, size);
  check_round_trip(in);
  return 0;
}
