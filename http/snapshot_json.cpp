#include "http/snapshot_json.hpp"

#include <cmath>

namespace sta::http {

boost::json::object to_json(const torrent_stats& t) {
  const double progress =
      t.selected_total > 0 ? static_cast<double>(t.verified) / static_cast<double>(t.selected_total) : 1.0;
  boost::json::object o{
      {"info_hash", t.info_hash.hex()},
      {"name", t.name},
      {"state", std::string(swarm::to_string(t.state))},
      {"mode", t.mode == torrent_mode::seed ? "seed" : "download"},
      {"progress", t.state == swarm::torrent_state::checking || !t.has_metadata ? 0.0 : progress},
      {"checked", t.checked},
      {"total", t.total},
      {"files", t.files},
      {"selected_total", t.selected_total},
      {"verified", t.verified},
      {"pieces", t.pieces},
      {"verified_pieces", t.verified_pieces},
      {"complete", t.complete},
      {"downloaded", t.downloaded},
      {"uploaded", t.uploaded},
      {"down_rate", t.down_rate},
      {"up_rate", t.up_rate},
      {"download_limit", t.download_limit},
      {"upload_limit", t.upload_limit},
      {"max_peers", t.max_peers},
      {"peers", t.peers},
      {"seeds", t.seeds},
      {"wasted", t.wasted},
      {"hash_failures", t.hash_failures},
      {"banned", t.banned_hosts},
      {"read_errors", t.read_errors},
      {"disk_read", t.disk_read},
      {"disk_written", t.disk_written},
      {"ratio", t.selected_total > 0 ? static_cast<double>(t.uploaded) / static_cast<double>(t.selected_total) : 0.0},
  };
  // Seconds to completion at the current rate; absent when unknown.
  if (!t.complete && t.down_rate > 0)
    o["eta"] = static_cast<std::int64_t>(std::ceil(static_cast<double>(t.selected_total - t.verified) /
                                                   static_cast<double>(t.down_rate)));
  if (!t.tracker_status.empty()) o["tracker"] = t.tracker_status;
  if (t.error) o["error"] = *t.error;
  o["has_metadata"] = t.has_metadata;
  if (!t.has_metadata) {
    o["metadata_peers"] = t.metadata_peers;
    o["metadata_size"] = t.metadata_size;
  }
  return o;
}

boost::json::object to_json(const node_stats& n) {
  return {{"torrents", n.torrents},         {"live", n.live},
          {"checking", n.checking},         {"queued", n.queued},
          {"paused", n.paused},             {"errors", n.errors},
          {"connections", n.connections},   {"accept_errors", n.accept_errors},
          {"down_rate", n.down_rate},       {"up_rate", n.up_rate},
          {"downloaded", n.downloaded},     {"uploaded", n.uploaded},
          {"download_limit", n.download_limit}, {"upload_limit", n.upload_limit}};
}

boost::json::object to_json(const peer_stats& p) {
  return {{"address", p.address.to_string()},
          {"client", p.client},
          {"outgoing", p.outgoing},
          {"am_choking", p.am_choking},
          {"am_interested", p.am_interested},
          {"peer_choking", p.peer_choking},
          {"peer_interested", p.peer_interested},
          {"snubbed", p.snubbed},
          {"seed", p.seed},
          {"down_rate", p.down_rate},
          {"up_rate", p.up_rate},
          {"progress", p.progress}};
}

boost::json::object to_json(const file_stats& f) {
  return {{"index", f.index}, {"path", f.path}, {"size", f.size}, {"verified", f.verified}, {"selected", f.selected}};
}

boost::json::object to_json(const tracker_stats& t) {
  boost::json::object o{{"url", t.url}, {"tier", t.tier}, {"last", t.last}, {"peers", t.peers}};
  if (t.next_in >= 0) o["next_announce_in"] = t.next_in;
  return o;
}

boost::json::object to_json(const dht_stats& d) {
  boost::json::object o{{"enabled", d.enabled}};
  if (!d.enabled) return o;
  o["id"] = d.id;
  boost::json::array sockets;
  for (const auto& s : d.sockets) sockets.emplace_back(s);
  o["sockets"] = std::move(sockets);
  if (d.external) o["external_address"] = *d.external;
  o["nodes"] = d.nodes;
  o["good_nodes"] = d.good_nodes;
  o["replacements"] = d.replacements;
  boost::json::array buckets;
  for (auto b : d.buckets) buckets.emplace_back(b);
  o["buckets"] = std::move(buckets);
  o["torrents"] = d.torrents;
  o["stored_torrents"] = d.stored_torrents;
  o["stored_peers"] = d.stored_peers;
  o["lookups"] = d.lookups;
  o["in_flight"] = d.in_flight;
  const auto& c = d.counters;
  boost::json::object in, out;
  for (auto m : {dht::krpc::method::ping, dht::krpc::method::find_node, dht::krpc::method::get_peers,
                 dht::krpc::method::announce_peer}) {
    const auto i = static_cast<std::size_t>(m);
    in[dht::krpc::method_name(m)] = c.queries_in[i];
    out[dht::krpc::method_name(m)] = c.queries_out[i];
  }
  in["unknown"] = c.queries_in[static_cast<std::size_t>(dht::krpc::method::unknown)];
  o["queries_in"] = std::move(in);
  o["queries_out"] = std::move(out);
  o["responses_in"] = c.responses_in;
  o["responses_out"] = c.responses_out;
  o["errors_in"] = c.errors_in;
  o["errors_out"] = c.errors_out;
  o["timeouts"] = c.timeouts;
  o["malformed"] = c.malformed;
  o["unexpected"] = c.unexpected;
  o["rate_limited"] = c.rate_limited;
  o["send_throttled"] = c.send_throttled;
  o["bytes_in"] = c.bytes_in;
  o["bytes_out"] = c.bytes_out;
  o["peers_found"] = c.peers_found;
  return o;
}

boost::json::object to_json(const piece_map& m) {
  std::string states(m.state.size(), '0');
  for (std::size_t i = 0; i < m.state.size(); ++i) states[i] = static_cast<char>('0' + m.state[i]);
  boost::json::array availability;
  availability.reserve(m.availability.size());
  for (auto a : m.availability) availability.emplace_back(a);
  return {{"count", m.state.size()}, {"state", std::move(states)}, {"availability", std::move(availability)}};
}

}  // namespace sta::http
