#include "wire/ut_pex.hpp"

#include <array>
#include <string>
#include <string_view>

#include <boost/endian/conversion.hpp>

#include "base/error.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace sta::wire::ut_pex {
namespace {

// Appends the compact peers of `list` (entry of 6 or 18 bytes) to out, and
// their flags when `flags` is given; false when the string is not whole entries.
bool take(std::optional<bencode::node> list, std::optional<bencode::node> flags, std::size_t entry,
          std::size_t max_peers, std::vector<peer>& out) {
  if (!list) return true;
  if (!list->is_string() || list->string_value().size() % entry != 0) return false;
  const std::string_view bytes = list->string_value();
  const std::string_view f = flags && flags->is_string() ? flags->string_value() : std::string_view{};
  for (std::size_t i = 0; i * entry < bytes.size() && out.size() < max_peers; ++i) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data()) + i * entry;
    const std::uint16_t port = boost::endian::load_big_u16(p + entry - 2);
    if (port == 0) continue;
    auto ep = endpoint::from_ip(std::span(p, entry - 2), port);
    if (!ep) continue;
    out.push_back({*ep, i < f.size() ? static_cast<std::uint8_t>(f[i]) : std::uint8_t{0}});
  }
  return true;
}

void put(std::string& list, const endpoint& e) {
  const auto ip = e.ip();
  list.append(reinterpret_cast<const char*>(ip.data()), ip.size());
  std::array<std::uint8_t, 2> port{};
  boost::endian::store_big_u16(port.data(), e.port());
  list.append(reinterpret_cast<const char*>(port.data()), port.size());
}

}  // namespace

result<message> decode(std::span<const std::byte> payload, std::size_t max_peers) {
  bencode::limits lim;
  lim.max_depth = 4;
  lim.max_tokens = 256;
  auto doc = bencode::decode(payload, lim);
  if (!doc) return make_error_code(errc::bad_message);
  const auto root = doc->root();
  if (!root.is_dict()) return make_error_code(errc::bad_message);
  message m;
  if (!take(root.find("added"), root.find("added.f"), 6, max_peers, m.added) ||
      !take(root.find("added6"), root.find("added6.f"), 18, max_peers, m.added))
    return make_error_code(errc::bad_message);
  std::vector<peer> dropped;
  if (!take(root.find("dropped"), std::nullopt, 6, max_peers, dropped) ||
      !take(root.find("dropped6"), std::nullopt, 18, max_peers, dropped))
    return make_error_code(errc::bad_message);
  for (const auto& d : dropped) m.dropped.push_back(d.addr);
  return m;
}

std::vector<std::byte> encode(const message& m) {
  std::string added, added_f, added6, added6_f, dropped, dropped6;
  for (const auto& p : m.added) {
    const bool v6 = p.addr.family() == AF_INET6;
    put(v6 ? added6 : added, p.addr);
    (v6 ? added6_f : added_f).push_back(static_cast<char>(p.flags));
  }
  for (const auto& d : m.dropped) put(d.family() == AF_INET6 ? dropped6 : dropped, d);
  std::string out;
  bencode::writer w(out);
  w.begin_dict()
      .string("added").string(added)
      .string("added.f").string(added_f)
      .string("added6").string(added6)
      .string("added6.f").string(added6_f)
      .string("dropped").string(dropped)
      .string("dropped6").string(dropped6)
      .end();
  const auto* p = reinterpret_cast<const std::byte*>(out.data());
  return {p, p + out.size()};
}

}  // namespace sta::wire::ut_pex
