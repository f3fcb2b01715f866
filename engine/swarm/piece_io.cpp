#include "swarm/piece_io.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "base/sha1.hpp"
#include "reactor/reactor_group.hpp"
#include "storage/block_cache.hpp"

namespace sta::swarm {
namespace {

// Consecutive missing blocks are read together, up to this many.
constexpr std::uint32_t kMaxRun = 16;
// A block is hashed right after it lands (received into its piece or
// copied there), while it is in this core's cache, if the blocks before it
// are in the hash already. When more
// landed blocks than this wait for the hash (they came out of order), the
// run is hashed on the torrent's least busy reactor instead, so that this
// one's sockets are not held up.
constexpr std::uint32_t kInlineBlocks = 4;

piece_verdict verdict_of(torrent& t, piece_index p, const std::byte* data, bool passed) {
  const piece_geometry& g = t.geo();
  piece_verdict v;
  v.piece = p.value();
  v.passed = passed;
  for (std::uint32_t i = 0; i < g.blocks_in(p); ++i) {
    const block_index b = *g.block(p, i);
    const picker::owner_id who = t.sender(p, b);
    v.blocks.push_back({i, who == 0 ? host_key{} : host_of(t.slot(who).addr),
                        sha1(std::span(data + b.offset(), g.block_size(p, b)))});
  }
  return v;
}

// A verified piece could not be read: it is not had until checked again.
void lost_piece(io::reactor& r, torrent& t, piece_index p, const detailed_error& e) {
  t.read_errors.fetch_add(1, std::memory_order_relaxed);
  storage::block_cache::for_this_thread().erase(t.uid(), p);
  if (!t.picker().on_lost(p.value(), t.wanted(p.value()))) return;  // another reactor is on it
  t.warn("cannot read piece " + std::to_string(p.value()) + ": " + e.message() + "; checking it again");
  r.spawn(recheck_piece(r, t, p, t.hold()));
}

io::task<void> hash_elsewhere(io::reactor& r, torrent& t, piece_index p, torrent::work_guard);

// With p's hashing turn: hashes what has landed, here or (a long run) on
// another reactor, and finishes the piece once its last block is in.
void hash_here(io::reactor& r, torrent& t, piece_index p) {
  do {
    const std::uint32_t ahead = t.landed_ahead(p);
    if (ahead > kInlineBlocks && t.hashers() != nullptr && !t.stopping()) {
      r.spawn(hash_elsewhere(r, t, p, t.hold()));
      return;
    }
    if (const auto matches = t.hash_landed(p, ahead)) {
      r.spawn(finish_piece(r, t, p, *matches, t.hold()));
      return;
    }
  } while (t.give_turn(p));
}

// With p's hashing turn, on r: hashes on the least busy reactor (another
// one on a tie) what has landed and lands while it runs, then comes back.
io::task<void> hash_elsewhere(io::reactor& r, torrent& t, piece_index p, torrent::work_guard) {
  std::optional<bool> matches;
  {
    const auto lease = t.hashers()->least_busy(r);
    const bool hop = &lease.target() != &r;
    if (hop) co_await io::switch_to(lease.target());
    do matches = t.hash_landed(p, t.landed_ahead(p));
    while (!matches && t.give_turn(p));
    if (hop) co_await io::switch_to(r);
  }
  if (matches) co_await finish_piece(r, t, p, *matches, t.hold());
}

}  // namespace

void torrent::store(io::reactor& r, const peer::block_in& b, picker::owner_id from) {
  std::byte* piece = buffer(b.piece);
  std::memcpy(piece + b.block.offset(), b.payload.data(), b.payload.size());
  if (!b.payload_tail.empty())
    std::memcpy(piece + b.block.offset() + b.payload.size(), b.payload_tail.data(), b.payload_tail.size());
  landed_in_place(r, b.piece, b.block, from);
}

void torrent::landed_in_place(io::reactor& r, piece_index p, block_index b, picker::owner_id from) {
  landed(p, b.value(), from);
  if (take_turn(p)) hash_here(r, *this, p);
}

io::task<void> torrent::serve(io::reactor& r, std::span<const peer::upload> batch, peer::send_list& frames,
                              std::vector<peer::upload>& failed) {
  storage::block_cache& cache = storage::block_cache::for_this_thread();
  // Every block the batch needs, found in the cache or read below; each
  // holds its bytes alive, so another connection's reads evicting them
  // from the cache while this one waits cannot pull them away.
  struct held {
    piece_index piece;
    std::uint32_t block;
    std::shared_ptr<const std::byte[]> owner;
    const std::byte* data = nullptr;  // the block's first byte; null: its read failed
  };
  std::vector<held> blocks;
  auto find = [&](piece_index p, std::uint32_t b) -> held* {
    for (auto& h : blocks)
      if (h.piece == p && h.block == b) return &h;
    return nullptr;
  };
  // Missing blocks, as runs of consecutive blocks of one piece.
  struct run {
    piece_index piece;
    std::uint32_t first;
    std::uint32_t count;
  };
  std::vector<run> runs;
  for (const peer::upload& u : batch) {
    for (std::uint32_t b = u.offset / kBlockSize; b <= (u.offset + u.length - 1) / kBlockSize; ++b) {
      if (find(u.piece, b)) continue;
      if (const auto hit = cache.find(uid_, u.piece, *geo_.block(u.piece, b))) {
        blocks.push_back({u.piece, b, hit->owner, hit->data});
        continue;
      }
      blocks.push_back({u.piece, b, nullptr, nullptr});
      if (!runs.empty() && runs.back().piece == u.piece && runs.back().first + runs.back().count == b &&
          runs.back().count < kMaxRun)
        ++runs.back().count;
      else
        runs.push_back({u.piece, b, 1});
    }
  }
  for (const run& x : runs) {
    const std::uint32_t offset = x.first * kBlockSize;
    const std::size_t size = std::min<std::size_t>(std::size_t{x.count} * kBlockSize, geo_.piece_size(x.piece) - offset);
    auto data = std::make_shared_for_overwrite<std::byte[]>(size);
    auto got = co_await store_->read(r, x.piece, offset, std::span(data.get(), size));
    if (!got) {
      lost_piece(r, *this, x.piece, got.error());
      continue;
    }
    for (std::uint32_t i = 0; i < x.count; ++i) {
      held* h = find(x.piece, x.first + i);
      h->owner = data;
      h->data = data.get() + std::size_t{i} * kBlockSize;
    }
    cache.insert(uid_, x.piece, *geo_.block(x.piece, x.first), x.count, std::move(data), size);
  }
  for (const peer::upload& u : batch) {
    const std::uint32_t end = u.offset + u.length;
    bool ok = true;
    for (std::uint32_t b = u.offset / kBlockSize; b <= (end - 1) / kBlockSize && ok; ++b) ok = find(u.piece, b)->data != nullptr;
    if (!ok) {
      failed.push_back(u);
      continue;
    }
    frames.append_own(wire::encode_piece_header(u.piece.value(), u.offset, u.length));
    for (std::uint32_t b = u.offset / kBlockSize; b <= (end - 1) / kBlockSize; ++b) {
      const held& h = *find(u.piece, b);
      const std::uint32_t from = std::max(u.offset, b * kBlockSize) - b * kBlockSize;
      const std::uint32_t to = std::min(end, (b + 1) * kBlockSize) - b * kBlockSize;
      frames.append_held(std::span(h.data + from, to - from), h.owner);
    }
  }
}

io::task<void> finish_piece(io::reactor& r, torrent& t, piece_index p, bool matches, torrent::work_guard) {
  const std::uint32_t size = t.geo().piece_size(p);
  const std::byte* data = t.buffer(p);
  if (!matches) {
    t.counters().wasted.fetch_add(size, std::memory_order_relaxed);
    t.hash_failures.fetch_add(1, std::memory_order_relaxed);
    piece_verdict v = verdict_of(t, p, data, false);
    // Blocks from several hosts: who was wrong shows when the piece passes
    // later, so that pass is compared block by block.
    if (std::any_of(v.blocks.begin(), v.blocks.end(), [&](const auto& b) { return b.host != v.blocks[0].host; }))
      t.mark_suspect(p);
    // Reported before the piece is free again, so the home reactor sees this
    // failure before any later pass of it.
    if (t.on_verdict) t.on_verdict(std::move(v));
    t.drop_buffer(p);
    t.picker().on_hash_failed(p.value());
    co_return;
  }
  if (auto w = co_await t.store().write(r, p, std::span(data, size)); !w) {
    // Stopping cancels writes: the piece simply stays unverified.
    if (!r.stopping()) t.fail("cannot write piece " + std::to_string(p.value()) + ": " + w.error().message());
    t.drop_buffer(p);
    co_return;
  }
  if (t.take_suspect(p) && t.on_verdict) t.on_verdict(verdict_of(t, p, data, true));
  t.picker().on_hash_passed(p.value());
  t.log_verified(p);
  // Kept to serve while some peer may ask for it soon: one we unchoke.
  // Otherwise (only seeds, say) its buffer goes back to the pool at once,
  // so the cache does not hold a pool's worth of buffers nobody reads.
  if (t.counters().unchoked.load(std::memory_order_relaxed) == 0) {
    t.drop_buffer(p);
    co_return;
  }
  storage::block_cache::for_this_thread().insert(t.uid(), p, *t.geo().block(p, 0), t.geo().blocks_in(p),
                                                 t.share_buffer(p), size);
}

io::task<void> recheck_piece(io::reactor& r, torrent& t, piece_index p, torrent::work_guard) {
  const std::uint32_t size = t.geo().piece_size(p);
  auto data = std::make_unique_for_overwrite<std::byte[]>(size);
  auto got = co_await t.store().read(r, p, 0, std::span(data.get(), size));
  const bool passed = got && sha1(std::span(data.get(), size)) == t.meta().piece_hash(p.value());
  t.picker().on_rechecked(p.value(), passed, t.wanted(p.value()));
  if (!passed) {
    t.counters().lost.fetch_add(1, std::memory_order_relaxed);
    t.warn("piece " + std::to_string(p.value()) + " no longer verifies" +
           (t.wanted(p.value()) ? "; downloading it again" : ""));
  }
}

}  // namespace sta::swarm
