#include "swarm/torrent.hpp"

#include <algorithm>
#include <random>

#include "reactor/reactor_group.hpp"

namespace sta::swarm {
namespace {

std::atomic<std::uint64_t> next_uid{1};

// A thread's hashers between pieces: one is taken when a piece's first
// block is hashed and kept (up to this many) when its hash is done.
constexpr std::size_t kSpareHashers = 16;
std::vector<std::unique_ptr<sha1_hasher>>& spare_hashers() {
  thread_local std::vector<std::unique_ptr<sha1_hasher>> pool;
  return pool;
}

std::unique_ptr<sha1_hasher> take_hasher() {
  auto& pool = spare_hashers();
  if (pool.empty()) return std::make_unique<sha1_hasher>();
  auto h = std::move(pool.back());
  pool.pop_back();
  return h;
}

}  // namespace

torrent::torrent(const meta::metainfo& m, std::unique_ptr<storage::storage> store, const bitfield& have,
                 const bitfield& wanted, const wire::peer_id& self, std::uint16_t listen_port, limits lim,
                 shared_limits& process)
    : meta_(m),
      geo_(m.total_size, m.piece_length),
      store_(std::move(store)),
      wanted_(wanted),
      picker_(picker::geometry::of(geo_), std::random_device{}()),
      log_(geo_.piece_count()),
      limits_(lim),
      self_(self),
      listen_port_(listen_port),
      uid_(next_uid.fetch_add(1, std::memory_order_relaxed)),
      blocks_per_piece_(geo_.blocks_per_piece()),
      down_limiter_(lim.download_rate),
      up_limiter_(lim.upload_rate),
      process_(process),
      buffers_(new std::atomic<std::byte*>[geo_.piece_count()]),
      hashed_(new std::atomic<std::uint32_t>[geo_.piece_count()]),
      turn_(new std::atomic<bool>[geo_.piece_count()]),
      partial_(new std::unique_ptr<sha1_hasher>[geo_.piece_count()]),
      senders_(new std::atomic<picker::owner_id>[std::size_t{geo_.piece_count()} * blocks_per_piece_]),
      suspect_(new std::atomic<bool>[geo_.piece_count()]),
      slots_(process.max_connections),
      max_peers_(lim.max_peers) {
  if (m.files.size() > 1) {
    files_.emplace(m);
    buffer_extra_ = kPageSize;
  }
  for (std::uint32_t p = 0; p < geo_.piece_count(); ++p) {
    buffers_[p].store(nullptr, std::memory_order_relaxed);
    hashed_[p].store(0, std::memory_order_relaxed);
    turn_[p].store(false, std::memory_order_relaxed);
    suspect_[p].store(false, std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < std::size_t{geo_.piece_count()} * blocks_per_piece_; ++i)
    senders_[i].store(0, std::memory_order_relaxed);
  for (std::uint32_t p = 0; p < geo_.piece_count(); ++p) {
    if (!wanted_.test(p)) picker_.skip(p);
    if (p < have.size() && have.test(p)) picker_.mark_have(p);
  }
}

torrent::~torrent() {
  for (std::uint32_t p = 0; p < geo_.piece_count(); ++p) {
    std::byte* b = buffers_[p].load(std::memory_order_relaxed);
    if (b != nullptr) page_free{}(allocation_of(b));
  }
}

std::int64_t torrent::have_bytes() const {
  const std::int64_t n = picker_.have_count();
  if (n == 0) return 0;
  if (n == geo_.piece_count()) return geo_.total_size();
  // Exact unless the short last piece is among them; then off by less than
  // one piece, which a progress display does not notice.
  const piece_index last = *geo_.piece(geo_.piece_count() - 1);
  return picker_.have(last.value()) ? (n - 1) * std::int64_t{geo_.piece_length()} + geo_.piece_size(last)
                                    : n * std::int64_t{geo_.piece_length()};
}

std::size_t torrent::buffer_shift(piece_index p) const {
  if (!files_) return 0;
  std::int64_t at = 0, largest = 0;
  std::size_t shift = 0;
  files_->for_each_slice(p.value(), 0, geo_.piece_size(p), [&](const meta::file_slice& s) {
    if (!meta_.files[s.file].pad && s.length > largest) {
      largest = s.length;
      const auto page = static_cast<std::int64_t>(kPageSize);
      shift = static_cast<std::size_t>(((s.offset - at) % page + page) % page);
    }
    at += s.length;
  });
  return shift;
}

std::byte* torrent::buffer(piece_index p) {
  std::byte* b = buffers_[p.value()].load(std::memory_order_acquire);
  if (b != nullptr) return b;
  auto fresh = page_pool::for_this_thread().take_for_write(geo_.piece_size(p) + buffer_extra_);
  std::byte* placed = fresh.get() + buffer_shift(p);
  if (buffers_[p.value()].compare_exchange_strong(b, placed, std::memory_order_acq_rel)) {
    fresh.release();
    return placed;
  }
  page_pool::for_this_thread().give(std::move(fresh), geo_.piece_size(p) + buffer_extra_);
  return b;  // another reactor installed one first
}

// The block's bytes are published by the store to its sender (seq_cst,
// like the turn's exchange and store): a thread that lands a block and
// finds the turn taken, and the holder that gives the turn back and then
// looks at the next block, cannot both miss the other.
void torrent::landed(piece_index p, std::uint32_t b, picker::owner_id from) {
  senders_[std::size_t{p.value()} * blocks_per_piece_ + b].store(from, std::memory_order_seq_cst);
}

bool torrent::take_turn(piece_index p) { return !turn_[p.value()].exchange(true, std::memory_order_seq_cst); }

std::uint32_t torrent::landed_ahead(piece_index p) const {
  const std::uint32_t from = hashed_[p.value()].load(std::memory_order_relaxed);
  const std::uint32_t end = geo_.blocks_in(p);
  const std::size_t base = std::size_t{p.value()} * blocks_per_piece_;
  std::uint32_t b = from;
  while (b < end && senders_[base + b].load(std::memory_order_seq_cst) != 0) ++b;
  return b - from;
}

std::optional<bool> torrent::hash_landed(piece_index p, std::uint32_t ahead) {
  const std::uint32_t from = hashed_[p.value()].load(std::memory_order_relaxed);
  const std::uint32_t to = from + ahead;
  auto& h = partial_[p.value()];
  if (to > from) {
    if (!h) h = take_hasher();
    const std::byte* data = buffers_[p.value()].load(std::memory_order_acquire);
    const std::size_t begin = std::size_t{from} * kBlockSize;
    const std::size_t end = std::min<std::size_t>(std::size_t{to} * kBlockSize, geo_.piece_size(p));
    h->update(std::span(data + begin, end - begin));
    hashed_[p.value()].store(to, std::memory_order_relaxed);
  }
  if (to < geo_.blocks_in(p)) return std::nullopt;
  const bool matches = h->finish() == meta_.piece_hash(p.value());
  auto& pool = spare_hashers();
  if (pool.size() < kSpareHashers) pool.push_back(std::move(h));
  h.reset();
  return matches;
}

bool torrent::give_turn(piece_index p) {
  turn_[p.value()].store(false, std::memory_order_seq_cst);
  // Another thread may have taken the turn since, even hashed the rest.
  const std::uint32_t next = hashed_[p.value()].load(std::memory_order_relaxed);
  if (next >= geo_.blocks_in(p)) return false;
  if (senders_[std::size_t{p.value()} * blocks_per_piece_ + next].load(std::memory_order_seq_cst) == 0) return false;
  return take_turn(p);
}

page_buffer torrent::take_buffer(piece_index p) {
  page_buffer b(allocation_of(buffers_[p.value()].exchange(nullptr, std::memory_order_acq_rel)));
  const std::size_t base = std::size_t{p.value()} * blocks_per_piece_;
  for (std::uint32_t i = 0; i < geo_.blocks_in(p); ++i) senders_[base + i].store(0, std::memory_order_relaxed);
  partial_[p.value()].reset();
  hashed_[p.value()].store(0, std::memory_order_relaxed);
  turn_[p.value()].store(false, std::memory_order_release);
  return b;
}

void torrent::drop_buffer(piece_index p) {
  page_pool::for_this_thread().give(take_buffer(p), geo_.piece_size(p) + buffer_extra_);
}

std::shared_ptr<const std::byte[]> torrent::share_buffer(piece_index p) {
  const std::byte* placed = buffers_[p.value()].load(std::memory_order_acquire);
  auto owner = page_pool::share(take_buffer(p), geo_.piece_size(p) + buffer_extra_);
  return {owner, placed};
}

picker::owner_id torrent::sender(piece_index p, block_index b) const {
  return senders_[std::size_t{p.value()} * blocks_per_piece_ + b.value()].load(std::memory_order_relaxed);
}

peer::peer_slot* torrent::claim_slot(const endpoint& addr, bool outgoing) {
  peer::peer_slot* found = slots_.find_free(max_peers());
  if (found == nullptr) return nullptr;
  peer::peer_slot& s = *found;
  s.addr = addr;
  s.outgoing = outgoing;
  s.has_id = false;
  s.has_client.store(false, std::memory_order_relaxed);
  s.peer_is_seed.store(false, std::memory_order_relaxed);
  s.peer_interested.store(false, std::memory_order_relaxed);
  s.snubbed.store(false, std::memory_order_relaxed);
  s.unchoke_wanted.store(false, std::memory_order_relaxed);
  s.banned.store(false, std::memory_order_relaxed);
  s.dropped.store(false, std::memory_order_relaxed);
  s.down_rate.store(0, std::memory_order_relaxed);
  s.up_rate.store(0, std::memory_order_relaxed);
  s.am_choking.store(true, std::memory_order_relaxed);
  s.am_interested.store(false, std::memory_order_relaxed);
  s.peer_choking.store(true, std::memory_order_relaxed);
  s.peer_pieces.store(0, std::memory_order_relaxed);
  s.listen_port.store(0, std::memory_order_relaxed);
  s.state.store(peer::peer_slot::claimed, std::memory_order_release);
  process_.connections.fetch_add(1, std::memory_order_relaxed);
  return &s;
}

void torrent::release_slot(peer::peer_slot& s) {
  s.generation.fetch_add(1, std::memory_order_relaxed);
  s.state.store(peer::peer_slot::free, std::memory_order_release);
  process_.connections.fetch_sub(1, std::memory_order_relaxed);
}

void torrent::stop() {
  stopping_.store(true, std::memory_order_release);
  if (hashers_ == nullptr) return;
  // Only compared with each connection's torrent, never followed: a
  // torrent freed meanwhile matches no connection that is stopping.
  const peer::torrent_io* self = this;
  for (unsigned i = 0; i < hashers_->size(); ++i) hashers_->at(i).post([self] { peer::wake_stopping(self); });
}

void torrent::fail(std::string why) {
  if (failed_.exchange(true, std::memory_order_acq_rel)) return;
  error_ = std::move(why);
  error_ready_.store(true, std::memory_order_release);
  stop();
}

std::optional<std::string> torrent::error() const {
  if (!error_ready_.load(std::memory_order_acquire)) return std::nullopt;
  return error_;
}

void torrent::warn(std::string what) {
  constexpr std::size_t kKept = 32;
  std::lock_guard lock(warning_mutex_);
  recent_warnings_.emplace_back(++warnings_, std::move(what));
  if (recent_warnings_.size() > kKept) recent_warnings_.pop_front();
}

std::uint64_t torrent::warnings() const {
  std::lock_guard lock(warning_mutex_);
  return warnings_;
}

std::vector<std::pair<std::uint64_t, std::string>> torrent::warnings_since(std::uint64_t after) const {
  std::lock_guard lock(warning_mutex_);
  std::vector<std::pair<std::uint64_t, std::string>> out;
  for (const auto& w : recent_warnings_)
    if (w.first > after) out.push_back(w);
  return out;
}

}  // namespace sta::swarm
