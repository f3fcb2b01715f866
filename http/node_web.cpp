#include "http/node_web.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <deque>
#include <limits>
#include <map>
#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include "base/hex.hpp"
#include "base/version.hpp"
#include "http/metrics.hpp"
#include "http/node_dashboard.hpp"
#include "http/server.hpp"
#include "http/snapshot_json.hpp"
#include "http/sync_delta.hpp"

namespace sta::http {

namespace json = boost::json;
using clock = std::chrono::steady_clock;
using bhttp::field;
using bhttp::verb;

namespace {

constexpr std::size_t kHistory = 300;        // seconds of node rates kept for the speed graph
constexpr std::size_t kSyncSnapshots = 16;   // replies a delta can be computed against
constexpr std::size_t kMetricsTorrents = 1000;  // per-torrent series at most (cardinality)

bool same_token(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string cookie_value(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    const auto semi = cookies.find(';');
    std::string_view item = cookies.substr(0, semi);
    cookies = semi == std::string_view::npos ? std::string_view{} : cookies.substr(semi + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=')
      return std::string(item.substr(name.size() + 1));
  }
  return {};
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}

response not_found() { return error_reply(status::not_found, "no such endpoint"); }

response not_allowed(std::string_view allow) {
  auto r = error_reply(status::method_not_allowed, "method not allowed");
  r.set(field::allow, allow);
  return r;
}

}  // namespace

struct node_web::impl {
  node& n;
  web_options opts;
  web_actions actions;
  std::unique_ptr<server> web;
  std::vector<std::string> hosts;  // accepted Host values
  std::unique_ptr<boost::asio::steady_timer> sampler;
  clock::time_point started = clock::now();

  // The server's one thread alone touches these.
  std::deque<std::array<std::int64_t, 3>> history;  // [unix seconds, down, up]
  std::uint64_t next_rid = 1;
  std::deque<std::pair<std::uint64_t, std::map<std::string, field_digest>>> snapshots;
  sync_fields fields;

  impl(node& nn, web_options o, web_actions a) : n(nn), opts(std::move(o)), actions(std::move(a)) {}

  void sample() {
    const auto t = n.totals();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    history.push_back({now.count(), t.down_rate, t.up_rate});
    if (history.size() > kHistory) history.pop_front();
    sampler->expires_after(std::chrono::seconds(1));
    sampler->async_wait([this](boost::system::error_code ec) {
      if (!ec) sample();
    });
  }

  bool host_ok(const request& req) const {
    const std::string_view host = req[field::host];
    for (const auto& h : hosts)
      if (h == host) return true;
    return false;
  }

  bool authorized(const request& req) const {
    if (opts.token.empty()) return true;
    const std::string_view auth = req[field::authorization];
    if (auth.starts_with("Bearer ") && same_token(auth.substr(7), opts.token)) return true;
    const std::string cookie = cookie_value(req[field::cookie], "sta_token");
    return !cookie.empty() && same_token(cookie, opts.token);
  }

  // Requests that change state: only from our own page (or a script that
  // says so), never from another site's form or fetch.
  bool csrf_ok(const request& req) const {
    if (req["X-Sta-Request"].empty()) return false;
    const std::string_view origin = req[field::origin];
    return origin.empty() || origin == "http://" + std::string(req[field::host]);
  }

  response handle(const request& req, const client&) {
    if (!host_ok(req)) return error_reply(status::forbidden, "this Host header is not accepted (DNS rebinding guard)");
    const auto [path, query] = split_target(req.target());
    if (!authorized(req)) {
      // The page's own login: GET /?token=T sets the cookie.
      const auto given = query_param(query, "token");
      if (path == "/" && req.method() == verb::get && given && same_token(*given, opts.token)) {
        auto r = reply(status::see_other, "", "text/plain");
        r.set(field::location, "/");
        r.set(field::set_cookie, "sta_token=" + opts.token + "; HttpOnly; SameSite=Strict; Path=/");
        return r;
      }
      if (path == "/")
        return reply(status::unauthorized,
                     "<!doctype html><title>sta</title><p>This dashboard needs its access token: open the URL "
                     "that sta printed when it started (it ends in <code>?token=</code>).</p>",
                     "text/html; charset=utf-8");
      return error_reply(status::unauthorized, "an access token is needed (Authorization: Bearer TOKEN)");
    }
    const bool reading = req.method() == verb::get || req.method() == verb::head;
    if (!reading && !csrf_ok(req))
      return error_reply(status::forbidden, "requests that change state need the X-Sta-Request header and our Origin");
    if (path == "/") {
      if (!reading) return not_allowed("GET, HEAD");
      return reply(status::ok, std::string(node_dashboard_html()), "text/html; charset=utf-8");
    }
    if (path == "/metrics") {
      if (!reading) return not_allowed("GET, HEAD");
      return reply(status::ok, metrics(), "text/plain; version=0.0.4");
    }
    const auto seg = segments(path);
    if (seg.size() < 2 || seg[0] != "api" || seg[1] != "v1") return not_found();
    return api(req, std::span(seg).subspan(2), query);
  }

