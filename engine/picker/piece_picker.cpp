#include "picker/piece_picker.hpp"

#include <algorithm>
#include <bit>

namespace sta::picker {
namespace {

// The piece state word: kind in bits 16..18, owner (kClaimed only) in 0..15.
enum kind : std::uint32_t { kFree = 0, kClaimed = 1, kShared = 2, kComplete = 3, kHave = 4, kSkipped = 5, kChecking = 6 };

constexpr std::uint32_t make_state(kind k, owner_id owner = 0) { return (std::uint32_t{k} << 16) | owner; }
constexpr kind kind_of(std::uint32_t s) { return static_cast<kind>(s >> 16); }
constexpr owner_id owner_of(std::uint32_t s) { return static_cast<owner_id>(s & 0xffff); }

}  // namespace

struct piece_picker::impl {
  geometry g;
  std::uint32_t words_per_piece;
  std::unique_ptr<std::atomic<std::uint32_t>[]> state;
  std::unique_ptr<std::atomic<std::uint32_t>[]> avail;
  std::unique_ptr<std::atomic<std::uint32_t>[]> received_count;
  std::unique_ptr<std::atomic<std::uint64_t>[]> requested;  // words_per_piece per piece
  std::unique_ptr<std::atomic<std::uint64_t>[]> received;
  std::atomic<std::uint32_t> seeds{0};
  std::atomic<std::uint32_t> have_count{0};
  std::atomic<std::uint32_t> missing;  // wanted pieces not yet `have`
  std::atomic<bool> endgame{false};
  std::atomic<bool> sequential{false};
  // Each pick() draws one value from this picker's own sequence and runs a
  // local generator from it: seeded per picker, one atomic add per pick.
  std::atomic<std::uint64_t> next_stream;

  explicit impl(geometry geo, std::uint64_t s)
      : g(geo),
        words_per_piece((geo.blocks_per_piece + 63) / 64),
        state(new std::atomic<std::uint32_t>[geo.piece_count]),
        avail(new std::atomic<std::uint32_t>[geo.piece_count]),
        received_count(new std::atomic<std::uint32_t>[geo.piece_count]),
        requested(new std::atomic<std::uint64_t>[std::size_t{geo.piece_count} * words_per_piece]),
        received(new std::atomic<std::uint64_t>[std::size_t{geo.piece_count} * words_per_piece]),
        missing(geo.piece_count),
        next_stream(s) {
    for (std::uint32_t p = 0; p < g.piece_count; ++p) {
      state[p].store(make_state(kFree), std::memory_order_relaxed);
      avail[p].store(0, std::memory_order_relaxed);
      received_count[p].store(0, std::memory_order_relaxed);
    }
    for (std::size_t i = 0; i < std::size_t{g.piece_count} * words_per_piece; ++i) {
      requested[i].store(0, std::memory_order_relaxed);
      received[i].store(0, std::memory_order_relaxed);
    }
  }

  std::uint32_t blocks_in(std::uint32_t p) const {
    return p + 1 == g.piece_count ? g.blocks_in_last_piece : g.blocks_per_piece;
  }
  std::atomic<std::uint64_t>& req_word(std::uint32_t p, std::uint32_t w) {
    return requested[std::size_t{p} * words_per_piece + w];
  }
  std::atomic<std::uint64_t>& recv_word(std::uint32_t p, std::uint32_t w) {
    return received[std::size_t{p} * words_per_piece + w];
  }
  // The bits of word w that are blocks of piece p.
  std::uint64_t valid_mask(std::uint32_t p, std::uint32_t w) const {
    const std::uint32_t blocks = blocks_in(p);
    const std::uint32_t first = w * 64;
    if (first >= blocks) return 0;
    const std::uint32_t n = std::min(64u, blocks - first);
    return n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
  }

  // A generator for one pick(): splitmix64 of the picker's next stream
  // number seeds a xorshift64*.
  struct rng {
    std::uint64_t x;
    std::uint64_t operator()() {
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      return x * 0x2545F4914F6CDD1Dull;
    }
  };
  rng stream() {
    std::uint64_t z = next_stream.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return rng{(z ^ (z >> 31)) | 1};
  }

