#include "picker/piece_picker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

namespace sta::picker {
namespace {

// A picker from shorthand: one character per piece. `availability` digits
// are how many peers have each piece; `have` marks with '*' the pieces we
// already have and with '-' the pieces not wanted (file selection). Every
// piece has `blocks` blocks.
std::unique_ptr<piece_picker> make_picker(std::string_view availability, std::string_view have = "",
                                          std::uint32_t blocks = 4, std::uint64_t seed = 1) {
  geometry g;
  g.piece_count = static_cast<std::uint32_t>(availability.size());
  g.blocks_per_piece = blocks;
  g.blocks_in_last_piece = blocks;
  auto p = std::make_unique<piece_picker>(g, seed);
  for (std::uint32_t i = 0; i < g.piece_count; ++i)
    for (int k = 0; k < availability[i] - '0'; ++k) p->add_have(i);
  for (std::uint32_t i = 0; i < have.size(); ++i)
    if (have[i] == '*') p->mark_have(i);
    else if (have[i] == '-') p->skip(i);
  return p;
}

std::vector<block_ref> pick(piece_picker& p, const bitfield* has, owner_id owner, bool whole, std::size_t max,
                            std::span<const block_ref> in_flight = {}) {
  std::vector<block_ref> out;
  p.pick(has, owner, whole, max, in_flight, out);
  return out;
}

std::set<std::uint32_t> pieces_of(const std::vector<block_ref>& blocks) {
  std::set<std::uint32_t> s;
  for (const auto& b : blocks) s.insert(b.piece);
  return s;
}

TEST(PiecePicker, PicksTheRarestPieceThePeerHas) {
  auto p = make_picker("3314");
  auto got = pick(*p, nullptr, 1, false, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(pieces_of(got), std::set<std::uint32_t>{2});
  const auto has = bitfield::from_string("1101");
  got = pick(*p, &has, 2, false, 8);
  EXPECT_EQ(pieces_of(got), (std::set<std::uint32_t>{0, 1}));
}

TEST(PiecePicker, InProgressFromTheFirstPickUntilThePieceIsHad) {
  auto p = make_picker("1111", "*-", 2);
  EXPECT_FALSE(p->in_progress(0));  // had
  EXPECT_FALSE(p->in_progress(1));  // skipped
  const auto got = pick(*p, nullptr, 1, true, 1);
  ASSERT_EQ(got.size(), 1u);
  const std::uint32_t piece = got[0].piece;
  EXPECT_TRUE(p->in_progress(piece));
  EXPECT_FALSE(p->in_progress(piece == 2 ? 3 : 2));
  p->on_block(got[0]);
  const auto rest = pick(*p, nullptr, 1, true, 1);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(p->on_block(rest[0]), piece_picker::receipt::piece_complete);
  EXPECT_TRUE(p->in_progress(piece));  // being hashed
  p->on_hash_passed(piece);
  EXPECT_FALSE(p->in_progress(piece));
}

TEST(PiecePicker, BreaksTiesRandomly) {
  std::set<std::uint32_t> first;
  for (std::uint64_t seed = 1; seed <= 32; ++seed) {
    auto p = make_picker("2222", "", 4, seed * 7919);
    first.insert(pick(*p, nullptr, 1, false, 1).at(0).piece);
  }
  EXPECT_GT(first.size(), 1u);
}

// Two pickers on one thread with the same seed choose alike, and other
// seeds choose otherwise: the seed is the picker's own, not the thread's.
TEST(PiecePicker, EachPickerFollowsItsOwnSeed) {
  auto sequence = [](std::uint64_t seed) {
    auto p = make_picker("22222222", "", 1, seed);
    std::vector<std::uint32_t> order;
    for (int i = 0; i < 8; ++i) order.push_back(pick(*p, nullptr, 1, false, 1).at(0).piece);
    return order;
  };
  const auto a = sequence(5);
  EXPECT_EQ(sequence(5), a);
  EXPECT_EQ(sequence(5), a);
  bool differs = false;
  for (std::uint64_t seed = 6; seed < 16 && !differs; ++seed) differs = sequence(seed) != a;
  EXPECT_TRUE(differs);
}

TEST(PiecePicker, LostPieceIsNotPickedWhileCheckedAndReturnsAsTheCheckSays) {
  auto p = make_picker("111", "**-", 2);
  ASSERT_TRUE(p->complete());
  EXPECT_TRUE(p->on_lost(0, true));
  EXPECT_FALSE(p->on_lost(0, true));  // one caller wins
  EXPECT_FALSE(p->have(0));
  EXPECT_FALSE(p->complete());
  EXPECT_EQ(p->have_count(), 1u);
  EXPECT_TRUE(pick(*p, nullptr, 1, false, 10).empty());
  p->on_rechecked(0, true, true);
  EXPECT_TRUE(p->have(0));
  EXPECT_TRUE(p->complete());

  EXPECT_TRUE(p->on_lost(1, true));
  p->on_rechecked(1, false, true);
  EXPECT_FALSE(p->complete());
  const auto again = pick(*p, nullptr, 1, false, 10);
  EXPECT_EQ(pieces_of(again), std::set<std::uint32_t>{1});
}

TEST(PiecePicker, LostPieceOutsideTheSelectionIsNotWantedAfterAFailedCheck) {
  auto p = make_picker("11", "* ", 2);
  p->skip(1);
  ASSERT_TRUE(p->complete());
  p->mark_have(1);
  EXPECT_TRUE(p->on_lost(1, false));
  EXPECT_TRUE(p->complete());
  p->on_rechecked(1, false, false);
  EXPECT_TRUE(p->skipped(1));
  EXPECT_TRUE(p->complete());
  EXPECT_TRUE(pick(*p, nullptr, 1, false, 10).empty());
}

TEST(PiecePicker, PickFromTakesOnlyTheGivenPiecesThatAreFreeSharedOrOurs) {
  auto p = make_picker("1111", "*   ", 2);
  const auto other = pick(*p, nullptr, 2, true, 2);  // owner 2 claims one whole piece
  ASSERT_EQ(other.size(), 2u);
  const std::uint32_t claimed = other[0].piece;
  std::vector<block_ref> out;
  const std::uint32_t wanted[] = {0, claimed, 3, 7};  // ours, someone else's, free, out of range
  EXPECT_EQ(p->pick_from(wanted, 1, false, 10, out), claimed == 3 ? 0u : 2u);
  for (const auto& b : out) EXPECT_EQ(b.piece, 3u);
  // A piece owner 1 claimed comes back to it; a shared one to anyone.
  out.clear();
  const std::uint32_t again[] = {3};
  EXPECT_EQ(p->pick_from(again, 4, false, 10, out), 0u);  // its blocks are all requested
}

TEST(PiecePicker, NeverPicksPiecesWeHaveOrThePeerLacks) {
  auto p = make_picker("1111", "*  *");
  const auto has = bitfield::from_string("1110");
  auto got = pick(*p, &has, 1, false, 100);
  EXPECT_EQ(pieces_of(got), (std::set<std::uint32_t>{1, 2}));
  EXPECT_EQ(got.size(), 8u);
}

TEST(PiecePicker, SkippedPiecesAreNeverPickedAndNotNeededForCompletion) {
  auto p = make_picker("1111", "-*  ");
  auto got = pick(*p, nullptr, 1, false, 100);
  EXPECT_EQ(pieces_of(got), (std::set<std::uint32_t>{2, 3}));
  EXPECT_TRUE(p->skipped(0));
  EXPECT_FALSE(p->wanted(0));
  EXPECT_FALSE(p->wanted(1));
  EXPECT_TRUE(p->wanted(2));
  for (std::uint32_t piece : {2u, 3u}) {
    for (std::uint32_t b = 0; b < 4; ++b) p->on_block({piece, b});
    EXPECT_FALSE(p->complete());
    p->on_hash_passed(piece);
  }
  EXPECT_TRUE(p->complete());
  EXPECT_EQ(p->have_count(), 3u);
  EXPECT_FALSE(p->have(0));
}

TEST(PiecePicker, SkippingAPieceWeHaveKeepsIt) {
  auto p = make_picker("11", "* ");
  p->skip(0);
  p->skip(1);
  EXPECT_TRUE(p->have(0));
  EXPECT_TRUE(p->skipped(1));
  EXPECT_TRUE(p->complete());
  EXPECT_TRUE(pick(*p, nullptr, 1, false, 100).empty());
}

TEST(PiecePicker, FinishesPartialPiecesFirst) {
  auto p = make_picker("1222");
  auto first = pick(*p, nullptr, 1, false, 2);  // half of the rarest piece
  EXPECT_EQ(pieces_of(first), std::set<std::uint32_t>{0});
  p->add_have(0);
  p->add_have(0);
  p->add_have(0);  // piece 0 is now the most common, but it is started
  auto next = pick(*p, nullptr, 2, false, 2);
  EXPECT_EQ(pieces_of(next), std::set<std::uint32_t>{0});
}

TEST(PiecePicker, WholePieceClaimExcludesOtherOwnersUntilReleased) {
  auto p = make_picker("1");
  auto mine = pick(*p, nullptr, 1, true, 1);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_TRUE(pick(*p, nullptr, 2, false, 4).empty() || p->in_endgame());
  p->release_owner(1);
  auto theirs = pick(*p, nullptr, 2, false, 4);
  EXPECT_EQ(theirs.size(), 3u);  // the three blocks owner 1 had not requested
}

TEST(PiecePicker, ReleasingOneClaimSharesThatPieceAlone) {
  auto p = make_picker("123");
  const auto mine = pick(*p, nullptr, 1, true, 6);  // all of piece 0, half of piece 1
  ASSERT_EQ(pieces_of(mine), (std::set<std::uint32_t>{0, 1}));
  p->on_abort({0, 3});  // piece 0 has an unrequested block again, still claimed
  p->release_claim(1, 2);  // not owner 2's claim: nothing changes
  EXPECT_TRUE(p->claimed_by(1, 1));
  EXPECT_FALSE(p->claimed_by(1, 2));
  EXPECT_EQ(pieces_of(pick(*p, nullptr, 2, false, 8)), std::set<std::uint32_t>{2});
  p->release_claim(1, 1);
  EXPECT_FALSE(p->claimed_by(1, 1));
  EXPECT_TRUE(p->claimed_by(0, 1));
  const auto theirs = pick(*p, nullptr, 2, false, 8);
  EXPECT_EQ(theirs, (std::vector<block_ref>{{1, 2}, {1, 3}}));
}

TEST(PiecePicker, SharedPiecesGiveDifferentBlocksToDifferentPeers) {
  auto p = make_picker("1", "", 4);
  auto a = pick(*p, nullptr, 1, false, 2);
  auto b = pick(*p, nullptr, 2, false, 2);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  std::set<std::uint32_t> blocks;
  for (const auto& x : a) blocks.insert(x.block);
  for (const auto& x : b) blocks.insert(x.block);
  EXPECT_EQ(blocks.size(), 4u);
  EXPECT_FALSE(p->in_endgame());
}

TEST(PiecePicker, SequentialModePicksInIndexOrder) {
  auto p = make_picker("5514");
  p->set_sequential(true);
  auto got = pick(*p, nullptr, 1, false, 6);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0].piece, 0u);
  EXPECT_EQ(got[5].piece, 1u);
}

TEST(PiecePicker, EndgameDuplicatesOnlyWhenNothingElseIsLeft) {
  auto p = make_picker("11", "", 2);
  auto a = pick(*p, nullptr, 1, false, 4);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_FALSE(p->in_endgame());
  // Peer 2 gets the same blocks, except what it already has in flight.
  const std::vector<block_ref> in_flight{{0, 0}};
  auto b = pick(*p, nullptr, 2, false, 10, in_flight);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(p->in_endgame());
  for (const auto& x : b) EXPECT_FALSE(x == (block_ref{0, 0}));
  // A received block is not handed out again.
  EXPECT_EQ(p->on_block({1, 0}), piece_picker::receipt::accepted);
  EXPECT_TRUE(p->received({1, 0}));
  EXPECT_EQ(pick(*p, nullptr, 3, false, 10).size(), 3u);
}

TEST(PiecePicker, ReceiptsAreDuplicateAcceptedOrPieceComplete) {
  auto p = make_picker("1", "", 2);
  auto got = pick(*p, nullptr, 1, false, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(p->on_block({0, 0}), piece_picker::receipt::accepted);
  EXPECT_EQ(p->on_block({0, 0}), piece_picker::receipt::duplicate);
  EXPECT_EQ(p->on_block({0, 1}), piece_picker::receipt::piece_complete);
  EXPECT_TRUE(pick(*p, nullptr, 2, false, 4).empty());  // complete: not even endgame
  EXPECT_FALSE(p->have(0));
  p->on_hash_passed(0);
  EXPECT_TRUE(p->have(0));
  EXPECT_TRUE(p->complete());
  EXPECT_TRUE(p->have_bits().all());
}

TEST(PiecePicker, AReservedBlockHasOneWriterAndCompletesItsPieceOnlyOnceLanded) {
  auto p = make_picker("1", "", 2);
  ASSERT_EQ(pick(*p, nullptr, 1, false, 2).size(), 2u);
  EXPECT_EQ(p->on_block({0, 0}), piece_picker::receipt::accepted);
  ASSERT_TRUE(p->reserve({0, 1}));
  // Every other copy is a duplicate from the reservation on: one writer.
  EXPECT_FALSE(p->reserve({0, 1}));
  EXPECT_EQ(p->on_block({0, 1}), piece_picker::receipt::duplicate);
  EXPECT_TRUE(p->received({0, 1}));
  // Reserved but not landed: the piece is not complete, so not hashed.
  EXPECT_FALSE(p->complete());
  EXPECT_TRUE(p->in_progress(0));
  // Nobody is handed a reserved block, not even in endgame.
  EXPECT_TRUE(pick(*p, nullptr, 2, false, 4).empty());
  EXPECT_EQ(p->land({0, 1}), piece_picker::receipt::piece_complete);
}

TEST(PiecePicker, AnUnreservedBlockIsStillRequestedUntilAborted) {
  auto p = make_picker("1", "", 2);
  ASSERT_EQ(pick(*p, nullptr, 1, false, 2).size(), 2u);
  EXPECT_EQ(p->on_block({0, 0}), piece_picker::receipt::accepted);
  ASSERT_TRUE(p->reserve({0, 1}));
  p->on_abort({0, 1});  // the reservation holds: not requestable yet
  EXPECT_TRUE(pick(*p, nullptr, 2, false, 4).empty());
  p->unreserve({0, 1});
  EXPECT_FALSE(p->received({0, 1}));
  // Still requested by its reserver, who waits for it: not handed out as
  // unrequested (only to another peer in endgame).
  EXPECT_TRUE(pick(*p, nullptr, 1, false, 4, std::vector<block_ref>{{0, 1}}).empty());
  EXPECT_FALSE(p->in_endgame());
  p->on_abort({0, 1});
  const auto again = pick(*p, nullptr, 2, false, 4);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], (block_ref{0, 1}));
  EXPECT_FALSE(p->in_endgame());  // handed out as unrequested, not as a duplicate
  EXPECT_EQ(p->on_block({0, 1}), piece_picker::receipt::piece_complete);
}