  response api(const request& req, std::span<const std::string_view> seg, std::string_view query) {
    const bool reading = req.method() == verb::get || req.method() == verb::head;
    if (seg.size() == 1 && seg[0] == "node") {
      if (!reading) return not_allowed("GET, HEAD");
      return json_reply(status::ok, node_json());
    }
    if (seg.size() == 1 && seg[0] == "dht") {
      if (!reading) return not_allowed("GET, HEAD");
      return json_reply(status::ok, to_json(n.dht()));
    }
    if (seg.size() == 1 && seg[0] == "sync") {
      if (!reading) return not_allowed("GET, HEAD");
      return json_reply(status::ok, sync(query));
    }
    if (seg.empty() || seg[0] != "torrents") return not_found();
    if (seg.size() == 1) {
      if (reading) {
        json::array out;
        for (const auto& t : n.torrents()) out.push_back(to_json(t));
        return json_reply(status::ok, out);
      }
      if (req.method() == verb::post) return add(req, query);
      return not_allowed("GET, HEAD, POST");
    }
    const auto raw = seg[1].size() == 40 ? from_hex(seg[1]) : std::nullopt;
    if (!raw) return error_reply(status::bad_request, "not an info-hash (40 hex characters)");
    const auto id = n.find(sha1_digest::from_raw(*raw));
    if (!id) return error_reply(status::not_found, "no torrent with this info-hash");
    if (seg.size() == 2) {
      if (reading) return one(*id);
      if (req.method() == verb::delete_) {
        const auto with_data = query_param(query, "with_data");
        auto r = actions.remove(*id, with_data && *with_data == "1");
        if (!r) return error_reply(status::conflict, r.error().message());
        return json_reply(status::ok, json::object{{"removed", std::string(seg[1])}});
      }
      return not_allowed("GET, HEAD, DELETE");
    }
    if (seg.size() != 3) return not_found();
    const auto what = seg[2];
    if (what == "pause" || what == "resume") {
      if (req.method() != verb::post) return not_allowed("POST");
      auto r = what == "pause" ? n.pause(*id) : n.resume(*id);
      if (!r) return json_reply(status::conflict, json::object{{"error", r.error().code.message()}, {"state", r.error().subject}});
      return one(*id);
    }
    if (what == "limits") {
      if (req.method() != verb::post) return not_allowed("POST");
      return set_limits(*id, req.body());
    }
    if (what == "files" && req.method() == verb::post) return set_files(*id, req.body());
    if (!reading) return not_allowed(what == "files" ? "GET, HEAD, POST" : "GET, HEAD");
    if (what == "peers") {
      json::array out;
      for (const auto& p : n.peers(*id)) out.push_back(to_json(p));
      return json_reply(status::ok, out);
    }
    if (what == "files") {
      json::array out;
      for (const auto& f : n.files(*id)) out.push_back(to_json(f));
      return json_reply(status::ok, out);
    }
    if (what == "trackers") {
      json::array out;
      for (const auto& t : n.trackers(*id)) out.push_back(to_json(t));
      return json_reply(status::ok, out);
    }
    if (what == "pieces") {
      const auto m = n.pieces(*id);
      if (!m) return json_reply(status::ok, json::object{{"count", 0}, {"state", ""}, {"availability", json::array{}}});
      return json_reply(status::ok, to_json(*m));
    }
    return not_found();
  }

