#include "cxg/codec/relay_frame.hpp"

#include <cassert>
#include <cstddef>

#include "cxg/common/ids.hpp"

namespace cxg::codec::relay {

namespace {

enum WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// Field numbers of RelayMessageFrame.
enum FrameField : std::uint32_t {
  kVersion = 1, kStreamId = 2, kAck = 3, kAckBits = 4,
  kData = 5, kAckFrame = 6, kResume = 7, kReset = 8, kHeartbeat = 9, kHandshake = 10,
  kTraceparent = 11, kTracestate = 12,
};
// Field numbers inside the body messages.
enum DataField : std::uint32_t { kSeq = 1, kSegmentIndex = 2, kSegmentCount = 3, kDataPayload = 4 };
constexpr std::uint32_t kNextSeq = 1, kReason = 1, kHandshakePayload = 1;

constexpr int kMaxVarintBytes = 10;

struct Tag {
  std::uint32_t field = 0;
  std::uint8_t wire = 0;
};

// A cursor over one message. Every read either succeeds inside the message or returns false
// (malformed); nothing ever reads past the end.
class Reader {
 public:
  explicit Reader(std::string_view message) : pos_(message.data()), end_(message.data() + message.size()) {}

  bool done() const { return pos_ == end_; }

  bool read_varint(std::uint64_t& out) {
    // One-byte varints (every tag here, small lengths and values) skip the general loop:
    // a frame has about ten of them, which made this loop the decoder's main cost.
    if (pos_ != end_ && (static_cast<unsigned char>(*pos_) & 0x80) == 0) {
      out = static_cast<unsigned char>(*pos_++);
      return true;
    }
    std::uint64_t value = 0;
    for (int i = 0; i < kMaxVarintBytes; ++i) {
      if (pos_ == end_) return false;
      const auto byte = static_cast<unsigned char>(*pos_++);
      value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);  // bits past 64 fall off
      if ((byte & 0x80) == 0) {
        out = value;
        return true;
      }
    }
    return false;  // still continuing after 10 bytes
  }

  // Protobuf keys are 32-bit and field 0 does not exist; either is a corrupt buffer.
  bool read_tag(Tag& out) {
    std::uint64_t key = 0;
    if (!read_varint(key) || key > 0xFFFF'FFFFu || (key >> 3) == 0) return false;
    out = Tag{static_cast<std::uint32_t>(key >> 3), static_cast<std::uint8_t>(key & 7)};
    return true;
  }

  bool read_length_delimited(std::string_view& out) {
    std::uint64_t length = 0;
    if (!read_varint(length) || length > remaining()) return false;
    out = std::string_view(pos_, static_cast<std::size_t>(length));
    pos_ += length;
    return true;
  }

  // Skips an unknown field. Groups (3, 4) and the undefined wire types 6, 7 are malformed.
  bool skip(std::uint8_t wire) {
    std::uint64_t ignored_varint = 0;
    std::string_view ignored_bytes;
    switch (wire) {
      case kVarint: return read_varint(ignored_varint);
      case kFixed64: return advance(8);
      case kLen: return read_length_delimited(ignored_bytes);
      case kFixed32: return advance(4);
      default: return false;
    }
  }

 private:
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - pos_); }
  bool advance(std::size_t n) {
    if (n > remaining()) return false;
    pos_ += n;
    return true;
  }

  const char* pos_;
  const char* end_;
};

// Reads every field of `message`, handing each tag to on_field(reader, tag), which must consume
// the field's value and return false if it is malformed.
template <typename OnField>
bool read_fields(std::string_view message, OnField on_field) {
  Reader reader(message);
  while (!reader.done()) {
    Tag tag;
    if (!reader.read_tag(tag) || !on_field(reader, tag)) return false;
  }
  return true;
}

// Known fields with the wrong wire type are malformed (rather than skipped) so that cxg never
// forwards a frame whose known fields an executor would fail to parse.
bool read_uint32(Reader& r, std::uint8_t wire, std::uint32_t& out) {
  std::uint64_t value = 0;
  if (wire != kVarint || !r.read_varint(value)) return false;
  out = static_cast<std::uint32_t>(value);  // proto3 uint32: the low 32 bits
  return true;
}

bool read_bytes(Reader& r, std::uint8_t wire, std::string_view& out) {
  return wire == kLen && r.read_length_delimited(out);
}

bool read_string(Reader& r, std::uint8_t wire, std::string_view& out) {
  return read_bytes(r, wire, out) && ids::is_valid_utf8(out);
}

