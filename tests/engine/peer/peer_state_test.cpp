#include "peer/peer_state.hpp"

#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>

#include "support/peer_script.hpp"
#include "wire/ut_metadata.hpp"
#include "wire/ut_pex.hpp"

namespace sta::peer {
namespace {

using namespace std::chrono_literals;
using test::peer_script;

error_code error_of(const result<void>& r) { return r ? error_code{} : r.error(); }

std::set<std::string> requests_in(const std::string& out) {
  std::set<std::string> s;
  for (auto part : test::split(out, ';'))
    if (part.starts_with("request")) s.insert(std::string(part));
  return s;
}

// --- handshake ---------------------------------------------------------

TEST(PeerState, FastExtendedPeerGetsOurExtendedHandshakeAndHaveNone) {
  peer_script s("....");
  s.start();
  EXPECT_EQ(s.out(), "ext_handshake; have_none");
}

TEST(PeerState, SendsWhatWeHaveAsBitfieldOrHaveAll) {
  peer_script some("*.*.");
  some.start();
  EXPECT_EQ(some.out(), "ext_handshake; bitfield 10100000");
  peer_script all("****");
  all.start(true, false);
  EXPECT_EQ(all.out(), "have_all");
  peer_script plain("****");
  plain.start(false, false);
  EXPECT_EQ(plain.out(), "bitfield 11110000");
  peer_script none("....");
  none.start(false, false);
  EXPECT_EQ(none.out(), "");  // BEP 3: a bitfield may be left out
}

TEST(PeerState, ExtendedHandshakeAdvertisesOurExtensionsReqqAndTheirAddress) {
  peer_script s("....");
  s.start();
  std::vector<std::byte> bytes;
  s.state->take_frames(bytes);
  auto d = wire::decode(bytes, {});
  ASSERT_TRUE(d && d->msg);
  ASSERT_EQ(d->msg->type, wire::msg_type::extended);
  auto h = wire::decode_ext_handshake(d->msg->payload);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->reqq, s.lim.max_queued_requests);
  EXPECT_EQ(h->p, 6881);
  EXPECT_EQ(h->yourip, std::string("\x7f\x00\x00\x09", 4));
  ASSERT_EQ(h->m.size(), 1u);
  EXPECT_EQ(h->m[0].first, "lt_donthave");
  EXPECT_EQ(h->m[0].second, extension_table::our_id(extension::donthave));
}

TEST(PeerState, AvailabilityMessagesOutOfOrderOrMalformedAreRefused) {
  peer_script twice("....");
  twice.start();
  ASSERT_TRUE(twice.in("bitfield 1000"));
  EXPECT_EQ(error_of(twice.in("bitfield 1000")), errc::protocol_violation);

  peer_script have_all_without_fast("....");
  have_all_without_fast.start(false, false);
  EXPECT_EQ(error_of(have_all_without_fast.in("have_all")), errc::protocol_violation);

  peer_script wrong_size("....");
  wrong_size.start();
  EXPECT_EQ(error_of(wrong_size.in("bitfield 1000000000000000")), errc::bad_message);

  peer_script spare_bit("....");
  spare_bit.start();
  EXPECT_EQ(error_of(spare_bit.in("bitfield 00001000")), errc::bad_message);

  peer_script beyond("....");
  beyond.start();
  EXPECT_EQ(error_of(beyond.in("have 4")), errc::protocol_violation);
}

// --- interest and requests -----------------------------------------------

TEST(PeerState, InterestedOnlyInPiecesWeWant) {
  peer_script s("*-..");
  s.start();
  s.out();
  ASSERT_TRUE(s.in("bitfield 1100"));  // ours and an unwanted one
  EXPECT_EQ(s.out(), "");
  EXPECT_FALSE(s.state->am_interested());
  ASSERT_TRUE(s.in("have 3"));
  EXPECT_EQ(s.out(), "interested");
}

TEST(PeerState, UnchokeBringsRequestsUpToThePipelineTarget) {
  peer::limits lim;
  lim.min_pipeline = 4;
  peer_script s("........", 4 * kBlockSize, lim);
  s.picker.set_sequential(true);
  s.start();
  s.out();
  ASSERT_TRUE(s.in("have_all"));
  EXPECT_EQ(s.out(), "interested");
  ASSERT_TRUE(s.in("unchoke"));
  EXPECT_EQ(s.out(), "request 0:0; request 0:1; request 0:2; request 0:3");
  // One block back before any rate is known: the pipeline grows by one
  // (slow start) and what drained is refilled.
  ASSERT_TRUE(s.in("piece 0 0"));
  EXPECT_EQ(s.blocks.size(), 1u);
  EXPECT_EQ(s.out(), "request 1:0; request 1:1");
  EXPECT_EQ(s.state->requests_in_flight(), 5u);
}

TEST(PeerState, ThePeersReqqCapsOurRequests) {
  peer::limits lim;
  lim.min_pipeline = 8;
  peer_script s("........", 4 * kBlockSize, lim);
  s.start();
  ASSERT_TRUE(s.in("ext_handshake reqq=3; have_all; unchoke"));
  EXPECT_EQ(s.state->requests_in_flight(), 3u);
  EXPECT_EQ(s.state->peer_reqq(), 3u);
}

TEST(PeerState, TheClientsNameFromTheExtendedHandshakeIsKeptPrintableAndShort) {
  peer_script s("....");
  s.start();
  EXPECT_FALSE(s.slot.has_client.load());
  ASSERT_TRUE(s.in("ext_handshake v=Deluge/2.1.1"));
  ASSERT_TRUE(s.slot.has_client.load());
  EXPECT_STREQ(s.slot.client.data(), "Deluge/2.1.1");
  // Control bytes shown as '?', a long name cut; the first name stays.
  peer_script odd("....");
  odd.start();
  ASSERT_TRUE(odd.in("ext 0 64313a76353a41421b0a43" "65"));  // d1:v5:AB\x1b\nCe
  EXPECT_STREQ(odd.slot.client.data(), "AB??C");
  peer_script long_name("....");
  long_name.start();
  ASSERT_TRUE(long_name.in("ext_handshake v=" + std::string(300, 'x')));
  EXPECT_EQ(std::string(long_name.slot.client.data()), std::string(47, 'x'));
  ASSERT_TRUE(long_name.in("ext_handshake v=Other"));
  EXPECT_EQ(std::string(long_name.slot.client.data()), std::string(47, 'x'));
}

TEST(PeerState, NumbersFromTheExtendedHandshakeAreClamped) {
  peer_script huge("....");
  huge.start();
  ASSERT_TRUE(huge.in("ext_handshake reqq=4000000000"));
  EXPECT_EQ(huge.state->peer_reqq(), huge.lim.max_pipeline);
  peer_script zero("....");
  zero.start();
  ASSERT_TRUE(zero.in("ext_handshake reqq=0"));
  EXPECT_EQ(zero.state->peer_reqq(), 250u);  // ignored: BEP 10's default stays
  peer_script malformed("....");
  malformed.start();
  EXPECT_TRUE(malformed.in("ext 0 6c6c"));  // not a dictionary: extensions off, connection on
}

// Answers every request the state has sent since the last out(); how many.
std::size_t answer_requests(peer_script& s) {
  std::string script;
  std::size_t count = 0;
  for (const auto& r : requests_in(s.out())) {
    const auto pb = test::split(std::string_view(r).substr(8), ':');
    script += "piece " + std::string(pb[0]) + " " + std::to_string(test::number(pb[1]) * kBlockSize) + ";";
    ++count;
  }
  if (count > 0) {
    EXPECT_TRUE(s.in(script));
  }
  return count;
}

// 64 pieces of 16 blocks in order, a seed that unchokes us, and a pipeline
// that starts at 2 requests.
std::unique_ptr<peer_script> unchoked_by_a_seed() {
  peer::limits lim;
  lim.min_pipeline = 2;
  auto s = std::make_unique<peer_script>(std::string(64, '.'), 16 * kBlockSize, lim);
  s->picker.set_sequential(true);
  s->start();
  EXPECT_TRUE(s->in("have_all; unchoke"));
  EXPECT_EQ(s->state->requests_in_flight(), 2u);
  return s;
}

TEST(PeerState, BeforeTheRateIsKnownThePipelineDoublesEveryRoundTrip) {
  auto s = unchoked_by_a_seed();
  for (const std::size_t expected : {4u, 8u, 16u, 32u}) {
    ASSERT_GT(answer_requests(*s), 0u);
    EXPECT_EQ(s->state->requests_in_flight(), expected);
  }
  // A tick measures the rate, 30 blocks in the second (averaged with
  // nothing: 15 a second), and 3 s of that is 45 requests. From then on the
  // rate sets the pipeline: 45 blocks more do not grow it to 2 + 75.
  ASSERT_TRUE(s->wait(1s));
  EXPECT_EQ(s->state->requests_in_flight(), 45u);
  EXPECT_EQ(answer_requests(*s), 45u);
  EXPECT_EQ(s->state->requests_in_flight(), 45u);
}

// A seed that unchokes us and has sent 16 blocks (a piece's worth) in no
// time at all, before any tick: the pieces it starts now are its own. Its
// requests in flight are returned.
std::vector<picker::block_ref> claiming_seed(peer_script& s) {
  while (s.blocks.size() < 16)
    if (answer_requests(s) == 0) break;
  std::vector<picker::block_ref> requested;
  for (const auto& r : requests_in(s.out())) {
    const auto pb = test::split(std::string_view(r).substr(8), ':');
    requested.push_back({test::number(pb[0]), test::number(pb[1])});
  }
  return requested;
}

std::set<std::pair<std::uint32_t, std::uint32_t>> blocks_of(const std::vector<picker::block_ref>& v) {
  std::set<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const auto& b : v) out.emplace(b.piece, b.block);
  return out;
}

