// snapshot_json: the node's typed snapshots (session/node.hpp) as JSON —
// the one schema the web API, the dashboard and the CLI's --json lines
// share. Field names are documented in the README's API section.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "session/node.hpp"

namespace sta::http {

boost::json::object to_json(const torrent_stats& t);
boost::json::object to_json(const node_stats& n);
boost::json::object to_json(const peer_stats& p);
boost::json::object to_json(const file_stats& f);
boost::json::object to_json(const tracker_stats& t);
// {"enabled"} and, when on: its id, sockets, node counts, buckets, stored
// announces, lookups and per-method query counts in and out.
boost::json::object to_json(const dht_stats& d);
// {"count", "state": one digit per piece (0 missing, 1 downloading, 2 have,
// 3 not wanted), "availability": [peers per piece]}.
boost::json::object to_json(const piece_map& m);

}  // namespace sta::http
