#include "wire/codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sta::wire {
namespace {

std::vector<std::byte> bytes(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

std::string text(std::span<const std::byte> a, std::span<const std::byte> b = {}) {
  std::string s(reinterpret_cast<const char*>(a.data()), a.size());
  s.append(reinterpret_cast<const char*>(b.data()), b.size());
  return s;
}

// One frame of every kind the engine sends.
std::vector<std::vector<std::byte>> sample_frames() {
  std::vector<std::vector<std::byte>> frames;
  auto add = [&](auto&& encode) {
    std::vector<std::byte> f;
    encode(f);
    frames.push_back(std::move(f));
  };
  add([](auto& f) { encode_keep_alive(f); });
  for (auto t : {msg_type::choke, msg_type::unchoke, msg_type::interested, msg_type::not_interested,
                 msg_type::have_all, msg_type::have_none})
    add([t](auto& f) { encode_simple(f, t); });
  for (auto t : {msg_type::have, msg_type::suggest, msg_type::allowed_fast})
    add([t](auto& f) { encode_piece_index(f, t, 0x01020304); });
  for (auto t : {msg_type::request, msg_type::cancel, msg_type::reject})
    add([t](auto& f) { encode_block_ref(f, t, 7, 16384, 16384); });
  add([](auto& f) { encode_bitfield(f, bytes("\xff\x80")); });
  add([](auto& f) {
    const auto h = encode_piece_header(3, 32768, 5);
    f.insert(f.end(), h.begin(), h.end());
    const auto block = bytes("hello");
    f.insert(f.end(), block.begin(), block.end());
  });
  add([](auto& f) { encode_extended(f, 0, bytes("d1:v3:stae")); });
  return frames;
}

TEST(WireCodec, HandshakeRoundTripsWithReservedBits) {
  handshake h;
  h.info_hash.bytes.fill(0xab);
  h.id.fill('x');
  h.set_fast();
  h.set_extended();
  const auto wire = encode_handshake(h);
  EXPECT_EQ(text(std::span(wire).first(20)), std::string("\x13" "BitTorrent protocol"));
  auto back = decode_handshake(wire);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->fast());
  EXPECT_TRUE(back->extended());
  EXPECT_EQ(back->info_hash, h.info_hash);
  EXPECT_EQ(back->id, h.id);
}

TEST(WireCodec, RejectsForeignHandshake) {
  auto wire = encode_handshake(handshake{});
  wire[1] = std::byte{'b'};
  EXPECT_EQ(decode_handshake(wire).error(), make_error_code(errc::bad_handshake));
  EXPECT_FALSE(decode_handshake(std::span(wire).first(67)));
}

TEST(WireCodec, DecodesEveryMessageAtEverySplitPoint) {
  for (const auto& frame : sample_frames()) {
    auto whole = decode(frame, {});
    ASSERT_TRUE(whole);
    ASSERT_TRUE(whole->msg);
    EXPECT_EQ(whole->used, frame.size());
    for (std::size_t cut = 0; cut <= frame.size(); ++cut) {
      const auto head = std::span(frame).first(cut);
      const auto tail = std::span(frame).subspan(cut);
      auto d = decode(head, tail);
      ASSERT_TRUE(d) << cut;
      ASSERT_TRUE(d->msg) << cut;
      EXPECT_EQ(d->used, frame.size());
      EXPECT_EQ(d->msg->type, whole->msg->type);
      EXPECT_EQ(d->msg->piece, whole->msg->piece);
      EXPECT_EQ(d->msg->offset, whole->msg->offset);
      EXPECT_EQ(d->msg->length, whole->msg->length);
      EXPECT_EQ(text(d->msg->payload, d->msg->payload_tail), text(whole->msg->payload, whole->msg->payload_tail));
    }
  }
}

TEST(WireCodec, ReportsNeedMoreWithTheFrameSize) {
  std::vector<std::byte> f;
  encode_block_ref(f, msg_type::request, 1, 2, 3);
  auto none = decode(std::span(f).first(3), {});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->msg);
  EXPECT_EQ(none->frame_size, 0u);
  auto partial = decode(std::span(f).first(10), {});
  ASSERT_TRUE(partial);
  EXPECT_FALSE(partial->msg);
  EXPECT_EQ(partial->frame_size, 17u);
}