TEST(PeerState, APeerThatSendsAPieceBeforeItsRateIsKnownClaimsWholePieces) {
  auto s = unchoked_by_a_seed();
  // Its first pieces are shared: another peer gets the rest of piece 0.
  std::vector<picker::block_ref> other;
  ASSERT_EQ(s->picker.pick(nullptr, 2, false, 1, {}, other), 1u);
  EXPECT_EQ(other.back().piece, 0u);
  // Once it has sent a piece's worth, the other peer starts a piece after
  // those it has requests in.
  const auto requested = claiming_seed(*s);
  ASSERT_FALSE(requested.empty());
  ASSERT_EQ(s->picker.pick(nullptr, 2, false, 1, {}, other), 1u);
  for (const auto& b : requested) EXPECT_GT(other.back().piece, b.piece);
}

TEST(PeerState, ARejectedBlockOfAClaimedPieceIsOpenToOtherPeers) {
  auto s = unchoked_by_a_seed();
  const auto requested = claiming_seed(*s);
  ASSERT_FALSE(requested.empty());
  // Its last request: a block of the last piece it started, which it claimed.
  const picker::block_ref last = *std::max_element(requested.begin(), requested.end(), [](auto& a, auto& b) {
    return std::pair(a.piece, a.block) < std::pair(b.piece, b.block);
  });
  ASSERT_TRUE(s->picker.claimed_by(last.piece, 1));
  ASSERT_TRUE(s->in("reject " + std::to_string(last.piece) + " " + std::to_string(last.block * kBlockSize) + " " +
                    std::to_string(kBlockSize)));
  // The peer will not send it: the piece is shared now, and the other peer
  // is handed that block rather than a piece of its own.
  std::vector<picker::block_ref> other;
  ASSERT_EQ(s->picker.pick(nullptr, 2, false, 1, {}, other), 1u);
  EXPECT_EQ(other.back(), last);
}