  // Marks up to `max` unrequested, unreceived blocks of p requested and
  // appends them. Lock-free: a CAS per 64-block word.
  std::size_t take_blocks(std::uint32_t p, std::size_t max, std::vector<block_ref>& out) {
    std::size_t n = 0;
    for (std::uint32_t w = 0; w < words_per_piece && n < max; ++w) {
      const std::uint64_t valid = valid_mask(p, w);
      std::uint64_t cur = req_word(p, w).load(std::memory_order_relaxed);
      for (;;) {
        std::uint64_t avail_bits = ~(cur | recv_word(p, w).load(std::memory_order_relaxed)) & valid;
        if (avail_bits == 0) break;
        std::uint64_t take = 0;
        std::size_t k = 0;
        while (avail_bits != 0 && n + k < max) {
          const std::uint64_t low = avail_bits & (~avail_bits + 1);
          take |= low;
          avail_bits &= avail_bits - 1;
          ++k;
        }
        if (req_word(p, w).compare_exchange_weak(cur, cur | take, std::memory_order_acq_rel)) {
          for (std::uint64_t t = take; t != 0; t &= t - 1)
            out.push_back({p, w * 64 + static_cast<std::uint32_t>(std::countr_zero(t))});
          n += k;
          break;
        }
      }
    }
    return n;
  }

  // Starts piece p for `owner` if it is free (claimed alone, or shared);
  // whether `owner` may now take blocks of it: it started it, it was
  // started shared meanwhile, or `owner` had claimed it already.
  bool start(std::uint32_t p, owner_id owner, bool whole_piece) {
    std::uint32_t st = make_state(kFree);
    const std::uint32_t next = whole_piece ? make_state(kClaimed, owner) : make_state(kShared);
    if (state[p].compare_exchange_strong(st, next, std::memory_order_acq_rel)) return true;
    return kind_of(st) == kShared || (kind_of(st) == kClaimed && owner_of(st) == owner);
  }

  // Every block of p unrequested and unreceived, then p becomes `k`; the
  // release publishes the cleared bits to whoever sees the new state. The
  // received bits are released themselves too: a copy of a block that was
  // still on its way (endgame) is accepted by on_block's acq_rel fetch_or,
  // which must then see everything done before (the piece's buffer and
  // hashing state reset by the torrent).
  void clear(std::uint32_t p, kind k) {
    for (std::uint32_t w = 0; w < words_per_piece; ++w) {
      recv_word(p, w).store(0, std::memory_order_release);
      req_word(p, w).store(0, std::memory_order_relaxed);
    }
    received_count[p].store(0, std::memory_order_relaxed);
    state[p].store(make_state(k), std::memory_order_release);
  }

