// node_web: the node's live dashboard, its JSON API under /api/v1/ and
// /metrics, over the shared HTTP server (one thread of its own). Every
// answer is built from the node's typed snapshots (snapshot_json.hpp).
//
// Guards, before anything else: the Host header must name this server (the
// bound address, or localhost for a loopback one, or a name in `hosts`),
// against DNS rebinding; with a token, every request must carry it (as
// "Authorization: Bearer TOKEN" or the sta_token cookie that GET /?token=
// sets); requests that change something (POST, DELETE) must carry the
// X-Sta-Request header, which no other site can make a browser send, and
// an Origin, if any, of this server (CSRF).
//
// The node is reached through its blocking calls from the server's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "base/result.hpp"
#include "meta/magnet.hpp"
#include "session/node.hpp"

namespace sta::http {

struct web_options {
  endpoint listen;
  std::string token;               // required of every request when not empty
  std::vector<std::string> hosts;  // further Host names accepted (host or host:port)
  std::size_t max_torrent_bytes = 16u << 20;  // an uploaded .torrent
};

// How the dashboard's actions reach the node: the run that owns it decides
// where an added torrent's data lives and what is recorded of it.
struct web_actions {
  std::function<detailed_result<torrent_id>(meta::metainfo m, std::string torrent_file, bool paused)> add;
  std::function<detailed_result<void>(torrent_id id, bool with_data)> remove;
  // A magnet link (the body of the same POST, when it starts "magnet:").
  std::function<detailed_result<torrent_id>(const meta::magnet& m, bool paused)> add_magnet;
};

class node_web {
 public:
  static result<std::unique_ptr<node_web>, std::string> start(node& n, web_options opts, web_actions actions);
  ~node_web();
  node_web(const node_web&) = delete;
  node_web& operator=(const node_web&) = delete;

  // Where it listens (port resolved), and the token it asks for.
  endpoint address() const;
  const std::string& token() const;
  void stop();

  struct impl;

 private:
  explicit node_web(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// A token for --web without --web-token: 32 random bytes as hex.
std::string make_token();

}  // namespace sta::http
