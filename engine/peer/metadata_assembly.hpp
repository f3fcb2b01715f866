// metadata_assembly: fetching a magnet link's info dictionary from peers
// (BEP 9), as pure state. The connections of a torrent that is fetching
// metadata share one; each is a `source` (a number the fetcher gives it)
// and tells it what its peer said: the size its extended handshake gave,
// each 'data' and 'reject', and when it is gone. It answers which piece
// to ask a source for next, at most kMaxInFlight per source, none for a
// source that rejected lately or is distrusted.
//
// The size comes from the first source that offers a valid one (1 byte to
// ut_metadata::kMaxSize); only sources that offered that size are asked.
// A 'data' whose total_size or length differs from what its own source's
// handshake said is a lie: that source is distrusted. A source that
// rejects, or leaves a request unanswered for kRequestTimeout, is not
// asked for kRejectBackoff; when no source of the size in use can be
// asked, the assembly starts again with the size of one that can. When
// all pieces are in, their SHA-1 must be the info-hash; if not, the bytes
// are discarded, every source that sent a piece (and the one whose size
// was used) is distrusted, and the assembly starts again.
//
// No I/O, no threads: the torrent's home reactor only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/sha1.hpp"
#include "wire/ut_metadata.hpp"

namespace sta::peer {

class metadata_assembly {
 public:
  using clock = std::chrono::steady_clock;
  using source = std::uint32_t;
  static constexpr std::size_t kMaxInFlight = 2;
  static constexpr auto kRequestTimeout = std::chrono::seconds(20);
  static constexpr auto kRejectBackoff = std::chrono::seconds(30);

  explicit metadata_assembly(sha1_digest info_hash) : info_hash_(info_hash) {}

  // The source's extended handshake: its metadata_size (nullopt: none).
  // False when it will not be asked (no size, 0, too large, distrusted).
  bool offer(source s, std::optional<std::int64_t> size);

  // The next piece to ask `s` for, if any (it counts as in flight).
  std::optional<std::uint32_t> next_request(source s, clock::time_point now);

  enum class verdict {
    accepted,   // kept (or a piece we had anyway)
    ignored,    // not asked for, or from a size no longer in use
    distrust,   // the source lied about its size: close it
  };
  verdict on_data(source s, const wire::ut_metadata::message& m);
  void on_reject(source s, std::uint32_t piece, clock::time_point now);
  // Its requests go back to the others.
  void gone(source s);
  // Requests unanswered for kRequestTimeout go back; their sources back off.
  void expire(clock::time_point now);

  // Every piece is in: the info dictionary if its hash is the info-hash;
  // nullopt after a hash failure (the assembly has started again, and the
  // sources that sent its pieces are distrusted).
  bool complete() const { return size_ > 0 && have_count_ == pieces_.size(); }
  std::optional<std::string> finish();

  std::int64_t size() const { return size_; }
  bool distrusted(source s) const { return distrusted_.count(s) != 0; }
  // Sources that offered a size we may use (peers that offer metadata).
  std::size_t offering() const;
  std::uint32_t hash_failures() const { return hash_failures_; }

 private:
  struct piece {
    bool have = false;
    std::optional<source> asked;  // in flight to
    clock::time_point since{};
    source from = 0;  // who sent it
  };
  struct source_state {
    std::int64_t size = 0;
    std::size_t in_flight = 0;
    clock::time_point backoff_until{};
  };
  void restart(std::int64_t size, std::optional<source> size_source);
  void release(piece& p);

  sha1_digest info_hash_;
  std::int64_t size_ = 0;
  std::optional<source> size_source_;
  std::string bytes_;
  std::vector<piece> pieces_;
  std::size_t have_count_ = 0;
  std::unordered_map<source, source_state> sources_;
  std::unordered_set<source> distrusted_;
  std::uint32_t hash_failures_ = 0;
};

}  // namespace sta::peer