  bool peer_has(const bitfield* has, std::uint32_t p) const { return has == nullptr || (p < has->size() && has->test(p)); }
};

piece_picker::piece_picker(geometry g, std::uint64_t seed) : impl_(std::make_unique<impl>(g, seed)) {}
piece_picker::~piece_picker() = default;

std::uint32_t piece_picker::piece_count() const { return impl_->g.piece_count; }
std::uint32_t piece_picker::blocks_in(std::uint32_t piece) const { return impl_->blocks_in(piece); }

void piece_picker::add_peer(const bitfield& has) {
  for (std::uint32_t p = 0; p < impl_->g.piece_count && p < has.size(); ++p)
    if (has.test(p)) impl_->avail[p].fetch_add(1, std::memory_order_relaxed);
}
void piece_picker::remove_peer(const bitfield& has) {
  for (std::uint32_t p = 0; p < impl_->g.piece_count && p < has.size(); ++p)
    if (has.test(p)) impl_->avail[p].fetch_sub(1, std::memory_order_relaxed);
}
void piece_picker::add_have(std::uint32_t piece) { impl_->avail[piece].fetch_add(1, std::memory_order_relaxed); }
void piece_picker::remove_have(std::uint32_t piece) { impl_->avail[piece].fetch_sub(1, std::memory_order_relaxed); }
void piece_picker::add_seed() { impl_->seeds.fetch_add(1, std::memory_order_relaxed); }
void piece_picker::remove_seed() { impl_->seeds.fetch_sub(1, std::memory_order_relaxed); }
std::uint32_t piece_picker::availability(std::uint32_t piece) const {
  return impl_->avail[piece].load(std::memory_order_relaxed) + impl_->seeds.load(std::memory_order_relaxed);
}

bool piece_picker::have(std::uint32_t piece) const {
  return kind_of(impl_->state[piece].load(std::memory_order_acquire)) == kHave;
}
std::uint32_t piece_picker::have_count() const { return impl_->have_count.load(std::memory_order_acquire); }

bitfield piece_picker::have_bits() const {
  bitfield b(impl_->g.piece_count);
  for (std::uint32_t p = 0; p < impl_->g.piece_count; ++p)
    if (have(p)) b.set(p);
  return b;
}

void piece_picker::mark_have(std::uint32_t piece) {
  const std::uint32_t before = impl_->state[piece].exchange(make_state(kHave), std::memory_order_acq_rel);
  if (before == make_state(kHave)) return;
  if (before != make_state(kSkipped)) impl_->missing.fetch_sub(1, std::memory_order_acq_rel);
  impl_->have_count.fetch_add(1, std::memory_order_acq_rel);
}

void piece_picker::skip(std::uint32_t piece) {
  std::uint32_t expected = make_state(kFree);
  if (impl_->state[piece].compare_exchange_strong(expected, make_state(kSkipped), std::memory_order_acq_rel))
    impl_->missing.fetch_sub(1, std::memory_order_acq_rel);
}

bool piece_picker::wanted(std::uint32_t piece) const {
  const kind k = kind_of(impl_->state[piece].load(std::memory_order_acquire));
  return k != kSkipped && k != kHave;
}

bool piece_picker::in_progress(std::uint32_t piece) const {
  const kind k = kind_of(impl_->state[piece].load(std::memory_order_acquire));
  return k == kClaimed || k == kShared || k == kComplete || k == kChecking;
}

bool piece_picker::skipped(std::uint32_t piece) const {
  return kind_of(impl_->state[piece].load(std::memory_order_acquire)) == kSkipped;
}

bool piece_picker::complete() const { return impl_->missing.load(std::memory_order_acquire) == 0; }

void piece_picker::set_sequential(bool on) { impl_->sequential.store(on, std::memory_order_relaxed); }

std::size_t piece_picker::pick(const bitfield* has, owner_id owner, bool whole_piece, std::size_t max,
                               std::span<const block_ref> in_flight, std::vector<block_ref>& out) {
  impl& m = *impl_;
  std::size_t n = 0;
  if (max == 0) return 0;

  // 1. Pieces this peer claimed, then shared pieces already started: finish
  //    what is begun before starting more (rarest of those first).
  struct candidate {
    std::uint32_t availability;
    std::uint64_t tie;
    std::uint32_t piece;
  };
  std::vector<candidate> partial;
  std::vector<candidate> fresh;
  const bool sequential = m.sequential.load(std::memory_order_relaxed);
  impl::rng random = m.stream();
  for (std::uint32_t p = 0; p < m.g.piece_count; ++p) {
    if (!m.peer_has(has, p)) continue;
    const std::uint32_t st = m.state[p].load(std::memory_order_acquire);
    const kind k = kind_of(st);
    if (k == kClaimed && owner_of(st) == owner) {
      n += m.take_blocks(p, max - n, out);
      if (n == max) return n;
    } else if (k == kShared) {
      partial.push_back({availability(p), sequential ? p : random(), p});
    } else if (k == kFree) {
      fresh.push_back({availability(p), sequential ? p : random(), p});
    }
  }
  auto rarer = [sequential](const candidate& a, const candidate& b) {
    if (sequential) return a.piece < b.piece;
    return a.availability != b.availability ? a.availability < b.availability : a.tie < b.tie;
  };
  std::sort(partial.begin(), partial.end(), rarer);
  for (const auto& c : partial) {
    n += m.take_blocks(c.piece, max - n, out);
    if (n == max) return n;
  }

  // 2. New pieces, rarest first with a random tie-break (or in order).
  std::sort(fresh.begin(), fresh.end(), rarer);
  for (const auto& c : fresh) {
    if (!m.start(c.piece, owner, whole_piece)) continue;  // someone else claimed it meanwhile
    n += m.take_blocks(c.piece, max - n, out);
    if (n == max) return n;
  }
  if (n > 0) return n;

  // 3. Endgame: nothing unrequested is left that this peer has; ask it for
  //    blocks others are already fetching, except those it has in flight.
  for (std::uint32_t p = 0; p < m.g.piece_count && n < max; ++p) {
    if (!m.peer_has(has, p)) continue;
    const kind k = kind_of(m.state[p].load(std::memory_order_acquire));
    if (k != kClaimed && k != kShared) continue;
    for (std::uint32_t w = 0; w < m.words_per_piece && n < max; ++w) {
      std::uint64_t bits = m.req_word(p, w).load(std::memory_order_acquire) &
                           ~m.recv_word(p, w).load(std::memory_order_acquire) & m.valid_mask(p, w);
      for (; bits != 0 && n < max; bits &= bits - 1) {
        const block_ref b{p, w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits))};
        if (std::find(in_flight.begin(), in_flight.end(), b) != in_flight.end()) continue;
        out.push_back(b);
        ++n;
      }
    }
  }
  if (n > 0) m.endgame.store(true, std::memory_order_relaxed);
  return n;
}

