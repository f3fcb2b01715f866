#include "session/dht_service.hpp"

#include <fcntl.h>

#include <array>
#include <charconv>
#include <random>

#include <boost/endian/conversion.hpp>

#include "base/unique_fd.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"
#include "reactor/ops.hpp"
#include "reactor/resolve.hpp"
#include "reactor/socket.hpp"
#include "storage/root_dir.hpp"

namespace sta {
namespace {

using namespace std::chrono_literals;
using dht::clock;

constexpr char kStateFile[] = "dht.dat";
constexpr std::size_t kMaxStateFile = 256 << 10;
constexpr auto kTick = 1s;
constexpr auto kResolveTimeout = 10s;
constexpr auto kLookupInterval = 15min;
constexpr auto kRetryInterval = 30s;

dht::node_id random_id() {
  std::random_device rd;
  dht::node_id id;
  for (auto& b : id.bytes) b = static_cast<std::uint8_t>(rd());
  return id;
}

std::string compact(const endpoint& e) {
  std::string out;
  const auto ip = e.ip();
  out.append(reinterpret_cast<const char*>(ip.data()), ip.size());
  std::array<std::uint8_t, 2> port{};
  boost::endian::store_big_u16(port.data(), e.port());
  out.append(reinterpret_cast<const char*>(port.data()), port.size());
  return out;
}

// dht.dat: d2:id20:...5:nodes<26·n>6:nodes6<38·n>e
struct saved_state {
  std::optional<dht::node_id> id;
  std::vector<endpoint> nodes;
};

saved_state load_state(const dht_options& o) {
  saved_state s;
  if (o.save_dir.empty()) return s;
  // A --state-dir is read even before SAVE_DIR exists (a first download
  // into a new directory still joins through the nodes saved there).
  unique_fd dir;
  if (!o.state_dir.empty()) {
    dir.reset(::open(o.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  } else if (auto root = storage::root_dir::open(o.save_dir, false)) {
    if (auto d = root->state_dir(false)) dir = std::move(*d);
  }
  if (!dir) return s;
  auto bytes = storage::read_state_file(dir.get(), kStateFile, kMaxStateFile);
  if (!bytes) return s;
  auto doc = bencode::decode(*bytes);
  if (!doc || !doc->root().is_dict()) return s;
  const auto root_node = doc->root();
  if (auto id = root_node.find("id"); id && id->is_string() && id->string_value().size() == 20)
    s.id = dht::node_id::from_raw(id->string_value());
  for (auto [key, entry] : {std::pair{"nodes", std::size_t{26}}, std::pair{"nodes6", std::size_t{38}}}) {
    auto list = root_node.find(key);
    if (!list || !list->is_string()) continue;
    const auto text = list->string_value();
    for (std::size_t at = 0; at + entry <= text.size(); at += entry) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(text.data() + at + 20);
      if (auto ep = endpoint::from_ip(std::span(p, entry - 22), boost::endian::load_big_u16(p + entry - 22)))
        s.nodes.push_back(*ep);
    }
  }
  return s;
}

io::task<void> send_packet(dht_service& d, int fd, endpoint to, std::string bytes) {
  co_await io::send_to(d.home, fd, std::as_bytes(std::span(bytes.data(), bytes.size())), to);
}

io::task<void> receive_loop(dht_service& d, int fd) {
  std::array<std::byte, dht::krpc::kMaxPacket> buf;
  while (!d.home.stopping()) {
    endpoint from;
    auto n = co_await io::recv_from(d.home, fd, buf, from);
    if (!n) {
      if (n.error() == std::errc::operation_canceled) co_return;
      if (n.error() == std::errc::message_size) d.node.oversized(buf.size());
      continue;  // or an ICMP error of an earlier send
    }
    d.node.receive(from, std::span(buf.data(), *n), clock::now());
    d.flush();
  }
}

// Saved nodes and numeric addresses first; then names, resolved one at a
// time off the reactor (a slow or absent DNS must not hold the rest back),
// and the bootstrap starts again with them.
io::task<void> bootstrap(dht_service& d) {
  std::vector<endpoint> contacts = d.saved_nodes;
  std::vector<std::pair<std::string, std::uint16_t>> names;
  const auto& routers = d.opts.bootstrap.empty() ? kDefaultDhtRouters : d.opts.bootstrap;
  for (const auto& text : routers) {
    if (auto ep = parse_endpoint(text)) {
      contacts.push_back(*ep);
      continue;
    }
    const auto colon = text.rfind(':');
    std::uint16_t port = 0;
    const auto* end = text.data() + text.size();
    if (colon == std::string::npos || std::from_chars(text.data() + colon + 1, end, port).ptr != end || port == 0)
      continue;
    names.emplace_back(text.substr(0, colon), port);
  }
  if (!contacts.empty()) {
    d.node.bootstrap(contacts, clock::now());
    d.flush();
  }
  const std::size_t known = contacts.size();
  for (auto& [host, port] : names) {
    auto ep = co_await io::resolve(d.home, host, port, kResolveTimeout);
    if (d.home.stopping()) co_return;
    if (ep) contacts.push_back(*ep);
  }
  if (contacts.size() > known) {
    d.node.bootstrap(std::move(contacts), clock::now());
    d.flush();
  }
}

io::task<void> tick_loop(dht_service& d) {
  while (!d.home.stopping()) {
    const auto now = clock::now();
    d.node.tick(now);
    d.lookups(now);
    d.flush();
    if (!co_await io::sleep(d.home, kTick)) co_return;
  }
}

}  // namespace

dht_service::dht_service(io::reactor& r, const dht::node_id& id, dht::config cfg)
    : home(r), node(cfg, id, std::random_device{}(), clock::now()) {}

dht_service::~dht_service() = default;

detailed_result<std::unique_ptr<dht_service>> dht_service::open(io::reactor& home, const std::vector<endpoint>& listen,
                                                                std::uint16_t port, dht_options o) {
  std::vector<socket> sockets;
  for (const auto& l : listen) {
    const bool have_family = std::any_of(sockets.begin(), sockets.end(),
                                         [&](const socket& s) { return s.local.family() == l.family(); });
    if (have_family) continue;
    const endpoint at = l.with_port(port);
    auto fd = io::bound_udp(at);
    if (!fd) return fail(errc::bad_value, "DHT: cannot bind UDP " + at.to_string() + ": " + fd.error().message());
    sockets.push_back({std::move(*fd), at});
  }
  dht::config cfg;
  cfg.read_only = o.read_only;
  cfg.ipv4 = cfg.ipv6 = false;
  for (const auto& s : sockets) (s.local.family() == AF_INET6 ? cfg.ipv6 : cfg.ipv4) = true;
  auto state = load_state(o);
  std::unique_ptr<dht_service> d(new dht_service(home, state.id ? *state.id : random_id(), cfg));
  d->sockets = std::move(sockets);
  d->saved_nodes = std::move(state.nodes);
  d->opts = std::move(o);
  d->announce_port = port;
  return d;
}

void dht_service::start(std::function<std::vector<sha1_digest>()> w,
                        std::function<void(const sha1_digest&, std::vector<endpoint>)> p) {
  wanted = std::move(w);
  on_peers = std::move(p);
  for (const auto& s : sockets) home.spawn(receive_loop(*this, s.fd.get()));
  home.spawn(bootstrap(*this));
  home.spawn(tick_loop(*this));
}

void dht_service::add_contact(const endpoint& addr) {
  node.add_contact(addr, clock::now());
  flush();
}

void dht_service::flush() {
  for (auto& p : node.take_packets()) {
    for (const auto& s : sockets) {
      if (s.local.family() != p.to.family()) continue;
      home.spawn(send_packet(*this, s.fd.get(), p.to, std::move(p.bytes)));
      break;
    }
  }
  for (auto& f : node.take_found()) {
    if (auto it = torrents.find(f.info_hash); it != torrents.end()) it->second.found = true;
    if (on_peers) on_peers(f.info_hash, std::move(f.peers));
  }
  const auto now = clock::now();
  for (const auto& done : node.take_finished()) {
    for (auto& [hash, t] : torrents) {
      if (t.lookup != done.lookup) continue;
      t.lookup.reset();
      t.next = now + (t.found ? kLookupInterval : kRetryInterval);
    }
  }
}

void dht_service::lookups(clock::time_point now) {
  if (!wanted) return;
  const auto names = wanted();
  std::erase_if(torrents, [&](const auto& kv) { return std::find(names.begin(), names.end(), kv.first) == names.end(); });
  for (const auto& hash : names) {
    auto& t = torrents[hash];
    if (t.lookup || now < t.next) continue;
    t.found = false;
    t.lookup = node.get_peers(hash, announce_port, now);
    if (!t.lookup) break;  // as many lookups as the node runs at once
  }
}

dht_stats dht_service::stats() const {
  dht_stats s;
  s.enabled = true;
  s.id = node.id().hex();
  for (const auto& sock : sockets) s.sockets.push_back(sock.local.to_string());
  if (auto e = node.external_address()) s.external = e->host_string();
  const auto now = clock::now();
  s.nodes = node.table().size();
  s.good_nodes = node.table().good_count(now);
  s.replacements = node.table().replacement_count();
  for (const auto& b : node.table().buckets()) s.buckets.push_back(b.nodes);
  s.torrents = torrents.size();
  s.stored_torrents = node.stored_torrents();
  s.stored_peers = node.stored_peers();
  s.lookups = node.active_lookups();
  s.in_flight = node.in_flight();
  s.counters = node.stats();
  return s;
}

void dht_service::save() const {
  if (opts.save_dir.empty()) return;
  std::string nodes, nodes6;
  for (const auto& n : node.table().nodes()) {
    auto& list = n.addr.family() == AF_INET6 ? nodes6 : nodes;
    list.append(n.id.raw());
    list.append(compact(n.addr));
  }
  std::string out;
  bencode::writer w(out);
  w.begin_dict().string("id").string(node.id().raw()).string("nodes").string(nodes).string("nodes6").string(nodes6).end();
  auto root = storage::root_dir::open(opts.save_dir, true, opts.state_dir);
  if (root) (void)storage::write_state_file(*root, kStateFile, out);
}

}  // namespace sta
