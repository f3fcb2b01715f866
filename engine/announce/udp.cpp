#include "announce/udp.hpp"

#include <boost/endian/conversion.hpp>

#include "base/error.hpp"

namespace sta::announce::udp {
namespace {

// Big-endian writer and reader over a datagram.
struct out {
  std::vector<std::byte> bytes;
  template <class T>
  out& num(T v) {
    std::array<std::byte, sizeof(T)> b;
    boost::endian::endian_store<T, sizeof(T), boost::endian::order::big>(reinterpret_cast<unsigned char*>(b.data()), v);
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  out& raw(std::span<const std::uint8_t> b) {
    const auto* p = reinterpret_cast<const std::byte*>(b.data());
    bytes.insert(bytes.end(), p, p + b.size());
    return *this;
  }
};

struct in {
  std::span<const std::byte> bytes;
  std::size_t pos = 0;
  std::size_t left() const { return bytes.size() - pos; }
  template <class T>
  T num() {
    const T v = boost::endian::endian_load<T, sizeof(T), boost::endian::order::big>(
        reinterpret_cast<const unsigned char*>(bytes.data() + pos));
    pos += sizeof(T);
    return v;
  }
  std::span<const std::uint8_t> raw(std::size_t n) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data() + pos);
    pos += n;
    return {p, n};
  }
};

std::uint32_t event_code(event e) {
  switch (e) {
    case event::none: return 0;
    case event::completed: return 1;
    case event::started: return 2;
    case event::stopped: return 3;
  }
  return 0;
}

error_code bad() { return make_error_code(errc::bad_message); }

}  // namespace

std::vector<std::byte> encode(const request& r) {
  out o;
  if (const auto* c = std::get_if<connect_request>(&r)) {
    o.num(kProtocolId).num(static_cast<std::uint32_t>(action::connect)).num(c->transaction);
  } else if (const auto* a = std::get_if<announce_request>(&r)) {
    o.num(a->connection).num(static_cast<std::uint32_t>(action::announce)).num(a->transaction);
    o.raw(a->info_hash.bytes).raw(a->peer_id);
    o.num(a->downloaded).num(a->left).num(a->uploaded).num(event_code(a->ev));
    o.num(a->ip).num(a->key).num(a->numwant).num(a->port);
  } else {
    const auto& s = std::get<scrape_request>(r);
    o.num(s.connection).num(static_cast<std::uint32_t>(action::scrape)).num(s.transaction);
    for (const auto& h : s.info_hashes) o.raw(h.bytes);
  }
  return std::move(o.bytes);
}

std::vector<std::byte> encode(const response& r) {
  out o;
  if (const auto* c = std::get_if<connect_response>(&r)) {
    o.num(static_cast<std::uint32_t>(action::connect)).num(c->transaction).num(c->connection);
  } else if (const auto* a = std::get_if<announce_response>(&r)) {
    o.bytes.reserve(20 + a->peers.size() * 18);
    o.num(static_cast<std::uint32_t>(action::announce)).num(a->transaction);
    o.num(a->interval).num(a->leechers).num(a->seeders);
    for (const auto& p : a->peers) o.raw(std::span(p.addr).first(p.v6 ? 16 : 4)).num(p.port);
  } else if (const auto* s = std::get_if<scrape_response>(&r)) {
    o.num(static_cast<std::uint32_t>(action::scrape)).num(s->transaction);
    for (const auto& f : s->files)
      o.num(static_cast<std::int32_t>(f.complete)).num(static_cast<std::int32_t>(f.downloaded))
          .num(static_cast<std::int32_t>(f.incomplete));
  } else {
    const auto& e = std::get<error_response>(r);
    o.num(static_cast<std::uint32_t>(action::error)).num(e.transaction);
    o.raw(std::span(reinterpret_cast<const std::uint8_t*>(e.message.data()), e.message.size()));
  }
  return std::move(o.bytes);
}