// The blocks of the claimed piece it has not been asked for yet, with
// nothing of it in flight: they are open to other peers once it chokes us
// or says it no longer has the piece.
std::vector<picker::block_ref> unasked_of_its_last_claim(peer_script& s,
                                                         const std::vector<picker::block_ref>& requested,
                                                         std::string_view then) {
  std::uint32_t last = 0;
  for (const auto& b : requested) last = std::max(last, b.piece);
  EXPECT_TRUE(s.picker.claimed_by(last, 1));
  std::string script;
  for (const auto& b : requested)
    script += "piece " + std::to_string(b.piece) + " " + std::to_string(b.block * kBlockSize) + ";";
  EXPECT_TRUE(s.in(script + std::string(then)));
  std::vector<picker::block_ref> unasked;
  for (std::uint32_t i = 0; i < 16; ++i)
    if (!s.picker.received({last, i}) &&
        std::find(requested.begin(), requested.end(), picker::block_ref{last, i}) == requested.end())
      unasked.push_back({last, i});
  return unasked;
}

TEST(PeerState, AClaimedPieceIsOpenToOtherPeersWhileItsPeerChokesUs) {
  auto s = unchoked_by_a_seed();
  // All it was asked for comes with the choke, so nothing is in flight and
  // nothing is rejected.
  const auto unasked = unasked_of_its_last_claim(*s, claiming_seed(*s), "choke");
  ASSERT_FALSE(unasked.empty());
  EXPECT_EQ(s->state->requests_in_flight(), 0u);
  std::vector<picker::block_ref> other;
  s->picker.pick(nullptr, 2, false, unasked.size(), {}, other);
  EXPECT_EQ(other, unasked);
}

TEST(PeerState, AClaimedPieceThePeerNoLongerHasIsOpenToOtherPeers) {
  auto s = unchoked_by_a_seed();
  const auto requested = claiming_seed(*s);
  std::uint32_t last = 0;
  for (const auto& b : requested) last = std::max(last, b.piece);
  const auto unasked = unasked_of_its_last_claim(*s, requested, "donthave " + std::to_string(last));
  ASSERT_FALSE(unasked.empty());
  std::vector<picker::block_ref> other;
  s->picker.pick(nullptr, 2, false, unasked.size(), {}, other);
  EXPECT_EQ(other, unasked);
}

TEST(PeerState, PipelineGrowsWithTheRate) {
  auto s = unchoked_by_a_seed();
  // 64 blocks in one second: 1 MiB/s, so 3 s of requests is 192 blocks.
  while (s->blocks.size() < 64)
    if (answer_requests(*s) == 0) break;
  ASSERT_GE(s->blocks.size(), 64u);
  ASSERT_TRUE(s->wait(1s));
  EXPECT_GT(s->state->requests_in_flight(), 64u);
  EXPECT_LE(s->state->requests_in_flight(), s->lim.max_pipeline);
}

TEST(PeerState, ChokeWithoutFastDropsOurRequestsForOthers) {
  peer_script s("..");
  s.start(false, false);
  ASSERT_TRUE(s.in("bitfield 11; unchoke"));
  ASSERT_EQ(s.state->requests_in_flight(), 4u);
  ASSERT_TRUE(s.in("choke"));
  EXPECT_EQ(s.state->requests_in_flight(), 0u);
  // The picker hands them out again.
  std::vector<picker::block_ref> out;
  EXPECT_EQ(s.picker.pick(nullptr, 2, false, 10, {}, out), 4u);
}