  // {"download_rate": N, "upload_rate": N, "max_peers": N}: bytes/s (0:
  // none) and connections (1 or more); a field left out keeps its value.
  response set_limits(torrent_id id, const std::string& body) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return error_reply(status::bad_request, "expected a JSON object");
    const auto st = n.stats(id);
    if (!st) return error_reply(status::not_found, "no torrent with this info-hash");
    std::int64_t limit[3] = {st->download_limit, st->upload_limit, static_cast<std::int64_t>(st->max_peers)};
    const char* names[3] = {"download_rate", "upload_rate", "max_peers"};
    const std::int64_t least[3] = {0, 0, 1};
    const std::int64_t most[3] = {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max(), 65535};
    for (int i = 0; i < 3; ++i) {
      const auto* f = v.as_object().if_contains(names[i]);
      if (!f) continue;
      if (!f->is_int64() || f->as_int64() < least[i] || f->as_int64() > most[i])
        return error_reply(status::bad_request, std::string(names[i]) + (i < 2 ? ": expected bytes per second, 0 or more"
                                                                               : ": expected connections, 1 to 65535"));
      limit[i] = f->as_int64();
    }
    if (auto r = n.set_rate_limits(id, limit[0], limit[1]); !r) return error_reply(status::not_found, r.error().message());
    if (auto r = n.set_max_peers(id, static_cast<std::size_t>(limit[2])); !r)
      return error_reply(status::not_found, r.error().message());
    return one(id);
  }

  // {"selected": [i, ...]}: the indices (as /files and `sta info` number
  // them) of the files to download; the others are not.
  response set_files(torrent_id id, const std::string& body) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    const json::value* list = !ec && v.is_object() ? v.as_object().if_contains("selected") : nullptr;
    if (list == nullptr || !list->is_array()) return error_reply(status::bad_request, "expected {\"selected\": [file index, ...]}");
    const auto st = n.stats(id);
    if (!st) return error_reply(status::not_found, "no torrent with this info-hash");
    const std::size_t count = st->files;
    std::vector<bool> selected(count, false);
    for (const auto& x : list->as_array()) {
      if (!x.is_int64() || x.as_int64() < 0 || static_cast<std::uint64_t>(x.as_int64()) >= count)
        return error_reply(status::bad_request, "selected: expected file indices from 0 to " + std::to_string(count - 1));
      selected[static_cast<std::size_t>(x.as_int64())] = true;
    }
    auto r = n.set_selection(id, std::move(selected));
    if (!r) {
      if (r.error().code == make_error_code(errc::bad_state))
        return json_reply(status::conflict, json::object{{"error", r.error().code.message()}, {"state", r.error().subject}});
      if (r.error().code == make_error_code(errc::unknown_torrent))
        return error_reply(status::not_found, "no torrent with this info-hash");
      return error_reply(status::bad_request, r.error().message());
    }
    return one(id);
  }

  response one(torrent_id id) {
    const auto st = n.stats(id);
    if (!st) return error_reply(status::not_found, "no torrent with this info-hash");
    return json_reply(status::ok, to_json(*st));
  }

  response add(const request& req, std::string_view query) {
    if (req.body().size() > opts.max_torrent_bytes) return error_reply(status::payload_too_large, "torrent too large");
    const auto paused = query_param(query, "paused");
    const bool start_paused = paused && *paused == "1";
    detailed_result<torrent_id> id = fail(errc::bad_value, "");
    if (std::string_view(req.body()).starts_with("magnet:")) {
      std::string_view text = req.body();
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
      auto mg = meta::parse_magnet(text);
      if (!mg) return error_reply(status::bad_request, "not a valid magnet link: " + mg.error().message());
      id = actions.add_magnet(*mg, start_paused);
    } else {
      auto m = meta::parse(req.body());
      if (!m) return error_reply(status::bad_request, "not a valid .torrent: " + m.error().message());
      id = actions.add(std::move(*m), req.body(), start_paused);
    }
    if (!id) {
      const bool exists = id.error().code == make_error_code(errc::already_added);
      return error_reply(exists ? status::conflict : status::bad_request, id.error().message());
    }
    auto r = one(*id);
    r.result(status::created);
    return r;
  }

  json::object node_json() {
    json::array listen;
    for (const auto& e : n.listening()) listen.emplace_back(e.to_string());
    json::array hist;
    for (const auto& h : history) hist.push_back(json::array{h[0], h[1], h[2]});
    return {{"version", kClientName},
            {"uptime", std::chrono::duration_cast<std::chrono::seconds>(clock::now() - started).count()},
            {"listen", std::move(listen)},
            {"totals", to_json(n.totals())},
            {"dht", to_json(n.dht())},
            {"history", std::move(hist)}};
  }

