#include "dht/krpc.hpp"

#include <array>
#include <string_view>

#include <boost/endian/conversion.hpp>

#include "base/error.hpp"
#include "base/version.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace sta::dht::krpc {
namespace {

constexpr std::size_t kNode4 = 26;
constexpr std::size_t kNode6 = 38;

std::optional<std::string_view> string_of(const bencode::node& dict, std::string_view key) {
  auto v = dict.find(key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->string_value();
}

std::optional<node_id> id_of(const bencode::node& dict, std::string_view key) {
  auto s = string_of(dict, key);
  if (!s || s->size() != 20) return std::nullopt;
  return node_id::from_raw(*s);
}

std::optional<endpoint> compact_endpoint(std::string_view s) {
  if (s.size() != 6 && s.size() != 18) return std::nullopt;
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  return endpoint::from_ip(std::span(p, s.size() - 2), boost::endian::load_big_u16(p + s.size() - 2));
}

// Appends the entries of a compact node string; false when it is not whole
// entries of `entry` bytes.
bool take_nodes(const bencode::node& dict, std::string_view key, std::size_t entry, std::vector<node_info>& out) {
  auto v = dict.find(key);
  if (!v) return true;
  if (!v->is_string() || v->string_value().size() % entry != 0) return false;
  const std::string_view s = v->string_value();
  std::size_t taken = 0;
  for (std::size_t at = 0; at < s.size() && taken < kMaxNodes; at += entry) {
    auto ep = compact_endpoint(s.substr(at + 20, entry - 20));
    if (!ep || ep->port() == 0) continue;
    out.push_back({node_id::from_raw(s.substr(at, 20)), *ep});
    ++taken;
  }
  return true;
}

void put_endpoint(std::string& out, const endpoint& e) {
  const auto ip = e.ip();
  out.append(reinterpret_cast<const char*>(ip.data()), ip.size());
  std::array<std::uint8_t, 2> port{};
  boost::endian::store_big_u16(port.data(), e.port());
  out.append(reinterpret_cast<const char*>(port.data()), port.size());
}

method method_of(std::string_view name) {
  if (name == "ping") return method::ping;
  if (name == "find_node") return method::find_node;
  if (name == "get_peers") return method::get_peers;
  if (name == "announce_peer") return method::announce_peer;
  return method::unknown;
}

bool decode_query(const bencode::node& root, message& m) {
  auto q = string_of(root, "q");
  auto a = root.find("a");
  if (!q || !a || !a->is_dict()) return false;
  auto id = id_of(*a, "id");
  if (!id) return false;
  m.id = *id;
  m.name = method_of(*q);
  if (auto want = a->find("want"); want && want->is_list()) {
    for (auto w : *want) {
      if (!w.is_string()) continue;
      if (w.string_value() == "n4") m.want |= kWant4;
      if (w.string_value() == "n6") m.want |= kWant6;
    }
  }
  switch (m.name) {
    case method::ping:
    case method::unknown:
      return true;
    case method::find_node: {
      auto t = id_of(*a, "target");
      if (!t) return false;
      m.target = *t;
      return true;
    }
    case method::get_peers:
    case method::announce_peer: {
      auto t = id_of(*a, "info_hash");
      if (!t) return false;
      m.target = *t;
      if (m.name == method::get_peers) return true;
      auto token = string_of(*a, "token");
      auto port = a->find("port");
      if (!token || token->size() > kMaxToken) return false;
      m.token = std::string(*token);
      if (auto ip = a->find("implied_port"); ip && ip->is_int() && ip->int_value() != 0) m.implied_port = true;
      if (!m.implied_port && (!port || !port->is_int() || port->int_value() <= 0 || port->int_value() > 65535))
        return false;
      if (port && port->is_int() && port->int_value() > 0 && port->int_value() <= 65535)
        m.port = static_cast<std::uint16_t>(port->int_value());
      return true;
    }
  }
  return false;
}

bool decode_response(const bencode::node& root, message& m) {
  auto r = root.find("r");
  if (!r || !r->is_dict()) return false;
  auto id = id_of(*r, "id");
  if (!id) return false;
  m.id = *id;
  if (!take_nodes(*r, "nodes", kNode4, m.nodes) || !take_nodes(*r, "nodes6", kNode6, m.nodes)) return false;
  if (auto token = string_of(*r, "token")) {
    if (token->size() > kMaxToken) return false;
    m.token = std::string(*token);
  }
  if (auto values = r->find("values"); values && values->is_list()) {
    for (auto v : *values) {
      if (m.values.size() == kMaxValues) break;
      if (!v.is_string()) continue;
      auto ep = compact_endpoint(v.string_value());
      if (ep && ep->port() != 0) m.values.push_back(*ep);
    }
  }
  return true;
}

bool decode_error(const bencode::node& root, message& m) {
  auto e = root.find("e");
  if (!e || !e->is_list()) return false;
  auto it = e->begin();
  if (it == e->end() || !(*it).is_int()) return false;
  const auto code = (*it).int_value();
  if (code < 0 || code > 100000) return false;
  m.error_code = static_cast<int>(code);
  if (++it != e->end() && (*it).is_string()) m.error_message = std::string((*it).string_value().substr(0, 256));
  return true;
}

}  // namespace

std::string_view method_name(method m) {
  switch (m) {
    case method::ping: return "ping";
    case method::find_node: return "find_node";
    case method::get_peers: return "get_peers";
    case method::announce_peer: return "announce_peer";
    case method::unknown: break;
  }
  return {};
}

result<message> decode(std::span<const std::byte> packet) {
  const auto bad = make_error_code(errc::bad_message);
  if (packet.size() > kMaxPacket) return bad;
  bencode::limits lim;
  lim.max_depth = 4;
  lim.max_tokens = 512;
  lim.max_size = kMaxPacket;
  auto doc = bencode::decode(packet, lim);
  if (!doc) return bad;
  const auto root = doc->root();
  if (!root.is_dict()) return bad;
  message m;
  auto t = string_of(root, "t");
  auto y = string_of(root, "y");
  if (!t || t->empty() || t->size() > kMaxTransaction || !y) return bad;
  m.transaction = std::string(*t);
  if (auto ip = string_of(root, "ip")) m.ip = compact_endpoint(*ip);
  if (auto ro = root.find("ro"); ro && ro->is_int() && ro->int_value() == 1) m.read_only = true;
  bool ok = false;
  if (*y == "q") {
    m.type = kind::query;
    ok = decode_query(root, m);
  } else if (*y == "r") {
    m.type = kind::response;
    ok = decode_response(root, m);
  } else if (*y == "e") {
    m.type = kind::error;
    ok = decode_error(root, m);
  }
  if (!ok) return bad;
  return m;
}

std::string encode(const message& m) {
  std::string out;
  bencode::writer w(out);
  w.begin_dict();
  if (m.type == kind::query) {
    w.string("a").begin_dict();
    w.string("id").string(m.id.raw());
    if (m.name == method::announce_peer && m.implied_port) w.string("implied_port").integer(1);
    if (m.name == method::get_peers || m.name == method::announce_peer) w.string("info_hash").string(m.target.raw());
    if (m.name == method::announce_peer) w.string("port").integer(m.port);
    if (m.name == method::find_node) w.string("target").string(m.target.raw());
    if (m.name == method::announce_peer) w.string("token").string(m.token);
    if (m.want != 0) {
      w.string("want").begin_list();
      if (m.want & kWant4) w.string("n4");
      if (m.want & kWant6) w.string("n6");
      w.end();
    }
    w.end();
  }
  if (m.type == kind::error) {
    w.string("e").begin_list().integer(m.error_code).string(m.error_message).end();
  }
  if (m.ip) {
    std::string ip;
    put_endpoint(ip, *m.ip);
    w.string("ip").string(ip);
  }
  if (m.type == kind::query) w.string("q").string(method_name(m.name));
  if (m.type == kind::response) {
    std::string nodes, nodes6;
    for (const auto& n : m.nodes) {
      auto& list = n.addr.family() == AF_INET6 ? nodes6 : nodes;
      list.append(n.id.raw());
      put_endpoint(list, n.addr);
    }
    w.string("r").begin_dict();
    w.string("id").string(m.id.raw());
    if (!nodes.empty()) w.string("nodes").string(nodes);
    if (!nodes6.empty()) w.string("nodes6").string(nodes6);
    if (!m.token.empty()) w.string("token").string(m.token);
    if (!m.values.empty()) {
      w.string("values").begin_list();
      for (const auto& v : m.values) {
        std::string one;
        put_endpoint(one, v);
        w.string(one);
      }
      w.end();
    }
    w.end();
  }
  if (m.type == kind::query && m.read_only) w.string("ro").integer(1);
  w.string("t").string(m.transaction);
  w.string("v").string(std::string_view(kDhtVersion, sizeof kDhtVersion));
  w.string("y").string(m.type == kind::query ? "q" : m.type == kind::response ? "r" : "e");
  w.end();
  return out;
}

}  // namespace sta::dht::krpc