TEST(PiecePicker, AbortedBlocksAreRequestableAgain) {
  auto p = make_picker("1", "", 2);
  auto got = pick(*p, nullptr, 1, false, 2);
  p->on_abort({0, 1});
  auto again = pick(*p, nullptr, 2, false, 4);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], (block_ref{0, 1}));
}

TEST(PiecePicker, FailedHashMakesTheWholePieceRequestableAgain) {
  auto p = make_picker("1", "", 2);
  pick(*p, nullptr, 1, true, 2);
  p->on_block({0, 0});
  EXPECT_EQ(p->on_block({0, 1}), piece_picker::receipt::piece_complete);
  p->on_hash_failed(0);
  EXPECT_FALSE(p->received({0, 0}));
  EXPECT_EQ(pick(*p, nullptr, 2, false, 4).size(), 2u);
}

TEST(PiecePicker, LastPieceHasFewerBlocks) {
  geometry g{3, 4, 1};
  piece_picker p(g);
  for (std::uint32_t i = 0; i < 3; ++i) p.add_have(i);
  std::vector<block_ref> out;
  p.pick(nullptr, 1, false, 100, {}, out);
  EXPECT_EQ(out.size(), 9u);
  EXPECT_EQ(p.blocks_in(2), 1u);
}

TEST(PiecePicker, CountsSeedsAndPeersInAvailability) {
  auto p = make_picker("0000");
  p->add_seed();
  p->add_peer(bitfield::from_string("0110"));
  EXPECT_EQ(p->availability(0), 1u);
  EXPECT_EQ(p->availability(1), 2u);
  p->remove_peer(bitfield::from_string("0110"));
  p->remove_seed();
  EXPECT_EQ(p->availability(1), 0u);
  p->add_have(3);
  p->remove_have(3);
  EXPECT_EQ(p->availability(3), 0u);
}