  // What changed since the reply numbered `rid` (qBittorrent's sync/maindata
  // idea): the torrents that changed, only the fields that did, the ones
  // removed; a full update when rid is unknown or too old.
  json::object sync(std::string_view query) {
    std::map<std::string, json::object> now;
    for (const auto& t : n.torrents()) now.emplace(t.info_hash.hex(), to_json(t));
    const auto given = query_param(query, "rid");
    std::uint64_t rid = 0;
    if (given) rid = std::strtoull(given->c_str(), nullptr, 10);
    const std::map<std::string, field_digest>* before = nullptr;
    for (const auto& [r, snap] : snapshots)
      if (r == rid) before = &snap;
    std::map<std::string, field_digest> digests;
    json::object torrents;
    json::array removed;
    for (auto& [hash, obj] : now) {
      field_digest d = fields.digest(obj);
      const field_digest* was = nullptr;
      if (before)
        if (const auto it = before->find(hash); it != before->end()) was = &it->second;
      if (was == nullptr) {
        torrents[hash] = std::move(obj);
      } else if (auto changed = fields.changes(*was, d, obj); !changed.empty()) {
        torrents[hash] = std::move(changed);
      }
      digests.emplace(hash, std::move(d));
    }
    if (before)
      for (const auto& [hash, d] : *before)
        if (!digests.count(hash)) removed.emplace_back(hash);
    const std::uint64_t mine = next_rid++;
    snapshots.emplace_back(mine, std::move(digests));
    if (snapshots.size() > kSyncSnapshots) snapshots.pop_front();
    json::object out{{"rid", mine},
                     {"full_update", before == nullptr},
                     {"torrents", std::move(torrents)},
                     {"torrents_removed", std::move(removed)},
                     {"node", to_json(n.totals())}};
    const dht_stats d = n.dht();
    json::object dht{{"enabled", d.enabled}};
    if (d.enabled) {
      dht["nodes"] = d.nodes;
      dht["good_nodes"] = d.good_nodes;
      dht["lookups"] = d.lookups;
    }
    out["dht"] = std::move(dht);
    if (!history.empty()) {
      const auto& h = history.back();
      out["sample"] = json::array{h[0], h[1], h[2]};
    }
    return out;
  }

