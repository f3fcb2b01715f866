// node_dashboard: the node's web page, one self-contained HTML document
// (inline CSS and script, no external assets, works offline; built on
// dashboard_page like the tracker's). It polls /api/v1/sync about once a
// second and updates the torrent table in place, draws the node's speed
// graph on a canvas, and for the torrent opened shows its files (with their
// selection, which it can change), piece map, peers, trackers, limits and
// own speed graph.
#pragma once

#include <string_view>

namespace sta::http {

std::string_view node_dashboard_html();

}  // namespace sta::http