TEST(PeerState, ChokeWithFastKeepsRequestsUntilRejected) {
  peer_script s("..");
  s.picker.set_sequential(true);
  s.start();
  ASSERT_TRUE(s.in("have_all; unchoke"));
  ASSERT_TRUE(s.in("choke"));
  EXPECT_EQ(s.state->requests_in_flight(), 4u);
  ASSERT_TRUE(s.in("reject 0 0 16384; reject 1 16384 16384"));
  EXPECT_EQ(s.state->requests_in_flight(), 2u);
}

TEST(PeerState, BlocksAreCheckedAndOnlyRequestedOnesKept) {
  peer_script s("..");
  s.picker.set_sequential(true);
  s.start();
  ASSERT_TRUE(s.in("have_all; unchoke"));
  s.out();
  ASSERT_TRUE(s.in("piece 0 0"));
  ASSERT_TRUE(s.in("piece 0 0"));  // again: not in flight any more
  EXPECT_EQ(s.blocks.size(), 1u);
  EXPECT_EQ(s.counters.wasted.load(), std::int64_t{kBlockSize});
  EXPECT_EQ(s.counters.downloaded.load(), std::int64_t{kBlockSize});

  peer_script unaligned("..");
  unaligned.start();
  ASSERT_TRUE(unaligned.in("have_all; unchoke"));
  EXPECT_EQ(error_of(unaligned.in("piece 0 100 16384")), errc::protocol_violation);
  peer_script short_block("..");
  short_block.start();
  ASSERT_TRUE(short_block.in("have_all; unchoke"));
  EXPECT_EQ(error_of(short_block.in("piece 0 0 100")), errc::protocol_violation);
  peer_script beyond("..");
  beyond.start();
  EXPECT_EQ(error_of(beyond.in("piece 2 0")), errc::protocol_violation);
}

TEST(PeerState, SilentPeerIsSnubbedAndGetsOneRequestAtATime) {
  peer_script s("....");
  s.picker.set_sequential(true);
  s.start();
  ASSERT_TRUE(s.in("have_all; unchoke"));
  ASSERT_EQ(s.state->requests_in_flight(), 8u);
  s.out();
  ASSERT_TRUE(s.wait(16s));
  EXPECT_TRUE(s.slot.snubbed.load());
  EXPECT_EQ(requests_in(s.out()).size(), 0u);  // cancels only, for now
  EXPECT_EQ(s.state->requests_in_flight(), 0u);
  ASSERT_TRUE(s.wait(16s));
  EXPECT_EQ(s.state->requests_in_flight(), 1u);
}

TEST(PeerState, PiecesASnubbedPeerClaimedAreOpenToOtherPeers) {
  auto s = unchoked_by_a_seed();
  const auto requested = claiming_seed(*s);
  ASSERT_FALSE(requested.empty());
  // It stops sending: its requests time out.
  ASSERT_TRUE(s->wait(16s));
  ASSERT_TRUE(s->slot.snubbed.load());
  // Every block it had asked for goes to the other peer, those of the
  // pieces it had claimed too.
  std::vector<picker::block_ref> other;
  s->picker.pick(nullptr, 2, false, requested.size(), {}, other);
  EXPECT_EQ(blocks_of(other), blocks_of(requested));
}

TEST(PeerState, EndgameCancelsCopiesAnotherPeerDelivered) {
  peer_script s("..");
  s.picker.set_sequential(true);
  s.start();
  ASSERT_TRUE(s.in("have_all; unchoke"));
  ASSERT_EQ(s.state->requests_in_flight(), 4u);
  // A second connection on the same torrent: nothing unrequested is left,
  // so it gets the same blocks (endgame) and delivers one first.
  peer_slot other_slot;
  peer_state other(s.view(), other_slot, 2, s.now);
  wire::handshake h;
  h.set_fast();
  other.start(h, 6881, s.now);
  auto feed = [&](std::string_view text) {
    const auto f = test::frame_of(text, s.geo.piece_length());
    auto d = wire::decode(f, {});
    return other.on_message(*d->msg, s.now);
  };
  ASSERT_TRUE(feed("have_all"));
  ASSERT_TRUE(feed("unchoke"));
  ASSERT_TRUE(other.update(s.now));
  ASSERT_TRUE(s.picker.in_endgame());
  auto got = feed("piece 1 16384");
  ASSERT_TRUE(got && *got);
  s.out();
  ASSERT_TRUE(s.wait(1ms));
  EXPECT_EQ(s.out(), "cancel 1:1");
  EXPECT_EQ(s.state->requests_in_flight(), 3u);
}

// --- serving --------------------------------------------------------------

TEST(PeerState, InterestedPeerIsUnchokedAtOnceWhileSlotsAreFree) {
  peer_script s("**");
  s.start();
  s.out();
  ASSERT_TRUE(s.in("interested"));
  EXPECT_EQ(s.out(), "unchoke");
  EXPECT_EQ(s.counters.unchoked.load(), 1u);
  ASSERT_TRUE(s.in("request 1 0 16384; request 0 16384 16384"));
  EXPECT_EQ(s.state->uploads_queued(), 2u);
  const auto a = s.state->next_upload();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->piece.value(), 1u);
  EXPECT_EQ(a->offset, 0u);
  EXPECT_EQ(s.state->next_upload()->offset, kBlockSize);
  EXPECT_FALSE(s.state->next_upload());
}

