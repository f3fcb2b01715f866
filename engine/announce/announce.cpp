#include "announce/announce.hpp"

#include <arpa/inet.h>

#include <boost/url/encode.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <algorithm>
#include <charconv>
#include <cstring>

#include "base/query.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace sta::announce {
namespace {

constexpr std::size_t kMaxQuery = 4096;

bool parse_int(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_flag(std::string_view text) { return text == "1" || text == "true"; }

// response is an aggregate that a string converts to, so say which side.
result<response, failure> bad_response(std::string reason) {
  return {boost::system::in_place_error, std::move(reason)};
}

}  // namespace

result<request, failure> parse_announce(std::string_view query) {
  if (query.size() > kMaxQuery) return failure("request too long");
  request r;
  bool have_hash = false, have_peer_id = false, have_port = false;
  std::string error;
  auto number = [&](std::string_view key, const std::string& v, std::int64_t& out) {
    if (!parse_int(v, out) || out < 0) {
      error = "invalid " + std::string(key);
      return false;
    }
    return true;
  };
  const bool ok = for_each_param(query, [&](std::string_view key, const std::string& v) {
    if (key == "info_hash") {
      if (v.size() != 20) {
        error = "info_hash is not 20 bytes";
        return false;
      }
      if (have_hash) {
        error = "more than one info_hash";
        return false;
      }
      r.info_hash = sha1_digest::from_raw(v);
      have_hash = true;
    } else if (key == "peer_id") {
      if (v.size() != 20) {
        error = "peer_id is not 20 bytes";
        return false;
      }
      r.peer_id = v;
      have_peer_id = true;
    } else if (key == "port") {
      std::int64_t p = 0;
      if (!parse_int(v, p) || p < 1 || p > 65535) {
        error = "invalid port";
        return false;
      }
      r.port = static_cast<std::uint16_t>(p);
      have_port = true;
    } else if (key == "uploaded") {
      return number(key, v, r.uploaded);
    } else if (key == "downloaded") {
      return number(key, v, r.downloaded);
    } else if (key == "left") {
      return number(key, v, r.left);
    } else if (key == "event") {
      if (v == "started") r.ev = event::started;
      else if (v == "completed") r.ev = event::completed;
      else if (v == "stopped") r.ev = event::stopped;
      else if (v.empty() || v == "empty" || v == "paused") r.ev = event::none;
      else {
        error = "invalid event";
        return false;
      }
    } else if (key == "compact") {
      r.compact = v != "0";
    } else if (key == "no_peer_id") {
      r.no_peer_id = parse_flag(v);
      r.peer_ids_asked = v == "0" || v == "false";
    } else if (key == "numwant") {
      std::int64_t n = 0;
      if (!parse_int(v, n) || n < 0) {
        error = "invalid numwant";
        return false;
      }
      r.numwant = static_cast<int>(std::min<std::int64_t>(n, kMaxNumwant));
    } else if (key == "key") {
      r.key = v.substr(0, 64);
    } else if (key == "trackerid") {
      r.tracker_id = v.substr(0, 64);
    } else if (key == "ip") {
      r.ip = v.substr(0, 64);
    }
    return true;
  });
  if (!ok) return failure(error.empty() ? "malformed query string" : error);
  if (!have_hash) return failure("missing info_hash");
  if (!have_peer_id) return failure("missing peer_id");
  if (!have_port) return failure("missing port");
  return r;
}

result<std::vector<sha1_digest>, failure> parse_scrape(std::string_view query) {
  if (query.size() > kMaxQuery) return failure("request too long");
  std::vector<sha1_digest> hashes;
  std::string error;
  const bool ok = for_each_param(query, [&](std::string_view key, const std::string& v) {
    if (key != "info_hash") return true;
    if (v.size() != 20) {
      error = "info_hash is not 20 bytes";
      return false;
    }
    hashes.push_back(sha1_digest::from_raw(v));
    return true;
  });
  if (!ok) return failure(error.empty() ? "malformed query string" : error);
  return hashes;
}

std::string peer::address_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof buf);
  return buf;
}