  std::string metrics() {
    const auto totals = n.totals();
    const auto all = n.torrents();
    metrics_text m;
    m.family("sta_torrents", "gauge", "Torrents in the node by state.");
    m.sample("sta_torrents", {{"state", "live"}}, static_cast<double>(totals.live));
    m.sample("sta_torrents", {{"state", "checking"}}, static_cast<double>(totals.checking));
    m.sample("sta_torrents", {{"state", "queued"}}, static_cast<double>(totals.queued));
    m.sample("sta_torrents", {{"state", "paused"}}, static_cast<double>(totals.paused));
    m.sample("sta_torrents", {{"state", "error"}}, static_cast<double>(totals.errors));
    m.single("sta_connections", "gauge", "Peer connections of the process, connecting ones included.",
             static_cast<double>(totals.connections));
    m.single("sta_accept_errors_total", "counter", "Accepts that failed for want of descriptors or memory.",
             static_cast<double>(totals.accept_errors));
    m.single("sta_downloaded_bytes_total", "counter", "Payload bytes received since the node started.",
             static_cast<double>(totals.downloaded));
    m.single("sta_uploaded_bytes_total", "counter", "Payload bytes sent since the node started.",
             static_cast<double>(totals.uploaded));
    m.single("sta_download_rate_bytes", "gauge", "Payload bytes received per second, all torrents.",
             static_cast<double>(totals.down_rate));
    m.single("sta_upload_rate_bytes", "gauge", "Payload bytes sent per second, all torrents.",
             static_cast<double>(totals.up_rate));
    const dht_stats dht = n.dht();
    if (dht.enabled) {
      m.single("sta_dht_nodes", "gauge", "Nodes in the DHT's routing table.", static_cast<double>(dht.nodes));
      m.single("sta_dht_good_nodes", "gauge", "Nodes of the routing table heard from in the last 15 minutes.",
               static_cast<double>(dht.good_nodes));
      m.single("sta_dht_stored_peers", "gauge", "Peers other nodes announced to this one.",
               static_cast<double>(dht.stored_peers));
      m.single("sta_dht_lookups", "gauge", "DHT lookups running.", static_cast<double>(dht.lookups));
      m.family("sta_dht_queries_total", "counter", "DHT queries by direction and method.");
      for (auto method : {dht::krpc::method::ping, dht::krpc::method::find_node, dht::krpc::method::get_peers,
                          dht::krpc::method::announce_peer, dht::krpc::method::unknown}) {
        const auto i = static_cast<std::size_t>(method);
        const std::string name = method == dht::krpc::method::unknown ? "unknown" : std::string(dht::krpc::method_name(method));
        m.sample("sta_dht_queries_total", {{"direction", "in"}, {"method", name}}, static_cast<double>(dht.counters.queries_in[i]));
        if (method != dht::krpc::method::unknown)
          m.sample("sta_dht_queries_total", {{"direction", "out"}, {"method", name}},
                   static_cast<double>(dht.counters.queries_out[i]));
      }
      m.family("sta_dht_responses_total", "counter", "DHT responses by direction.");
      m.sample("sta_dht_responses_total", {{"direction", "in"}}, static_cast<double>(dht.counters.responses_in));
      m.sample("sta_dht_responses_total", {{"direction", "out"}}, static_cast<double>(dht.counters.responses_out));
      m.family("sta_dht_errors_total", "counter",
               "DHT errors: KRPC error replies in and out, timeouts, malformed and unexpected packets, "
               "queries over a source's limit, packets held back by the send limits.");
      const std::pair<const char*, std::uint64_t> errors[] = {
          {"reply_in", dht.counters.errors_in},         {"reply_out", dht.counters.errors_out},
          {"timeout", dht.counters.timeouts},           {"malformed", dht.counters.malformed},
          {"unexpected", dht.counters.unexpected},      {"rate_limited", dht.counters.rate_limited},
          {"send_throttled", dht.counters.send_throttled}};
      for (const auto& [kind, value] : errors)
        m.sample("sta_dht_errors_total", {{"kind", kind}}, static_cast<double>(value));
    }
    m.single("sta_cache_bytes", "gauge", "Bytes held by the reactors' block caches.",
             static_cast<double>(n.cached_bytes()));
    const node_io io = n.io();
    m.single("sta_disk_read_bytes_total", "counter", "Bytes the torrents' storage read (to serve, to check a piece again).",
             static_cast<double>(io.disk_read));
    m.single("sta_disk_written_bytes_total", "counter", "Bytes of verified pieces the torrents' storage wrote.",
             static_cast<double>(io.disk_written));
    m.single("sta_disk_fixed_ops_total", "counter",
             "Storage reads and writes of piece buffers in registered memory (fixed-buffer operations).",
             static_cast<double>(io.fixed_ops));
    m.single("sta_registered_bytes", "gauge",
             "Bytes of the piece buffer arena registered with the reactors' rings (pinned, counted against "
             "RLIMIT_MEMLOCK once for all of them).",
             static_cast<double>(io.registered_bytes));
    m.histogram("sta_disk_read_seconds", "Time one storage read took (a batch of blocks to serve, or a piece).",
                latency_histogram::kBounds, io.read_latency.counts, io.read_latency.sum_seconds);
    m.histogram("sta_disk_write_seconds", "Time writing one verified piece took.", latency_histogram::kBounds,
                io.write_latency.counts, io.write_latency.sum_seconds);
    m.family("sta_reactor_cpu_seconds_total", "counter",
             "CPU time (user and system) each reactor's thread used: how busy it was.");
    for (std::size_t i = 0; i < io.reactor_cpu.size(); ++i)
      m.sample("sta_reactor_cpu_seconds_total", {{"reactor", std::to_string(i)}}, io.reactor_cpu[i]);
    const std::size_t shown = std::min(all.size(), kMetricsTorrents);
    auto per_torrent = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
      m.family(name, type, help);
      for (std::size_t i = 0; i < shown; ++i) {
        const std::string hash = all[i].info_hash.hex();
        m.sample(name, {{"info_hash", hash}, {"name", all[i].name}}, static_cast<double>(value(all[i])));
      }
    };
    per_torrent("sta_torrent_downloaded_bytes_total", "counter", "Payload bytes received this run.",
                [](const torrent_stats& t) { return t.downloaded; });
    per_torrent("sta_torrent_uploaded_bytes_total", "counter", "Payload bytes sent this run.",
                [](const torrent_stats& t) { return t.uploaded; });
    per_torrent("sta_torrent_wasted_bytes_total", "counter", "Bytes received and thrown away (failed pieces, duplicates).",
                [](const torrent_stats& t) { return t.wasted; });
    per_torrent("sta_torrent_hash_failures_total", "counter", "Pieces that failed their hash.",
                [](const torrent_stats& t) { return t.hash_failures; });
    per_torrent("sta_torrent_read_errors_total", "counter", "Reads of verified pieces that failed.",
                [](const torrent_stats& t) { return t.read_errors; });
    per_torrent("sta_torrent_disk_read_bytes_total", "counter", "Bytes its storage read.",
                [](const torrent_stats& t) { return t.disk_read; });
    per_torrent("sta_torrent_disk_written_bytes_total", "counter", "Bytes its storage wrote.",
                [](const torrent_stats& t) { return t.disk_written; });
    per_torrent("sta_torrent_progress_ratio", "gauge", "Verified share of the selected pieces.", [](const torrent_stats& t) {
      return t.selected_total > 0 ? static_cast<double>(t.verified) / static_cast<double>(t.selected_total) : 1.0;
    });
    per_torrent("sta_torrent_download_rate_bytes", "gauge", "Payload bytes received per second.",
                [](const torrent_stats& t) { return t.down_rate; });
    per_torrent("sta_torrent_upload_rate_bytes", "gauge", "Payload bytes sent per second.",
                [](const torrent_stats& t) { return t.up_rate; });
    m.family("sta_torrent_peers", "gauge", "Connected peers by kind.");
    for (std::size_t i = 0; i < shown; ++i) {
      const std::string hash = all[i].info_hash.hex();
      m.sample("sta_torrent_peers", {{"info_hash", hash}, {"name", all[i].name}, {"kind", "seed"}},
               static_cast<double>(all[i].seeds));
      m.sample("sta_torrent_peers", {{"info_hash", hash}, {"name", all[i].name}, {"kind", "leecher"}},
               static_cast<double>(all[i].peers - all[i].seeds));
    }
    return m.take();
  }
};