TEST(PeerState, RequestsWhileChokedOrForPiecesWeLackAreRejected) {
  peer_script s("*.");
  s.start();
  s.out();
  ASSERT_TRUE(s.in("request 0 0 16384"));
  EXPECT_EQ(s.out(), "reject 0:0+16384");
  ASSERT_TRUE(s.in("interested"));
  EXPECT_EQ(s.out(), "unchoke");
  ASSERT_TRUE(s.in("request 1 0 16384"));
  EXPECT_EQ(s.out(), "reject 1:0+16384");
  EXPECT_EQ(s.state->uploads_queued(), 0u);

  peer_script plain("*.");
  plain.start(false, false);
  plain.out();
  ASSERT_TRUE(plain.in("request 0 0 16384"));
  EXPECT_EQ(plain.out(), "");  // no reject without the fast extension
}

TEST(PeerState, RequestsOutsideThePieceAreViolations) {
  for (const char* bad : {"request 2 0 16384", "request 0 0 0", "request 0 262144 1", "request 1 245760 16385",
                          "request 0 0 131073"}) {
    peer_script s("**", 256 * 1024);
    s.start();
    ASSERT_TRUE(s.in("interested"));
    EXPECT_EQ(error_of(s.in(bad)), errc::protocol_violation) << bad;
  }
}

TEST(PeerState, CancelRemovesTheRequestAndIsAnsweredWithAReject) {
  peer_script s("**");
  s.start();
  ASSERT_TRUE(s.in("interested"));
  ASSERT_TRUE(s.in("request 0 0 16384; request 0 16384 16384"));
  s.out();
  ASSERT_TRUE(s.in("cancel 0 0 16384"));
  EXPECT_EQ(s.out(), "reject 0:0+16384");
  EXPECT_EQ(s.state->uploads_queued(), 1u);
  EXPECT_EQ(s.state->next_upload()->offset, kBlockSize);
  EXPECT_FALSE(s.state->next_upload());
  ASSERT_TRUE(s.in("cancel 1 0 16384"));  // never asked: nothing to answer
  EXPECT_EQ(s.out(), "");
}

TEST(PeerState, RequestFloodBeyondTheQueueEndsTheConnection) {
  peer::limits lim;
  lim.max_queued_requests = 10;
  peer_script s("**", 256 * 1024, lim);
  s.start();
  ASSERT_TRUE(s.in("interested"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.in("request 0 0 16384"));
  EXPECT_EQ(error_of(s.in("request 0 0 16384")), errc::protocol_violation);
}

TEST(PeerState, ChokingRejectsWhatIsQueued) {
  peer_script s("**");
  s.start();
  ASSERT_TRUE(s.in("interested"));
  ASSERT_TRUE(s.in("request 0 0 16384; request 1 0 16384"));
  s.out();
  s.slot.unchoke_wanted.store(false);
  ASSERT_TRUE(s.in("keep_alive"));
  EXPECT_EQ(s.out(), "choke; reject 0:0+16384; reject 1:0+16384");
  EXPECT_FALSE(s.state->next_upload());
  EXPECT_EQ(s.counters.unchoked.load(), 0u);
}

// --- hostile peers: every queue is bounded -------------------------------

TEST(PeerState, PeerThatSendsAndNeverReadsIsDroppedOnceItsQueueIsFull) {
  peer_script s("**");
  s.start();
  s.out();
  // Requests while choked each earn a reject; the peer reads none of them.
  result<void> r;
  std::size_t sent = 0;
  while ((r = s.in("request 0 0 16384"))) {
    ++sent;
    ASSERT_LE(s.state->frames_queued(), s.state->outbox_limit());
    ASSERT_LT(sent, 1'000'000u);
  }
  EXPECT_EQ(r.error(), errc::peer_not_reading);
  EXPECT_LE(s.state->frames_queued(), s.state->outbox_limit() + 17);
}

TEST(PeerState, HavesWaitWhileThePeerIsNotReading) {
  constexpr std::uint32_t kPieces = 200'000;
  peer_script s(std::string(kPieces, '.'), kBlockSize);
  s.start();
  for (std::uint32_t i = 0; i < kPieces; ++i) s.log.append(i);
  ASSERT_TRUE(s.in("keep_alive"));
  EXPECT_LE(s.state->frames_queued(), s.state->outbox_limit() / 2 + 9);
  // As the peer reads, the rest follow.
  std::size_t haves = 0;
  for (int round = 0; round < 100 && haves < kPieces; ++round) {
    std::vector<std::byte> bytes;
    s.state->take_frames(bytes);
    haves += test::split(test::describe(bytes), ';').size();
    ASSERT_TRUE(s.in("keep_alive"));
  }
  EXPECT_GE(haves, std::size_t{kPieces});
}

TEST(PeerState, CancelledRequestsDoNotPileUp) {
  peer::limits lim;
  lim.max_queued_requests = 100;
  peer_script s("**", 256 * 1024, lim);
  s.start();
  ASSERT_TRUE(s.in("interested"));
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(s.in("request 0 0 16384; cancel 0 0 16384"));
    s.out();
  }
  EXPECT_EQ(s.state->uploads_queued(), 0u);
  EXPECT_LE(s.state->upload_entries(), 2 * lim.max_queued_requests + 64);
  EXPECT_FALSE(s.state->next_upload());
}