std::string encode_response(const response& r, bool compact, bool no_peer_id) {
  if (!r.failure_reason.empty()) return encode_failure(r.failure_reason);
  std::string out;
  bencode::writer w(out);
  w.begin_dict();
  w.string("complete").integer(r.complete);
  w.string("incomplete").integer(r.incomplete);
  w.string("interval").integer(r.interval);
  w.string("min interval").integer(r.min_interval);
  if (compact) {
    std::string v4, v6;
    for (const auto& p : r.peers) {
      std::string& dst = p.v6 ? v6 : v4;
      dst.append(reinterpret_cast<const char*>(p.addr.data()), p.v6 ? 16 : 4);
      dst.push_back(static_cast<char>(p.port >> 8));
      dst.push_back(static_cast<char>(p.port & 0xff));
    }
    w.string("peers").string(v4);
    if (!v6.empty()) w.string("peers6").string(v6);
  } else {
    w.string("peers").begin_list();
    for (const auto& p : r.peers) {
      w.begin_dict().string("ip").string(p.address_text());
      if (!no_peer_id && !p.peer_id.empty()) w.string("peer id").string(p.peer_id);
      w.string("port").integer(p.port).end();
    }
    w.end();
  }
  if (!r.tracker_id.empty()) w.string("tracker id").string(r.tracker_id);
  if (!r.warning.empty()) w.string("warning message").string(r.warning);
  w.end();
  return out;
}

std::string encode_failure(std::string_view reason) {
  std::string out;
  bencode::writer(out).begin_dict().string("failure reason").string(reason).end();
  return out;
}

std::string encode_scrape(const std::vector<scrape_entry>& files) {
  std::vector<const scrape_entry*> sorted;
  for (const auto& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->info_hash < b->info_hash; });
  std::string out;
  bencode::writer w(out);
  w.begin_dict().string("files").begin_dict();
  const scrape_entry* last = nullptr;
  for (const auto* f : sorted) {
    if (last && last->info_hash == f->info_hash) continue;  // dict keys are unique
    last = f;
    w.string(f->info_hash.raw()).begin_dict();
    w.string("complete").integer(f->complete);
    w.string("downloaded").integer(f->downloaded);
    w.string("incomplete").integer(f->incomplete);
    w.end();
  }
  w.end().end();
  return out;
}

namespace {

// Everything but RFC 3986's unreserved characters is percent-encoded: the
// info-hash and peer id are raw bytes.
void append_escaped(std::string& out, std::string_view bytes) { out += boost::urls::encode(bytes, boost::urls::unreserved_chars); }

}  // namespace

std::string build_announce_url(std::string_view announce_url, const request& r) {
  std::string out(announce_url);
  out.push_back(announce_url.find('?') == std::string_view::npos ? '?' : '&');
  out += "info_hash=";
  append_escaped(out, r.info_hash.raw());
  out += "&peer_id=";
  append_escaped(out, r.peer_id);
  out += "&port=" + std::to_string(r.port);
  out += "&uploaded=" + std::to_string(r.uploaded);
  out += "&downloaded=" + std::to_string(r.downloaded);
  out += "&left=" + std::to_string(r.left);
  out += r.compact ? "&compact=1" : "&compact=0";
  if (r.no_peer_id) out += "&no_peer_id=1";
  out += "&numwant=" + std::to_string(r.numwant);
  switch (r.ev) {
    case event::started: out += "&event=started"; break;
    case event::completed: out += "&event=completed"; break;
    case event::stopped: out += "&event=stopped"; break;
    case event::none: break;
  }
  if (!r.key.empty()) {
    out += "&key=";
    append_escaped(out, r.key);
  }
  if (!r.tracker_id.empty()) {
    out += "&trackerid=";
    append_escaped(out, r.tracker_id);
  }
  if (!r.ip.empty()) {
    out += "&ip=";
    append_escaped(out, r.ip);
  }
  return out;
}

