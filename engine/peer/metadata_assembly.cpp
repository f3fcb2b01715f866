#include "peer/metadata_assembly.hpp"

#include <algorithm>

namespace sta::peer {

namespace um = wire::ut_metadata;

bool metadata_assembly::offer(source s, std::optional<std::int64_t> size) {
  if (distrusted(s) || !size || *size <= 0 || *size > um::kMaxSize) {
    sources_.erase(s);
    return false;
  }
  sources_[s].size = *size;
  if (size_ == 0) restart(*size, s);
  return true;
}

std::optional<std::uint32_t> metadata_assembly::next_request(source s, clock::time_point now) {
  const auto it = sources_.find(s);
  if (it == sources_.end() || distrusted(s)) return std::nullopt;
  source_state& st = it->second;
  if (now < st.backoff_until) return std::nullopt;
  if (st.size != size_) {
    // Nobody that gave the size in use can be asked (gone, backed off after
    // a reject or a request it left unanswered): this source's size is
    // tried instead, so a peer that lied about the size and keeps silent
    // holds nobody back.
    const bool usable = std::any_of(sources_.begin(), sources_.end(), [&](const auto& kv) {
      return kv.second.size == size_ && now >= kv.second.backoff_until;
    });
    if (usable) return std::nullopt;
    restart(st.size, s);
  }
  if (st.in_flight >= kMaxInFlight) return std::nullopt;
  for (std::uint32_t i = 0; i < pieces_.size(); ++i) {
    piece& p = pieces_[i];
    if (p.have || p.asked) continue;
    p.asked = s;
    p.since = now;
    ++st.in_flight;
    return i;
  }
  return std::nullopt;
}

metadata_assembly::verdict metadata_assembly::on_data(source s, const um::message& m) {
  const auto it = sources_.find(s);
  if (it == sources_.end() || distrusted(s)) return verdict::ignored;
  source_state& st = it->second;
  if (m.total_size != st.size) {
    distrusted_.insert(s);
    gone(s);
    return verdict::distrust;
  }
  if (m.total_size != size_ || m.piece >= pieces_.size()) return verdict::ignored;
  piece& p = pieces_[m.piece];
  if (p.asked != s) return verdict::ignored;
  release(p);
  if (p.have) return verdict::accepted;
  if (m.data.size() != um::piece_size(size_, m.piece)) {
    distrusted_.insert(s);
    gone(s);
    return verdict::distrust;
  }
  std::copy(m.data.begin(), m.data.end(), reinterpret_cast<std::byte*>(bytes_.data()) + m.piece * um::kPieceSize);
  p.have = true;
  p.from = s;
  ++have_count_;
  return verdict::accepted;
}

void metadata_assembly::on_reject(source s, std::uint32_t index, clock::time_point now) {
  const auto it = sources_.find(s);
  if (it == sources_.end()) return;
  it->second.backoff_until = now + kRejectBackoff;
  if (index < pieces_.size() && pieces_[index].asked == s) release(pieces_[index]);
}

void metadata_assembly::gone(source s) {
  for (piece& p : pieces_)
    if (p.asked == s) release(p);
  sources_.erase(s);
}

void metadata_assembly::expire(clock::time_point now) {
  for (piece& p : pieces_) {
    if (!p.asked || now - p.since < kRequestTimeout) continue;
    // Silence is answered like a reject.
    if (const auto it = sources_.find(*p.asked); it != sources_.end()) it->second.backoff_until = now + kRejectBackoff;
    release(p);
  }
}

std::optional<std::string> metadata_assembly::finish() {
  if (!complete()) return std::nullopt;
  if (sha1(bytes_) == info_hash_) return bytes_;
  ++hash_failures_;
  for (const piece& p : pieces_) distrusted_.insert(p.from);
  if (size_source_) distrusted_.insert(*size_source_);
  for (source s : distrusted_) sources_.erase(s);
  // The next size offered by a source still trusted.
  std::optional<source> next;
  for (const auto& [s, st] : sources_)
    if (!next || s < *next) next = s;
  restart(next ? sources_[*next].size : 0, next);
  return std::nullopt;
}

std::size_t metadata_assembly::offering() const {
  return static_cast<std::size_t>(std::count_if(sources_.begin(), sources_.end(),
                                                [this](const auto& kv) { return !distrusted(kv.first); }));
}

void metadata_assembly::restart(std::int64_t size, std::optional<source> size_source) {
  size_ = size;
  size_source_ = size_source;
  bytes_.assign(static_cast<std::size_t>(size), '\0');
  pieces_.assign(um::piece_count(size), piece{});
  have_count_ = 0;
  for (auto& [s, st] : sources_) st.in_flight = 0;
}

void metadata_assembly::release(piece& p) {
  if (!p.asked) return;
  const auto it = sources_.find(*p.asked);
  if (it != sources_.end() && it->second.in_flight > 0) --it->second.in_flight;
  p.asked.reset();
}

}  // namespace sta::peer