std::size_t piece_picker::pick_from(std::span<const std::uint32_t> pieces, owner_id owner, bool whole_piece,
                                    std::size_t max, std::vector<block_ref>& out) {
  impl& m = *impl_;
  std::size_t n = 0;
  for (std::uint32_t p : pieces) {
    if (n == max) break;
    if (p < m.g.piece_count && m.start(p, owner, whole_piece)) n += m.take_blocks(p, max - n, out);
  }
  return n;
}

bool piece_picker::in_endgame() const { return impl_->endgame.load(std::memory_order_relaxed); }

piece_picker::receipt piece_picker::on_block(block_ref b) {
  return reserve(b) ? land(b) : receipt::duplicate;
}

bool piece_picker::reserve(block_ref b) {
  impl& m = *impl_;
  const std::uint64_t bit = std::uint64_t{1} << (b.block % 64);
  const std::uint32_t w = b.block / 64;
  if (m.recv_word(b.piece, w).fetch_or(bit, std::memory_order_acq_rel) & bit) return false;
  // A copy can land after its request was aborted: it counts as requested.
  m.req_word(b.piece, w).fetch_or(bit, std::memory_order_acq_rel);
  return true;
}

piece_picker::receipt piece_picker::land(block_ref b) {
  impl& m = *impl_;
  if (m.received_count[b.piece].fetch_add(1, std::memory_order_acq_rel) + 1 < m.blocks_in(b.piece))
    return receipt::accepted;
  // The last block: whatever the claim was, the piece is now complete.
  m.state[b.piece].store(make_state(kComplete), std::memory_order_release);
  return receipt::piece_complete;
}

void piece_picker::unreserve(block_ref b) {
  impl& m = *impl_;
  const std::uint64_t bit = std::uint64_t{1} << (b.block % 64);
  m.recv_word(b.piece, b.block / 64).fetch_and(~bit, std::memory_order_acq_rel);
}

bool piece_picker::received(block_ref b) const {
  const std::uint64_t bit = std::uint64_t{1} << (b.block % 64);
  return (impl_->recv_word(b.piece, b.block / 64).load(std::memory_order_acquire) & bit) != 0;
}

void piece_picker::on_abort(block_ref b) {
  impl& m = *impl_;
  const std::uint64_t bit = std::uint64_t{1} << (b.block % 64);
  const std::uint32_t w = b.block / 64;
  if (m.recv_word(b.piece, w).load(std::memory_order_acquire) & bit) return;
  m.req_word(b.piece, w).fetch_and(~bit, std::memory_order_acq_rel);
}

void piece_picker::release_owner(owner_id owner) {
  for (std::uint32_t p = 0; p < impl_->g.piece_count; ++p) release_claim(p, owner);
}

void piece_picker::release_claim(std::uint32_t piece, owner_id owner) {
  std::uint32_t expected = make_state(kClaimed, owner);
  impl_->state[piece].compare_exchange_strong(expected, make_state(kShared), std::memory_order_acq_rel);
}

bool piece_picker::claimed_by(std::uint32_t piece, owner_id owner) const {
  return impl_->state[piece].load(std::memory_order_acquire) == make_state(kClaimed, owner);
}

void piece_picker::on_hash_passed(std::uint32_t piece) {
  impl_->state[piece].store(make_state(kHave), std::memory_order_release);
  impl_->missing.fetch_sub(1, std::memory_order_acq_rel);
  impl_->have_count.fetch_add(1, std::memory_order_acq_rel);
}

bool piece_picker::on_lost(std::uint32_t piece, bool wanted) {
  std::uint32_t expected = make_state(kHave);
  if (!impl_->state[piece].compare_exchange_strong(expected, make_state(kChecking), std::memory_order_acq_rel))
    return false;
  impl_->have_count.fetch_sub(1, std::memory_order_acq_rel);
  if (wanted) impl_->missing.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

void piece_picker::on_rechecked(std::uint32_t piece, bool passed, bool wanted) {
  impl& m = *impl_;
  if (passed) {
    if (wanted) m.missing.fetch_sub(1, std::memory_order_acq_rel);
    m.have_count.fetch_add(1, std::memory_order_acq_rel);
    m.state[piece].store(make_state(kHave), std::memory_order_release);
    return;
  }
  m.clear(piece, wanted ? kFree : kSkipped);
}

void piece_picker::on_hash_failed(std::uint32_t piece) { impl_->clear(piece, kFree); }

}  // namespace sta::picker