TEST(PeerState, BannedPeerIsClosedAtItsNextStep) {
  peer_script s("..");
  s.start();
  ASSERT_TRUE(s.in("keep_alive"));
  s.slot.banned.store(true);
  EXPECT_EQ(error_of(s.in("keep_alive")), errc::peer_banned);
}

TEST(PeerState, IdlePeerTimesOutAndWeKeepAlive) {
  peer_script s("..");
  s.start();
  s.out();
  ASSERT_TRUE(s.wait(61s));
  EXPECT_EQ(s.out(), "keep_alive");
  EXPECT_EQ(error_of(s.wait(60s)), std::errc::timed_out);
}

TEST(PeerState, TwoSeedsPart) {
  peer_script s("**");
  s.start();
  ASSERT_TRUE(s.in("have_all"));
  EXPECT_EQ(error_of(s.wait(1s)), std::errc::operation_canceled);
}

// --- extensions -----------------------------------------------------------

TEST(PeerState, DonthaveGoesToTheIdThePeerAdvertised) {
  peer_script s("**");
  s.start();
  ASSERT_TRUE(s.in("ext_handshake lt_donthave=9; interested"));
  ASSERT_TRUE(s.in("request 1 0 16384"));
  EXPECT_EQ(s.state->peer_extension_id(extension::donthave), 9);
  const auto u = s.state->next_upload();
  ASSERT_TRUE(u);
  s.out();
  s.state->upload_failed(*u);
  EXPECT_EQ(s.out(), "reject 1:0+16384; ext 9 00000001");
  s.state->upload_failed(*u);
  EXPECT_EQ(s.out(), "reject 1:0+16384");  // once per piece
}

TEST(PeerState, NoDonthaveForAPeerWithoutTheExtension) {
  peer_script s("**");
  s.start();
  ASSERT_TRUE(s.in("ext_handshake lt_donthave=9; ext_handshake lt_donthave=0; interested"));
  ASSERT_TRUE(s.in("request 1 0 16384"));
  const auto u = s.state->next_upload();
  ASSERT_TRUE(u);
  s.out();
  s.state->upload_failed(*u);
  EXPECT_EQ(s.out(), "reject 1:0+16384");
}

TEST(PeerState, DonthaveFromThePeerLowersAvailabilityAndInterest) {
  peer_script s("...");
  s.start();
  ASSERT_TRUE(s.in("bitfield 110"));
  EXPECT_EQ(s.picker.availability(0), 1u);
  ASSERT_TRUE(s.in("donthave 0"));
  EXPECT_EQ(s.picker.availability(0), 0u);
  EXPECT_TRUE(s.state->am_interested());
  s.out();
  ASSERT_TRUE(s.in("donthave 1"));
  EXPECT_EQ(s.out(), "not_interested");
  EXPECT_EQ(error_of(s.in("donthave 7")), errc::protocol_violation);
  EXPECT_EQ(error_of(s.in("ext 1 0001")), errc::bad_message);
  EXPECT_TRUE(s.in("ext 77 00"));  // an id we never gave out: ignored
}

TEST(PeerState, DonthaveFromASeedMakesItAnOrdinaryPeer) {
  peer_script s("...");
  s.start();
  ASSERT_TRUE(s.in("have_all"));
  EXPECT_EQ(s.picker.availability(2), 1u);
  ASSERT_TRUE(s.in("donthave 2"));
  EXPECT_FALSE(s.state->peer_is_seed());
  EXPECT_EQ(s.picker.availability(2), 0u);
  EXPECT_EQ(s.picker.availability(1), 1u);
}

// --- leaving --------------------------------------------------------------

TEST(PeerState, GoingAwayGivesBackAvailabilityRequestsAndTheUnchoke) {
  peer_script s("....");
  s.start();
  ASSERT_TRUE(s.in("bitfield 1110; unchoke; interested"));
  ASSERT_GT(s.state->requests_in_flight(), 0u);
  ASSERT_EQ(s.counters.unchoked.load(), 1u);
  s.state.reset();
  EXPECT_EQ(s.picker.availability(0), 0u);
  EXPECT_EQ(s.counters.unchoked.load(), 0u);
  std::vector<picker::block_ref> out;
  EXPECT_EQ(s.picker.pick(nullptr, 2, false, 100, {}, out), 8u);
}

// --- cost: O(1) per message -----------------------------------------------