result<request> decode_request(std::span<const std::byte> datagram) {
  in i{datagram};
  if (i.left() < 16) return bad();
  const auto connection = i.num<std::uint64_t>();
  const auto act = i.num<std::uint32_t>();
  const auto transaction = i.num<std::uint32_t>();
  switch (act) {
    case static_cast<std::uint32_t>(action::connect):
      if (connection != kProtocolId) return bad();
      return request{connect_request{transaction}};
    case static_cast<std::uint32_t>(action::announce): {
      // BEP 41 options may follow the 98 bytes; they are skipped.
      if (datagram.size() < kAnnounceSize) return bad();
      announce_request a;
      a.connection = connection;
      a.transaction = transaction;
      a.info_hash = sha1_digest::from_raw(
          std::string_view(reinterpret_cast<const char*>(i.raw(20).data()), 20));
      const auto id = i.raw(20);
      std::copy(id.begin(), id.end(), a.peer_id.begin());
      a.downloaded = i.num<std::int64_t>();
      a.left = i.num<std::int64_t>();
      a.uploaded = i.num<std::int64_t>();
      switch (i.num<std::uint32_t>()) {
        case 0: a.ev = event::none; break;
        case 1: a.ev = event::completed; break;
        case 2: a.ev = event::started; break;
        case 3: a.ev = event::stopped; break;
        default: return bad();
      }
      a.ip = i.num<std::uint32_t>();
      a.key = i.num<std::uint32_t>();
      a.numwant = i.num<std::int32_t>();
      a.port = i.num<std::uint16_t>();
      return request{std::move(a)};
    }
    case static_cast<std::uint32_t>(action::scrape): {
      const std::size_t n = i.left() / 20;
      if (i.left() % 20 != 0 || n == 0 || n > kMaxScrapeHashes) return bad();
      scrape_request s;
      s.connection = connection;
      s.transaction = transaction;
      for (std::size_t k = 0; k < n; ++k)
        s.info_hashes.push_back(
            sha1_digest::from_raw(std::string_view(reinterpret_cast<const char*>(i.raw(20).data()), 20)));
      return request{std::move(s)};
    }
    default: return bad();
  }
}

result<response> decode_response(std::span<const std::byte> datagram, bool v6, std::size_t max_peers) {
  in i{datagram};
  if (i.left() < 8) return bad();
  const auto act = i.num<std::uint32_t>();
  const auto transaction = i.num<std::uint32_t>();
  switch (act) {
    case static_cast<std::uint32_t>(action::connect): {
      if (i.left() < 8) return bad();
      return response{connect_response{transaction, i.num<std::uint64_t>()}};
    }
    case static_cast<std::uint32_t>(action::announce): {
      if (i.left() < 12) return bad();
      announce_response a;
      a.transaction = transaction;
      a.interval = i.num<std::int32_t>();
      a.leechers = i.num<std::int32_t>();
      a.seeders = i.num<std::int32_t>();
      const std::size_t entry = v6 ? 18 : 6;
      if (i.left() % entry != 0) return bad();
      while (i.left() > 0 && a.peers.size() < max_peers) {
        peer p;
        p.v6 = v6;
        const auto addr = i.raw(entry - 2);
        std::copy(addr.begin(), addr.end(), p.addr.begin());
        p.port = i.num<std::uint16_t>();
        a.peers.push_back(std::move(p));
      }
      return response{std::move(a)};
    }
    case static_cast<std::uint32_t>(action::scrape): {
      if (i.left() % 12 != 0) return bad();
      scrape_response s;
      s.transaction = transaction;
      while (i.left() > 0 && s.files.size() < kMaxScrapeHashes) {
        scrape_entry f;
        f.complete = i.num<std::int32_t>();
        f.downloaded = i.num<std::int32_t>();
        f.incomplete = i.num<std::int32_t>();
        s.files.push_back(f);
      }
      return response{std::move(s)};
    }
    case static_cast<std::uint32_t>(action::error): {
      error_response e;
      e.transaction = transaction;
      const std::size_t n = std::min(i.left(), kMaxReason);
      e.message.assign(reinterpret_cast<const char*>(datagram.data() + i.pos), n);
      return response{std::move(e)};
    }
    default: return bad();
  }
}

}  // namespace sta::announce::udp