// Threads act as peers: pick, receive (sometimes abort), and pass pieces.
// Every piece must complete exactly once and the picker end complete.
TEST(PiecePicker, ConcurrentPeersCompleteEveryPieceExactlyOnce) {
  // Blocks taken whole, in place or given up, by four threads at once.
  constexpr std::uint32_t kPieces = 256;
  geometry g{kPieces, 16, 3};
  piece_picker p(g, 42);
  p.add_seed();
  std::vector<std::atomic<int>> completions(kPieces);
  std::vector<std::thread> threads;
  for (owner_id t = 1; t <= 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<block_ref> out;
      std::uint64_t n = 0;
      while (!p.complete()) {
        out.clear();
        p.pick(nullptr, t, t % 2 == 0, 8, {}, out);
        for (const auto& b : out) {
          if (++n % 7 == 0) {
            p.on_abort(b);
            continue;
          }
          // Every fifth block comes in place; every other one of those
          // is given up after its reservation and picked again later.
          auto receipt = piece_picker::receipt::duplicate;
          if (n % 5 == 0) {
            if (!p.reserve(b)) continue;
            if (n % 10 == 0) {
              p.unreserve(b);
              p.on_abort(b);
              continue;
            }
            receipt = p.land(b);
          } else {
            receipt = p.on_block(b);
          }
          if (receipt == piece_picker::receipt::piece_complete) {
            completions[b.piece].fetch_add(1);
            p.on_hash_passed(b.piece);
          }
        }
        if (out.empty()) p.release_owner(t);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(p.complete());
  for (std::uint32_t i = 0; i < kPieces; ++i) EXPECT_EQ(completions[i].load(), 1) << i;
}

}  // namespace
}  // namespace sta::picker
