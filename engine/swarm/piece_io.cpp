#include "swarm/piece_io.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "base/sha1.hpp"
#include "reactor/ops.hpp"

namespace sta::swarm {
namespace {

constexpr std::size_t kCachedPieces = 16;

// Pieces this reactor read or verified recently, least recently used
// evicted. Keyed by torrent address: a torrent outlives the reactor threads
// that serve it, and this cache dies with its thread.
class piece_cache {
 public:
  const std::byte* find(const torrent* t, std::uint32_t piece) {
    for (auto& e : entries_) {
      if (e.owner == t && e.piece == piece) {
        e.used = ++clock_;
        return e.data.get();
      }
    }
    return nullptr;
  }

  const std::byte* insert(const torrent* t, std::uint32_t piece, std::unique_ptr<std::byte[]> data) {
    if (const std::byte* existing = find(t, piece)) return existing;
    if (entries_.size() >= kCachedPieces) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                     [](const entry& a, const entry& b) { return a.used < b.used; });
      entries_.erase(oldest);
    }
    entries_.push_back({t, piece, std::move(data), ++clock_});
    return entries_.back().data.get();
  }

 private:
  struct entry {
    const torrent* owner;
    std::uint32_t piece;
    std::unique_ptr<std::byte[]> data;
    std::uint64_t used;
  };
  std::vector<entry> entries_;
  std::uint64_t clock_ = 0;
};

thread_local piece_cache cache;

}  // namespace

const std::byte* cached_piece(const torrent& t, std::uint32_t piece) { return cache.find(&t, piece); }

io::task<result<const std::byte*>> read_piece(io::reactor& r, const torrent& t, std::uint32_t piece) {
  const auto size = static_cast<std::size_t>(t.map().piece_size(piece));
  auto data = std::make_unique<std::byte[]>(size);
  std::size_t at = 0;
  for (const auto& s : t.map().piece_slices(piece)) {
    const storage::location where = t.files().locate(s);
    auto dest = std::span(data.get() + at, static_cast<std::size_t>(s.length));
    if (where.fd < 0) {
      std::fill(dest.begin(), dest.end(), std::byte{0});  // BEP 47 padding
    } else {
      std::size_t done = 0;
      while (done < dest.size()) {
        auto n = co_await io::read(r, where.fd, dest.subspan(done), static_cast<std::uint64_t>(where.offset) + done);
        if (!n) co_return n.error();
        if (*n == 0) co_return make_error_code(errc::file_wrong_size);  // truncated under us
        done += *n;
      }
    }
    at += dest.size();
  }
  co_return cache.insert(&t, piece, std::move(data));
}

io::task<void> finish_piece(io::reactor& r, torrent& t, std::uint32_t piece) {
  const auto size = static_cast<std::size_t>(t.map().piece_size(piece));
  const std::byte* data = t.buffer(piece);
  if (sha1(std::span(data, size)) != t.meta().piece_hash(piece)) {
    t.wasted.fetch_add(static_cast<std::int64_t>(size), std::memory_order_relaxed);
    t.hash_failures.fetch_add(1, std::memory_order_relaxed);
    for (picker::owner_id who : t.senders(piece)) {
      peer_slot& s = t.slot(who);
      if (s.strikes.fetch_add(1, std::memory_order_relaxed) + 1 >= t.lim().strikes_to_ban)
        s.banned.store(true, std::memory_order_relaxed);
    }
    t.reset_piece(piece);
    t.picker().on_hash_failed(piece);
    co_return;
  }
  std::size_t at = 0;
  for (const auto& s : t.map().piece_slices(piece)) {
    const storage::location where = t.files().locate(s);
    const auto src = std::span(data + at, static_cast<std::size_t>(s.length));
    at += src.size();
    if (where.fd < 0) continue;
    std::size_t done = 0;
    while (done < src.size()) {
      auto n = co_await io::write(r, where.fd, src.subspan(done), static_cast<std::uint64_t>(where.offset) + done);
      if (!n || *n == 0) {
        // Stopping cancels writes: the piece simply stays unverified.
        if (!r.stopping())
          t.fail("cannot write " + (t.files().in_parts(s.file) ? std::string("the parts file") : t.meta().relative_path(s.file)) + ": " +
                 (n ? std::string("no progress") : n.error().message()));
        co_return;
      }
      done += *n;
    }
  }
  t.picker().on_hash_passed(piece);
  t.log_verified(piece);
  cache.insert(&t, piece, t.take_buffer(piece));
}

}  // namespace sta::swarm
