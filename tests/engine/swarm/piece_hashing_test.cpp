// A torrent's piece assembly without sockets: blocks copied in and hashed as
// they land (torrent::landed, take_turn, hash_landed, give_turn), driven
// the way torrent::store drives them, from two threads at once; and where a
// piece is placed in its buffer for O_DIRECT.
#include "swarm/torrent.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "storage/memory_storage.hpp"
#include "support/temp_dir.hpp"
#include "support/torrent.hpp"

namespace sta::swarm {
namespace {

struct lone_torrent {
  explicit lone_torrent(meta::metainfo meta) : m(std::move(meta)) {
    auto disk = std::make_shared<storage::memory_disk>(m.total_size);
    storage::open_params params;
    params.meta = &m;
    auto opened = storage::memory_factory(disk)(params);
    if (!opened) throw std::runtime_error(opened.error().message());
    const auto pieces = static_cast<std::size_t>(piece_geometry(m.total_size, m.piece_length).piece_count());
    t = std::make_unique<torrent>(m, std::move(opened->store), opened->have, bitfield(pieces, true), wire::peer_id{},
                                  0, limits{}, process);
  }
  meta::metainfo m;
  shared_limits process{8, 8, 0, 0};
  std::unique_ptr<torrent> t;
};

// What torrent::store does with a block, minus finishing the piece: the
// verdict, if this call's thread hashed the piece's last block.
std::optional<bool> land(torrent& t, piece_index p, std::uint32_t b, const std::byte* bytes, std::size_t size) {
  std::memcpy(t.buffer(p) + std::size_t{b} * kBlockSize, bytes, size);
  t.landed(p, b, 1);
  if (!t.take_turn(p)) return std::nullopt;
  do {
    if (const auto v = t.hash_landed(p, t.landed_ahead(p))) return v;
  } while (t.give_turn(p));
  return std::nullopt;
}

TEST(PieceHashing, BlocksLandingOnTwoThreadsInAnyOrderFinishEachPieceOnceAndFreshAfterItsBufferGoes) {
  // 32 full pieces of 8 blocks (the last one full too: nothing past it to read).
  constexpr std::size_t kPiece = 8 * kBlockSize, kPieces = 32;
  const std::string data = test::random_bytes(kPiece * kPieces, 31);
  std::string bad = data;
  bad[5 * kPiece + 3 * kBlockSize] ^= 1;  // piece 5, block 3
  lone_torrent lt(test::torrent_of("data.bin", data, kPiece));
  torrent& t = *lt.t;
  for (int round = 0; round < 20; ++round) {
    const std::string& bytes = round % 2 ? bad : data;
    std::vector<std::atomic<int>> finished(kPieces);
    std::vector<std::atomic<int>> passed(kPieces);
    // One thread lands the even blocks of every piece from the first piece
    // on, the other the odd blocks from the last piece back; each piece's
    // first or last block comes from either.
    auto lander = [&](std::uint32_t parity, bool backwards) {
      for (std::size_t i = 0; i < kPieces; ++i) {
        const std::size_t piece = backwards ? kPieces - 1 - i : i;
        const piece_index p = *t.geo().piece(piece);
        for (std::uint32_t b = parity; b < 8; b += 2) {
          const auto* at = reinterpret_cast<const std::byte*>(bytes.data()) + piece * kPiece + b * kBlockSize;
          if (const auto v = land(t, p, b, at, kBlockSize)) {
            finished[piece].fetch_add(1);
            if (*v) passed[piece].fetch_add(1);
          }
        }
      }
    };
    std::thread other(lander, 1u, true);
    lander(0, false);
    other.join();
    for (std::size_t piece = 0; piece < kPieces; ++piece) {
      ASSERT_EQ(finished[piece].load(), 1) << "round " << round << " piece " << piece;
      EXPECT_EQ(passed[piece].load(), round % 2 && piece == 5 ? 0 : 1) << "round " << round << " piece " << piece;
      t.drop_buffer(*t.geo().piece(piece));  // the next round starts each piece afresh
    }
  }
}

TEST(PieceHashing, APieceAcrossFilesSitsWhereItsLargestSliceLinesUpWithItsFile) {
  // 256 KiB pieces; piece 4 holds a.bin's last 77 bytes, then 256 KiB - 77 of b.bin.
  lone_torrent lt(test::multi_file_torrent("pack", {{{"a.bin"}, (1 << 20) + 77}, {{"b.bin"}, 2 << 20}}, 256 * 1024));
  torrent& t = *lt.t;
  const piece_index across = *t.geo().piece(4);
  std::byte* placed = t.buffer(across);
  EXPECT_EQ((reinterpret_cast<std::uintptr_t>(placed) + 77) % kPageSize, 0u);  // b.bin's offset 0 on a page
  // Within a.bin alone: at a page, as the file offset (1 MiB) is.
  const piece_index inside = *t.geo().piece(1);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.buffer(inside)) % kPageSize, 0u);
  // The shared buffer starts at the piece's first byte, wherever it sits.
  EXPECT_EQ(t.share_buffer(across).get(), placed);
  t.drop_buffer(inside);
  lone_torrent one(test::torrent_of("data.bin", std::string(512 * 1024, 'x'), 256 * 1024));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(one.t->buffer(*one.t->geo().piece(1))) % kPageSize, 0u);
}

}  // namespace
}  // namespace sta::swarm
