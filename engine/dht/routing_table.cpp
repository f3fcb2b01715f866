#include "dht/routing_table.hpp"

#include <algorithm>

#include "dht/node_id.hpp"

namespace sta::dht {

routing_table::routing_table(const node_id& self) : self_(self) { buckets_.emplace_back(); }

std::size_t routing_table::bucket_of(const node_id& id) const {
  const auto bits = static_cast<std::size_t>(shared_prefix(self_, id));
  return std::min(bits, buckets_.size() - 1);
}

routing_table::entry* routing_table::find(const node_info& n) {
  auto& b = buckets_[bucket_of(n.id)];
  for (auto& e : b.live)
    if (e.id == n.id && e.addr == n.addr) return &e;
  return nullptr;
}

bool routing_table::contains(const node_info& n) const {
  const auto& b = buckets_[bucket_of(n.id)];
  return std::any_of(b.live.begin(), b.live.end(), [&](const entry& e) { return e.id == n.id && e.addr == n.addr; });
}

bool routing_table::has_room(const node_id& id) const {
  const std::size_t i = bucket_of(id);
  return id != self_ && (buckets_[i].live.size() < kBucketSize || (i == buckets_.size() - 1 && buckets_.size() < 160));
}

bool routing_table::conflicts(const node_info& n) const {
  for (const auto& b : buckets_) {
    for (const auto* list : {&b.live, &b.replacements})
      for (const auto& e : *list)
        if (e.id == n.id || e.addr.same_host(n.addr)) return true;
  }
  return false;
}

void routing_table::split_last() {
  const std::size_t depth = buckets_.size() - 1;
  buckets_.emplace_back();
  auto& old = buckets_[depth];
  auto& next = buckets_.back();
  next.refreshed = old.refreshed;
  for (auto* list : {&old.live, &old.replacements}) {
    auto& target = list == &old.live ? next.live : next.replacements;
    auto moved = std::stable_partition(list->begin(), list->end(), [&](const entry& e) {
      return static_cast<std::size_t>(shared_prefix(self_, e.id)) == depth;
    });
    target.insert(target.end(), moved, list->end());
    list->erase(moved, list->end());
  }
  // Replacements that now have room move up.
  for (auto* b : {&old, &next}) {
    while (b->live.size() < kBucketSize && !b->replacements.empty()) {
      b->live.push_back(b->replacements.back());
      b->replacements.pop_back();
    }
  }
}

node_status routing_table::status(const entry& e, clock::time_point now) const {
  return now - e.last_seen < kQuestionableAfter ? node_status::good : node_status::questionable;
}

routing_table::heard_result routing_table::heard_from(const node_info& n, clock::time_point now) {
  if (n.id == self_) return {};
  if (auto* e = find(n)) {
    e->last_seen = now;
    e->fails = 0;
    return {outcome::updated, std::nullopt};
  }
  if (conflicts(n)) return {};
  for (;;) {
    const std::size_t i = bucket_of(n.id);
    auto& b = buckets_[i];
    if (b.live.size() < kBucketSize) {
      b.live.push_back({n.id, n.addr, now, 0});
      b.refreshed = now;
      return {outcome::added, std::nullopt};
    }
    // A full bucket: the one holding our own id splits (up to 160 bits).
    if (i == buckets_.size() - 1 && buckets_.size() < 160) {
      split_last();
      continue;
    }
    if (b.replacements.size() == kBucketSize) b.replacements.erase(b.replacements.begin());
    b.replacements.push_back({n.id, n.addr, now, 0});
    heard_result r{outcome::replacement, std::nullopt};
    const entry* oldest = nullptr;
    for (const auto& e : b.live)
      if (status(e, now) == node_status::questionable && (!oldest || e.last_seen < oldest->last_seen)) oldest = &e;
    if (oldest) r.ping = node_info{oldest->id, oldest->addr};
    return r;
  }
}

void routing_table::queried_by(const node_info& n, clock::time_point now) {
  if (auto* e = find(n)) e->last_seen = now;
}

bool routing_table::failed(const node_info& n) {
  auto& b = buckets_[bucket_of(n.id)];
  auto it = std::find_if(b.live.begin(), b.live.end(), [&](const entry& e) { return e.id == n.id && e.addr == n.addr; });
  if (it == b.live.end()) {
    std::erase_if(b.replacements, [&](const entry& e) { return e.id == n.id && e.addr == n.addr; });
    return false;
  }
  if (++it->fails < kFailsToBad) return false;
  if (!b.replacements.empty()) {
    *it = b.replacements.back();
    b.replacements.pop_back();
  } else {
    b.live.erase(it);
  }
  return true;
}

std::size_t routing_table::size() const {
  std::size_t n = 0;
  for (const auto& b : buckets_) n += b.live.size();
  return n;
}

std::size_t routing_table::replacement_count() const {
  std::size_t n = 0;
  for (const auto& b : buckets_) n += b.replacements.size();
  return n;
}

std::size_t routing_table::good_count(clock::time_point now) const {
  std::size_t n = 0;
  for (const auto& b : buckets_)
    for (const auto& e : b.live) n += status(e, now) == node_status::good;
  return n;
}

std::vector<node_info> routing_table::closest(const node_id& target, std::size_t n, int family) const {
  std::vector<node_info> all;
  for (const auto& b : buckets_)
    for (const auto& e : b.live)
      if (family == 0 || e.addr.family() == family) all.push_back({e.id, e.addr});
  const auto by_distance = [&](const node_info& a, const node_info& b) { return closer(target, a.id, b.id); };
  if (all.size() > n) {
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), by_distance);
    all.resize(n);
  } else {
    std::sort(all.begin(), all.end(), by_distance);
  }
  return all;
}

std::vector<node_info> routing_table::nodes() const {
  std::vector<node_info> all;
  for (const auto& b : buckets_)
    for (const auto& e : b.live) all.push_back({e.id, e.addr});
  return all;
}

std::vector<node_id> routing_table::refresh_targets(clock::time_point now, std::mt19937_64& rng) {
  std::vector<node_id> targets;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    auto& b = buckets_[i];
    if (now - b.refreshed < kQuestionableAfter) continue;
    b.refreshed = now;
    // The last bucket covers everything from its depth on: any id there.
    targets.push_back(random_id_near(self_, static_cast<int>(i), rng));
  }
  return targets;
}

std::vector<routing_table::bucket_info> routing_table::buckets() const {
  std::vector<bucket_info> out;
  for (const auto& b : buckets_) out.push_back({b.live.size(), b.replacements.size()});
  return out;
}

}  // namespace sta::dht