// Messages that must not cost O(pieces): a 'have' of a piece we do not
// want, or of one others are fetching, a cancel, interest flapping, choke
// flapping. With 4x the pieces and 4x the messages the work grows 4x (it
// would grow 16x if each message scanned the pieces: a pick is such a scan).
TEST(PeerState, HostileMessagesCostTheSameWhateverTheTorrentSize) {
  auto fixed = [](std::string text) { return [text](std::uint32_t) { return text; }; };
  struct cfg {
    const char* name;
    std::function<std::string(std::uint32_t pieces)> prefix;
    // The i-th round's messages; '|' splits them into batches.
    std::function<std::string(std::uint32_t i, std::uint32_t pieces)> script;
    bool fast = true;
    bool others_fetch_everything = false;
    // Rounds per piece: enough that the messages, not the few picks a
    // second they may cause (O(pieces) each, once), dominate.
    std::uint32_t rounds_per_two_pieces = 1;
  };
  const std::vector<cfg> cases{
      {"have of unwanted pieces", fixed("unchoke"), [](std::uint32_t i, std::uint32_t) { return "have " + std::to_string(2 * i + 1); }},
      {"have of pieces others fetch", fixed("unchoke"),
       [](std::uint32_t i, std::uint32_t pieces) { return "have " + std::to_string((2 * i + 2) % pieces); }, true, true},
      {"cancel", fixed("interested"), [](std::uint32_t, std::uint32_t) { return std::string("request 0 0 16384; cancel 0 0 16384"); }},
      {"interested flapping", fixed("have 2; unchoke"),
       [](std::uint32_t, std::uint32_t) { return std::string("interested; not_interested"); }},
      {"unchoke flapping", [](std::uint32_t pieces) { return "bitfield " + std::string(pieces, '1'); },
       [](std::uint32_t, std::uint32_t) { return std::string("unchoke|choke"); }, false, false, 8},
  };
  constexpr std::uint32_t kSmall = 20'000;
  for (const auto& c : cases) {
    auto run = [&](std::uint32_t pieces) {
      const std::uint32_t n = pieces / 2 * c.rounds_per_two_pieces;
      double best = 1e9;
      for (int attempt = 0; attempt < 3; ++attempt) {
        std::string have(pieces, '.');
        have[0] = '*';
        for (std::uint32_t i = 1; i < pieces; i += 2) have[i] = '-';
        peer_script s(have, kBlockSize);
        if (c.others_fetch_everything) {
          // Another connection has every wanted piece in hand already.
          std::vector<picker::block_ref> got;
          s.picker.pick(nullptr, 2, true, pieces, {}, got);
          for (const auto& b : got) s.picker.on_block(b);
        }
        s.start(c.fast, c.fast);
        if (auto r = s.in(c.prefix(pieces)); !r) throw std::logic_error(std::string(c.name) + ": " + r.error().message());
        timespec a{}, b{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        for (std::uint32_t i = 0; i < n; ++i) {
          const std::string script = c.script(i, pieces);
          for (auto batch : test::split(script, '|'))
            if (auto r = s.in(batch); !r) throw std::logic_error(std::string(c.name) + ": " + r.error().message());
          s.out();
        }
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        best = std::min(best, double(b.tv_sec - a.tv_sec) + double(b.tv_nsec - a.tv_nsec) * 1e-9);
      }
      return best;
    };
    const double small = run(kSmall);
    const double large = run(4 * kSmall);
    EXPECT_LT(large / small, 8.0) << c.name << ": " << small << " s vs " << large << " s";
  }
}

TEST(PeerState, HaveOfAWantedPieceIsPickedFromThatPieceAlone) {
  peer_script s("....");
  s.start();
  ASSERT_TRUE(s.in("bitfield 0000; unchoke"));
  s.out();
  ASSERT_TRUE(s.in("have 2"));
  EXPECT_EQ(s.out(), "interested; request 2:0; request 2:1");
}

// Feeds one extended message (id `ext`, payload as given) to the connection.
result<void> feed_extended(peer_script& s, std::uint8_t ext, std::span<const std::byte> payload) {
  std::vector<std::byte> f;
  wire::encode_extended(f, ext, payload);
  auto d = wire::decode(f, {});
  if (auto r = s.state->on_message(*d->msg, s.now); !r) return r.error();
  return s.state->update(s.now);
}

// The extended messages of id `ext` among the frames queued since the last call.
std::vector<std::vector<std::byte>> extended_out(peer_script& s, std::uint8_t ext) {
  std::vector<std::byte> bytes;
  s.state->take_frames(bytes);
  std::vector<std::vector<std::byte>> out;
  std::span<const std::byte> rest = bytes;
  while (auto d = wire::decode(rest, {}, {.max_frame = 1u << 24})) {
    if (!d->msg) break;
    if (d->msg->type == wire::msg_type::extended && d->msg->ext_id == ext)
      out.emplace_back(d->msg->payload.begin(), d->msg->payload.end());
    rest = rest.subspan(d->used);
  }
  return out;
}

void peer_speaks(peer_script& s, std::vector<std::pair<std::string, std::uint8_t>> m) {
  wire::ext_handshake h;
  h.m = std::move(m);
  h.p = 7000;
  ASSERT_TRUE(feed_extended(s, 0, wire::encode_ext_handshake(h)));
}

TEST(PeerState, ServesMetadataPiecesAndRejectsOthers) {
  namespace um = wire::ut_metadata;
  const std::string info(um::kPieceSize + 500, 'i');
  peer_script s("****");
  s.reopen(info, nullptr);
  s.start();
  peer_speaks(s, {{"ut_metadata", 5}});
  extended_out(s, 5);
  ASSERT_TRUE(feed_extended(s, 2, um::encode_request(1)));
  ASSERT_TRUE(feed_extended(s, 2, um::encode_request(2)));  // past the end
  const auto out = extended_out(s, 5);
  ASSERT_EQ(out.size(), 2u);
  auto data = um::decode(out[0]);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->type, um::kind::data);
  EXPECT_EQ(data->piece, 1u);
  EXPECT_EQ(data->total_size, static_cast<std::int64_t>(info.size()));
  EXPECT_EQ(data->data.size(), 500u);
  EXPECT_EQ(um::decode(out[1])->type, um::kind::reject);
  // A private torrent's connection (no metadata) only ever rejects.
  peer_script p("****");
  p.start();
  peer_speaks(p, {{"ut_metadata", 5}});
  ASSERT_TRUE(feed_extended(p, 2, um::encode_request(0)));
  const auto answers = extended_out(p, 5);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(um::decode(answers[0])->type, um::kind::reject);
}