TEST(WireCodec, StreamFedByteByByteYieldsMessagesInOrder) {
  std::vector<std::byte> stream;
  const auto frames = sample_frames();
  for (const auto& f : frames) stream.insert(stream.end(), f.begin(), f.end());
  std::vector<std::byte> buffer;
  std::vector<msg_type> seen;
  for (std::byte b : stream) {
    buffer.push_back(b);
    auto d = decode(buffer, {});
    ASSERT_TRUE(d);
    if (d->msg) {
      seen.push_back(d->msg->type);
      buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(d->used));
    }
  }
  ASSERT_EQ(seen.size(), frames.size());
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(seen.front(), msg_type::keep_alive);
  EXPECT_EQ(seen.back(), msg_type::extended);
}

TEST(WireCodec, RejectsOversizedFrame) {
  const auto f = bytes(std::string("\x00\x20\x00\x01", 4));  // 2 MiB + 1
  auto d = decode(f, {}, limits{.max_frame = 1u << 20});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), make_error_code(errc::message_too_large));
}

TEST(WireCodec, RejectsKnownMessagesWithTheWrongLength) {
  const auto short_have = bytes(std::string("\x00\x00\x00\x04\x04\x00\x00\x01", 8));
  EXPECT_EQ(decode(short_have, {}).error(), make_error_code(errc::bad_message));
  const auto short_piece = bytes(std::string("\x00\x00\x00\x08\x07\x00\x00\x00\x01\x00\x00\x00", 12));
  EXPECT_EQ(decode(short_piece, {}).error(), make_error_code(errc::bad_message));
  const auto long_choke = bytes(std::string("\x00\x00\x00\x02\x00\x00", 6));
  EXPECT_EQ(decode(long_choke, {}).error(), make_error_code(errc::bad_message));
}

TEST(WireCodec, UnknownMessagesDecodeWithTheirBody) {
  const auto f = bytes(std::string("\x00\x00\x00\x03\x63xy", 7));
  auto d = decode(f, {});
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->msg);
  EXPECT_EQ(static_cast<int>(d->msg->type), 0x63);
  EXPECT_EQ(text(d->msg->payload), "xy");
}

TEST(WireCodec, ReencodingADecodedFrameGivesTheSameBytes) {
  for (const auto& frame : sample_frames()) {
    auto d = decode(frame, {});
    ASSERT_TRUE(d && d->msg);
    const message& m = *d->msg;
    std::vector<std::byte> again;
    switch (m.type) {
      case msg_type::keep_alive: encode_keep_alive(again); break;
      case msg_type::have:
      case msg_type::suggest:
      case msg_type::allowed_fast: encode_piece_index(again, m.type, m.piece); break;
      case msg_type::request:
      case msg_type::cancel:
      case msg_type::reject: encode_block_ref(again, m.type, m.piece, m.offset, m.length); break;
      case msg_type::bitfield: encode_bitfield(again, m.payload); break;
      case msg_type::piece: {
        const auto h = encode_piece_header(m.piece, m.offset, m.length);
        again.assign(h.begin(), h.end());
        again.insert(again.end(), m.payload.begin(), m.payload.end());
        break;
      }
      case msg_type::extended: encode_extended(again, m.ext_id, m.payload); break;
      default: encode_simple(again, m.type); break;
    }
    EXPECT_EQ(again, frame) << static_cast<int>(m.type);
  }
}

TEST(WireCodec, ExtendedHandshakeRoundTrips) {
  ext_handshake h;
  h.m = {{"ut_metadata", 3}};
  h.v = "sta/0.1";
  h.reqq = 2048;
  h.p = 6881;
  h.yourip = std::string("\x7f\x00\x00\x01", 4);
  auto back = decode_ext_handshake(encode_ext_handshake(h));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->m.size(), 1u);
  EXPECT_EQ(back->m[0].first, "ut_metadata");
  EXPECT_EQ(back->m[0].second, 3);
  EXPECT_EQ(back->v, "sta/0.1");
  EXPECT_EQ(back->reqq, 2048u);
  EXPECT_EQ(back->p, 6881);
  EXPECT_EQ(back->yourip, h.yourip);
}

TEST(WireCodec, ExtendedHandshakeRejectsNonDictionaryAndIllTypedFields) {
  EXPECT_FALSE(decode_ext_handshake(bytes("li1ee")));
  EXPECT_FALSE(decode_ext_handshake(bytes("d4:reqq3:abce")));
  EXPECT_FALSE(decode_ext_handshake(bytes("d1:pi70000ee")));
  EXPECT_FALSE(decode_ext_handshake(bytes("d1:m")));
}

}  // namespace
}  // namespace sta::wire
