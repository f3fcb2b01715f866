#include "http/sync_delta.hpp"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <string_view>

namespace sta::http {
namespace json = boost::json;
namespace {

std::uint64_t hash_of(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

std::uint64_t hash_of(const json::value& v) {
  // The kind is mixed in, so 1, 1.0, true and "1" differ.
  const auto kind = static_cast<std::uint64_t>(v.kind()) * 0x9e3779b97f4a7c15ULL;
  switch (v.kind()) {
    case json::kind::null: return kind;
    case json::kind::bool_: return kind ^ (v.get_bool() ? 1 : 0);
    case json::kind::int64: return kind ^ static_cast<std::uint64_t>(v.get_int64());
    case json::kind::uint64: return kind ^ v.get_uint64();
    case json::kind::double_: return kind ^ std::bit_cast<std::uint64_t>(v.get_double());
    case json::kind::string: return kind ^ hash_of(std::string_view(v.get_string()));
    default: return kind ^ hash_of(std::string_view(json::serialize(v)));
  }
}

}  // namespace

field_digest sync_fields::digest(const json::object& o) {
  field_digest d;
  d.reserve(o.size());
  for (const auto& kv : o) {
    const std::uint64_t name = hash_of(std::string_view(kv.key()));
    if (!names_.count(name)) names_.emplace(name, std::string(kv.key()));
    d.emplace_back(name, hash_of(kv.value()));
  }
  std::sort(d.begin(), d.end());
  return d;
}

json::object sync_fields::changes(const field_digest& was, const field_digest& now_digest,
                                  const json::object& now) const {
  json::object changed;
  auto name_of = [&](std::uint64_t h) -> const std::string& { return names_.at(h); };
  // Both sorted by name: one walk finds what came, changed or went.
  auto a = was.begin();
  for (const auto& [name, value] : now_digest) {
    while (a != was.end() && a->first < name) changed[name_of(a++->first)] = nullptr;
    const bool same = a != was.end() && a->first == name && a->second == value;
    if (a != was.end() && a->first == name) ++a;
    if (!same) changed[name_of(name)] = now.at(name_of(name));
  }
  for (; a != was.end(); ++a) changed[name_of(a->first)] = nullptr;
  return changed;
}

}  // namespace sta::http