result<response, failure> parse_response(std::string_view body, std::size_t max_peers) {
  bencode::limits lim;
  lim.max_size = 4u << 20;
  lim.max_depth = 8;
  auto doc = bencode::decode(body, lim);
  if (!doc) return bad_response("tracker response is not bencode: " + doc.error().message());
  const auto root = doc->root();
  if (!root.is_dict()) return bad_response("tracker response is not a dictionary");
  response r;
  if (auto f = root.find("failure reason")) {
    r.failure_reason = f->is_string() ? std::string(f->string_value().substr(0, kMaxReason)) : "unspecified failure";
    if (r.failure_reason.empty()) r.failure_reason = "unspecified failure";
    return r;
  }
  auto integer = [&](std::string_view key, std::int64_t& out) {
    if (auto v = root.find(key); v && v->is_int()) out = v->int_value();
  };
  integer("interval", r.interval);
  integer("min interval", r.min_interval);
  integer("complete", r.complete);
  integer("incomplete", r.incomplete);
  if (auto v = root.find("warning message"); v && v->is_string()) r.warning = v->string_value().substr(0, kMaxReason);
  if (auto v = root.find("tracker id"); v && v->is_string() && v->string_value().size() <= kMaxTrackerId)
    r.tracker_id = v->string_value();
  if (r.interval < 0 || r.min_interval < 0) return bad_response("negative interval");

  auto compact = [&](std::string_view bytes, bool v6) {
    const std::size_t stride = v6 ? 18 : 6;
    if (bytes.size() % stride != 0) return false;
    for (std::size_t i = 0; i + stride <= bytes.size() && r.peers.size() < max_peers; i += stride) {
      peer p;
      p.v6 = v6;
      std::memcpy(p.addr.data(), bytes.data() + i, v6 ? 16 : 4);
      p.port = static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[i + stride - 2]) << 8 |
                                          static_cast<unsigned char>(bytes[i + stride - 1]));
      r.peers.push_back(std::move(p));
    }
    return true;
  };
  if (auto peers = root.find("peers")) {
    if (peers->is_string()) {
      if (!compact(peers->string_value(), false)) return bad_response("compact peers is not a multiple of 6 bytes");
    } else if (peers->is_list()) {
      for (auto entry : *peers) {
        if (r.peers.size() >= max_peers) break;
        if (!entry.is_dict()) continue;
        auto ip = entry.find("ip");
        auto port = entry.find("port");
        if (!ip || !ip->is_string() || !port || !port->is_int() || port->int_value() < 1 ||
            port->int_value() > 65535) {
          continue;
        }
        peer p;
        const std::string text(ip->string_value());
        if (::inet_pton(AF_INET, text.c_str(), p.addr.data()) == 1) p.v6 = false;
        else if (::inet_pton(AF_INET6, text.c_str(), p.addr.data()) == 1) p.v6 = true;
        else continue;  // host names are not resolved here
        p.port = static_cast<std::uint16_t>(port->int_value());
        if (auto id = entry.find("peer id"); id && id->is_string()) p.peer_id = id->string_value();
        r.peers.push_back(std::move(p));
      }
    } else {
      return bad_response("peers has the wrong type");
    }
  }
  if (auto peers6 = root.find("peers6"); peers6 && peers6->is_string()) {
    if (!compact(peers6->string_value(), true)) return bad_response("compact peers6 is not a multiple of 18 bytes");
  }
  return r;
}

std::int64_t next_interval(const response& r, std::int64_t fallback, std::int64_t least, std::int64_t most) {
  std::int64_t interval = r.interval > 0 ? r.interval : fallback;
  interval = std::max(interval, r.min_interval);
  return std::clamp(interval, least, most);
}

std::optional<std::string> scrape_url(std::string_view announce_url) {
  const auto query = announce_url.find('?');
  const std::string_view path = announce_url.substr(0, query);
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view last = path.substr(slash + 1);
  if (last.substr(0, 8) != "announce") return std::nullopt;
  std::string out(announce_url.substr(0, slash + 1));
  out += "scrape";
  out += announce_url.substr(slash + 1 + 8);
  return out;
}

}  // namespace sta::announce
