#include "swarm/torrent.hpp"

#include <algorithm>

namespace sta::swarm {

picker::geometry geometry_of(const meta::metainfo& m) {
  picker::geometry g;
  g.piece_count = static_cast<std::uint32_t>(m.piece_count());
  g.blocks_per_piece = static_cast<std::uint32_t>((m.piece_length + wire::kBlockSize - 1) / wire::kBlockSize);
  const std::int64_t last = g.piece_count == 0 ? 0 : m.piece_size(g.piece_count - 1);
  g.blocks_in_last_piece = static_cast<std::uint32_t>((last + wire::kBlockSize - 1) / wire::kBlockSize);
  return g;
}

torrent::torrent(const meta::metainfo& m, storage::file_set files, const bitfield& have, const wire::peer_id& self,
                 std::uint16_t listen_port, limits lim)
    : meta_(m),
      map_(m),
      files_(std::move(files)),
      picker_(geometry_of(m)),
      limits_(lim),
      self_(self),
      listen_port_(listen_port),
      piece_count_(static_cast<std::uint32_t>(m.piece_count())),
      blocks_per_piece_(geometry_of(m).blocks_per_piece),
      down_limiter_(lim.download_rate),
      up_limiter_(lim.upload_rate),
      buffers_(new std::atomic<std::byte*>[piece_count_]),
      written_(new std::atomic<std::uint32_t>[piece_count_]),
      senders_(new std::atomic<picker::owner_id>[std::size_t{piece_count_} * blocks_per_piece_]),
      log_(new std::atomic<std::uint32_t>[piece_count_]),
      slots_(new peer_slot[lim.max_peers]) {
  for (std::uint32_t p = 0; p < piece_count_; ++p) {
    buffers_[p].store(nullptr, std::memory_order_relaxed);
    written_[p].store(0, std::memory_order_relaxed);
    log_[p].store(0, std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < std::size_t{piece_count_} * blocks_per_piece_; ++i)
    senders_[i].store(0, std::memory_order_relaxed);
  for (std::uint32_t p = 0; p < piece_count_; ++p)
    if (p < have.size() && have.test(p)) picker_.mark_have(p);
}

torrent::~torrent() {
  for (std::uint32_t p = 0; p < piece_count_; ++p) delete[] buffers_[p].load(std::memory_order_relaxed);
}

std::uint32_t torrent::block_size(picker::block_ref b) const {
  const std::int64_t size = map_.piece_size(b.piece);
  const std::int64_t offset = std::int64_t{b.block} * wire::kBlockSize;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(wire::kBlockSize, size - offset));
}

std::int64_t torrent::have_bytes() const {
  const std::int64_t n = picker_.have_count();
  if (n == 0) return 0;
  if (n == piece_count_) return map_.total_size();
  // Exact unless the short last piece is among them; then off by less than
  // one piece, which a progress display does not notice.
  const bool last = picker_.have(piece_count_ - 1);
  return last ? (n - 1) * map_.piece_length() + map_.piece_size(piece_count_ - 1) : n * map_.piece_length();
}

std::byte* torrent::buffer(std::uint32_t piece) {
  std::byte* b = buffers_[piece].load(std::memory_order_acquire);
  if (b != nullptr) return b;
  auto fresh = std::make_unique<std::byte[]>(static_cast<std::size_t>(map_.piece_size(piece)));
  if (buffers_[piece].compare_exchange_strong(b, fresh.get(), std::memory_order_acq_rel)) return fresh.release();
  return b;  // another reactor installed one first
}

bool torrent::block_written(std::uint32_t piece) {
  const std::uint32_t blocks = picker_.blocks_in(piece);
  return written_[piece].fetch_add(1, std::memory_order_acq_rel) + 1 == blocks;
}

std::unique_ptr<std::byte[]> torrent::take_buffer(std::uint32_t piece) {
  std::unique_ptr<std::byte[]> b(buffers_[piece].exchange(nullptr, std::memory_order_acq_rel));
  written_[piece].store(0, std::memory_order_release);
  return b;
}

void torrent::set_sender(picker::block_ref b, picker::owner_id who) {
  senders_[std::size_t{b.piece} * blocks_per_piece_ + b.block].store(who, std::memory_order_relaxed);
}

std::vector<picker::owner_id> torrent::senders(std::uint32_t piece) const {
  std::vector<picker::owner_id> out;
  for (std::uint32_t i = 0; i < picker_.blocks_in(piece); ++i) {
    const auto who = senders_[std::size_t{piece} * blocks_per_piece_ + i].load(std::memory_order_relaxed);
    if (who != 0 && std::find(out.begin(), out.end(), who) == out.end()) out.push_back(who);
  }
  return out;
}

void torrent::log_verified(std::uint32_t piece) {
  const std::size_t i = log_reserved_.fetch_add(1, std::memory_order_relaxed);
  if (i < piece_count_) log_[i].store(piece + 1, std::memory_order_release);
}

std::optional<std::uint32_t> torrent::verified_at(std::size_t i) const {
  if (i >= piece_count_) return std::nullopt;
  const std::uint32_t v = log_[i].load(std::memory_order_acquire);
  if (v == 0) return std::nullopt;
  return v - 1;
}

std::size_t torrent::verified_published() const {
  std::size_t i = 0;
  while (verified_at(i)) ++i;
  return i;
}

peer_slot* torrent::claim_slot(const endpoint& addr, bool outgoing) {
  for (auto& s : slots()) {
    if (s.state.load(std::memory_order_acquire) != peer_slot::free) continue;
    s.addr = addr;
    s.outgoing = outgoing;
    s.peer_is_seed.store(false, std::memory_order_relaxed);
    s.peer_interested.store(false, std::memory_order_relaxed);
    s.snubbed.store(false, std::memory_order_relaxed);
    s.unchoke_wanted.store(false, std::memory_order_relaxed);
    s.banned.store(false, std::memory_order_relaxed);
    s.strikes.store(0, std::memory_order_relaxed);
    s.down_rate.store(0, std::memory_order_relaxed);
    s.up_rate.store(0, std::memory_order_relaxed);
    s.state.store(peer_slot::claimed, std::memory_order_release);
    return &s;
  }
  return nullptr;
}

void torrent::release_slot(peer_slot& s) {
  s.generation.fetch_add(1, std::memory_order_relaxed);
  s.state.store(peer_slot::free, std::memory_order_release);
}

void torrent::fail(std::string why) {
  if (failed_.exchange(true, std::memory_order_acq_rel)) return;
  error_ = std::move(why);
  error_ready_.store(true, std::memory_order_release);
  stopping.store(true, std::memory_order_release);
}

std::optional<std::string> torrent::error() const {
  if (!error_ready_.load(std::memory_order_acquire)) return std::nullopt;
  return error_;
}

}  // namespace sta::swarm