bool skip_field(Reader& r, Tag tag) { return r.skip(tag.wire); }

bool decode_data(std::string_view message, FrameView& f) {
  return read_fields(message, [&f](Reader& r, Tag tag) {
    switch (tag.field) {
      case kSeq: return read_uint32(r, tag.wire, f.seq);
      case kSegmentIndex: return read_uint32(r, tag.wire, f.segment_index);
      case kSegmentCount: return read_uint32(r, tag.wire, f.segment_count);
      case kDataPayload: return read_bytes(r, tag.wire, f.payload);
      default: return skip_field(r, tag);
    }
  });
}

bool decode_resume(std::string_view message, FrameView& f) {
  return read_fields(message, [&f](Reader& r, Tag tag) {
    return tag.field == kNextSeq ? read_uint32(r, tag.wire, f.next_seq) : skip_field(r, tag);
  });
}

bool decode_reset(std::string_view message, FrameView& f) {
  return read_fields(message, [&f](Reader& r, Tag tag) {
    return tag.field == kReason ? read_string(r, tag.wire, f.reason) : skip_field(r, tag);
  });
}

bool decode_handshake(std::string_view message, FrameView& f) {
  return read_fields(message, [&f](Reader& r, Tag tag) {
    return tag.field == kHandshakePayload ? read_bytes(r, tag.wire, f.payload) : skip_field(r, tag);
  });
}

// RelayAck and RelayHeartbeat have no fields, but their bytes must still be well formed.
bool decode_empty_message(std::string_view message) { return read_fields(message, skip_field); }

std::optional<Body> body_of_field(std::uint32_t field) {
  switch (field) {
    case kData: return Body::data;
    case kAckFrame: return Body::ack;
    case kResume: return Body::resume;
    case kReset: return Body::reset;
    case kHeartbeat: return Body::heartbeat;
    case kHandshake: return Body::handshake;
    default: return std::nullopt;
  }
}

// A different oneof member replaces the body entirely; the same member again merges into it.
void switch_body(FrameView& f, Body body) {
  if (f.body == body) return;
  f.body = body;
  f.seq = f.segment_index = f.segment_count = f.next_seq = 0;
  f.payload = f.reason = {};
}

bool decode_body(Body body, std::string_view message, FrameView& f) {
  switch_body(f, body);
  switch (body) {
    case Body::data: return decode_data(message, f);
    case Body::resume: return decode_resume(message, f);
    case Body::reset: return decode_reset(message, f);
    case Body::handshake: return decode_handshake(message, f);
    default: return decode_empty_message(message);
  }
}

// Trace context (11, 12) is not read by cxg and unknown to 0.131-0.138 executors, so any wire
// type is skipped; as a `string` in later releases it must still be UTF-8.
bool check_trace_context(Reader& r, Tag tag) {
  std::string_view ignored;
  return tag.wire == kLen ? read_string(r, tag.wire, ignored) : skip_field(r, tag);
}

bool decode_frame_field(Reader& r, Tag tag, FrameView& f) {
  std::uint32_t ignored = 0;
  switch (tag.field) {
    case kVersion: return read_uint32(r, tag.wire, f.version);
    case kStreamId: return read_string(r, tag.wire, f.stream_id);
    case kAck:
    case kAckBits: return read_uint32(r, tag.wire, ignored);  // reserved, never read
    case kTraceparent:
    case kTracestate: return check_trace_context(r, tag);
    default: break;
  }
  if (const auto body = body_of_field(tag.field)) {
    std::string_view message;
    return read_bytes(r, tag.wire, message) && decode_body(*body, message, f);
  }
  return skip_field(r, tag);
}

// ---- encoding ----

constexpr char tag_byte(std::uint32_t field, WireType wire) {  // fields here are all < 16
  return static_cast<char>((field << 3) | wire);
}

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

void put_varint(std::string& out, std::uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
  out.push_back(static_cast<char>(v));
}

// Zero scalars and empty strings are omitted (§3 encoding).
std::size_t uint32_field_size(std::uint32_t v) { return v == 0 ? 0 : 1 + varint_size(v); }
std::size_t bytes_field_size(std::string_view s) { return s.empty() ? 0 : 1 + varint_size(s.size()) + s.size(); }

void put_uint32_field(std::string& out, std::uint32_t field, std::uint32_t v) {
  if (v == 0) return;
  out.push_back(tag_byte(field, kVarint));
  put_varint(out, v);
}