TEST(PeerState, TellsADhtPeerOurPortAndTakesItsOnce) {
  const std::vector<std::byte> our_port{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{3}, std::byte{9},
                                        std::byte{0x1e}, std::byte{0x61}};  // port 7777
  const auto has_frame = [&](const std::vector<std::byte>& frames) {
    return std::search(frames.begin(), frames.end(), our_port.begin(), our_port.end()) != frames.end();
  };
  wire::message port;
  port.type = wire::msg_type::port;
  port.port = 6882;

  peer_script s("....");
  s.dht_port = 7777;
  s.reopen("", nullptr);
  s.start(true, true, true);
  std::vector<std::byte> frames;
  s.state->take_frames(frames);
  EXPECT_TRUE(has_frame(frames));
  ASSERT_TRUE(s.state->on_message(port, s.now));
  EXPECT_EQ(s.state->take_dht_node(), parse_endpoint("127.0.0.9:6882"));
  // One per connection.
  port.port = 6883;
  ASSERT_TRUE(s.state->on_message(port, s.now));
  EXPECT_FALSE(s.state->take_dht_node());

  // A peer without the DHT bit gets no port message; with no DHT of ours
  // (or a private torrent) neither, and its port is not taken.
  peer_script plain("....");
  plain.dht_port = 7777;
  plain.reopen("", nullptr);
  plain.start();
  frames.clear();
  plain.state->take_frames(frames);
  EXPECT_FALSE(has_frame(frames));
  peer_script off("....");
  off.start(true, true, true);
  frames.clear();
  off.state->take_frames(frames);
  EXPECT_FALSE(has_frame(frames));
  ASSERT_TRUE(off.state->on_message(port, off.now));
  EXPECT_FALSE(off.state->take_dht_node());
}

TEST(PeerState, PeerExchangeAtMostOnceAMinuteWithoutThePeerItself) {
  namespace pex = wire::ut_pex;
  pex_board board;
  peer_script s("....");
  s.reopen("", &board);
  s.start();
  peer_speaks(s, {{"ut_pex", 6}});
  const auto other = *parse_endpoint("10.0.0.1:6881");
  board.publish({{other, pex::kReachable}, {*parse_endpoint("127.0.0.9:7000"), 0}});  // the second is the peer
  ASSERT_TRUE(s.wait(1s));
  auto out = extended_out(s, 6);
  ASSERT_EQ(out.size(), 1u);
  auto msg = pex::decode(out[0]);
  ASSERT_TRUE(msg);
  ASSERT_EQ(msg->added.size(), 1u);
  EXPECT_EQ(msg->added[0].addr, other);
  // A change within the minute waits for it; then only the difference goes.
  const auto late = *parse_endpoint("10.0.0.2:6881");
  board.publish({{late, 0}});
  ASSERT_TRUE(s.wait(30s));
  EXPECT_TRUE(extended_out(s, 6).empty());
  ASSERT_TRUE(s.wait(31s));
  out = extended_out(s, 6);
  ASSERT_EQ(out.size(), 1u);
  msg = pex::decode(out[0]);
  ASSERT_EQ(msg->added.size(), 1u);
  EXPECT_EQ(msg->added[0].addr, late);
  ASSERT_EQ(msg->dropped.size(), 1u);
  EXPECT_EQ(msg->dropped[0], other);

  // What the peer tells us is kept for the torrent, one message per 20 s.
  pex::message theirs;
  theirs.added = {{*parse_endpoint("10.9.9.9:1000"), 0}};
  ASSERT_TRUE(feed_extended(s, 3, pex::encode(theirs)));
  theirs.added = {{*parse_endpoint("10.9.9.8:1000"), 0}};
  ASSERT_TRUE(feed_extended(s, 3, pex::encode(theirs)));  // too soon: ignored
  const auto learnt = s.state->take_pex_peers();
  ASSERT_EQ(learnt.size(), 1u);
  EXPECT_EQ(learnt[0], *parse_endpoint("10.9.9.9:1000"));
}

}  // namespace
}  // namespace sta::peer