result<std::unique_ptr<node_web>, std::string> node_web::start(node& n, web_options opts, web_actions actions) {
  auto p = std::make_unique<impl>(n, std::move(opts), std::move(actions));
  server_options so;
  so.listen = {p->opts.listen};
  so.threads = 1;
  so.max_connections = 64;
  so.max_body_bytes = p->opts.max_torrent_bytes;
  impl* raw = p.get();
  auto web = server::start(std::move(so), [raw](const request& req, const client& who) { return raw->handle(req, who); });
  if (!web) return web.error();
  p->web = std::move(*web);
  // The Host values a browser sends for this server.
  const endpoint bound = p->web->endpoints().front();
  const std::string port = std::to_string(bound.port());
  p->hosts.push_back(bound.to_string());
  if (bound.is_loopback()) {
    p->hosts.push_back("localhost:" + port);
    p->hosts.push_back(bound.family() == AF_INET6 ? "127.0.0.1:" + port : "[::1]:" + port);
  }
  for (const auto& h : p->opts.hosts) {
    p->hosts.push_back(h);
    if (h.find(':') == std::string::npos) p->hosts.push_back(h + ":" + port);
  }
  p->sampler = std::make_unique<boost::asio::steady_timer>(p->web->context(0));
  boost::asio::post(p->web->context(0), [raw] { raw->sample(); });
  return std::unique_ptr<node_web>(new node_web(std::move(p)));
}

node_web::node_web(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

node_web::~node_web() { stop(); }

endpoint node_web::address() const { return impl_->web->endpoints().front(); }
const std::string& node_web::token() const { return impl_->opts.token; }

void node_web::stop() {
  if (!impl_ || !impl_->web) return;
  impl_->web->stop();
  impl_->sampler.reset();
  impl_->web.reset();
}

std::string make_token() {
  std::string raw(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("no random bytes for the access token");
  return to_hex(raw);
}

}  // namespace sta::http