void put_bytes_field(std::string& out, std::uint32_t field, std::string_view s) {
  if (s.empty()) return;
  out.push_back(tag_byte(field, kLen));
  put_varint(out, s.size());
  out.append(s);
}

// Writes version 1, the stream_id and the body member `body_field`, which is written even when
// empty; write_body(out) must append exactly body_size bytes.
template <typename WriteBody>
void append_frame(std::string& out, std::string_view stream_id, std::uint32_t body_field, std::size_t body_size,
                  WriteBody write_body) {
  const std::size_t frame_size = uint32_field_size(1) + bytes_field_size(stream_id) + 1 + varint_size(body_size) +
                                 body_size;
  out.reserve(out.size() + frame_size);
  put_uint32_field(out, kVersion, 1);
  put_bytes_field(out, kStreamId, stream_id);
  out.push_back(tag_byte(body_field, kLen));
  put_varint(out, body_size);
  [[maybe_unused]] const std::size_t body_start = out.size();
  write_body(out);
  assert(out.size() - body_start == body_size);
}

}  // namespace

const char* to_string(Body b) {
  switch (b) {
    case Body::none: return "none";
    case Body::data: return "data";
    case Body::ack: return "ack";
    case Body::resume: return "resume";
    case Body::reset: return "reset";
    case Body::heartbeat: return "heartbeat";
    case Body::handshake: return "handshake";
  }
  return "unknown";
}

const char* to_string(Validity v) {
  switch (v) {
    case Validity::ok: return "ok";
    case Validity::bad_version: return "bad_version";
    case Validity::bad_stream_id: return "bad_stream_id";
    case Validity::no_body: return "no_body";
    case Validity::empty_reset_reason: return "empty_reset_reason";
  }
  return "unknown";
}

std::optional<FrameView> decode(std::string_view bytes) {
  FrameView frame;
  const bool well_formed =
      read_fields(bytes, [&frame](Reader& r, Tag tag) { return decode_frame_field(r, tag, frame); });
  if (!well_formed) return std::nullopt;
  return frame;
}

Validity validate(const FrameView& frame) {
  if (frame.version != 1) return Validity::bad_version;
  if (!ids::is_valid_stream_id(frame.stream_id)) return Validity::bad_stream_id;
  if (frame.body == Body::none) return Validity::no_body;
  if (frame.body == Body::reset && frame.reason.empty()) return Validity::empty_reset_reason;
  return Validity::ok;
}

std::optional<std::string_view> peek_stream_id(std::string_view prefix) {
  Reader r(prefix);
  Tag tag;
  while (r.read_tag(tag)) {
    if (tag.field == kVersion) {
      std::uint32_t ignored = 0;
      if (!read_uint32(r, tag.wire, ignored)) return std::nullopt;
      continue;
    }
    std::string_view stream_id;
    if (tag.field != kStreamId || !read_string(r, tag.wire, stream_id) || stream_id.empty()) return std::nullopt;
    return stream_id;
  }
  return std::nullopt;
}

void append_data(std::string& out, std::string_view stream_id, std::uint32_t seq, std::string_view payload) {
  constexpr std::uint32_t kSegmentCountOne = 1;  // always written: no release segments
  const std::size_t body_size =
      uint32_field_size(seq) + uint32_field_size(kSegmentCountOne) + bytes_field_size(payload);
  append_frame(out, stream_id, kData, body_size, [&](std::string& o) {
    put_uint32_field(o, kSeq, seq);
    put_uint32_field(o, kSegmentCount, kSegmentCountOne);
    put_bytes_field(o, kDataPayload, payload);
  });
}

void append_resume(std::string& out, std::string_view stream_id, std::uint32_t next_seq) {
  append_frame(out, stream_id, kResume, uint32_field_size(next_seq),
               [&](std::string& o) { put_uint32_field(o, kNextSeq, next_seq); });
}

void append_reset(std::string& out, std::string_view stream_id, std::string_view reason) {
  append_frame(out, stream_id, kReset, bytes_field_size(reason),
               [&](std::string& o) { put_bytes_field(o, kReason, reason); });
}

std::string encode_data(std::string_view stream_id, std::uint32_t seq, std::string_view payload) {
  std::string out;
  append_data(out, stream_id, seq, payload);
  return out;
}

std::string encode_resume(std::string_view stream_id, std::uint32_t next_seq) {
  std::string out;
  append_resume(out, stream_id, next_seq);
  return out;
}

std::string encode_reset(std::string_view stream_id, std::string_view reason) {
  std::string out;
  append_reset(out, stream_id, reason);
  return out;
}

}  // namespace cxg::codec::relay
