#include "session/session.hpp"

namespace sta {

detailed_result<std::unique_ptr<session>> session::start(const meta::metainfo& m, session_options opts) {
  node_options no;
  no.threads = opts.threads;
  no.listen = std::move(opts.listen);
  no.max_connections = opts.max_connections;
  no.max_half_open = opts.max_half_open;
  no.tracker_ip = std::move(opts.tracker_ip);
  no.handshake_timeout = opts.limits.peer.handshake_timeout;
  torrent_options to;
  to.save_dir = std::move(opts.save_dir);
  to.mode = opts.mode;
  to.peers = std::move(opts.peers);
  to.use_trackers = opts.use_trackers;
  to.limits = opts.limits;
  to.selected = std::move(opts.selected);
  to.sequential = opts.sequential;
  to.allow_truncate = opts.allow_truncate;
  to.direct_writes = opts.direct_writes;
  to.storage = std::move(opts.storage);
  to.on_check_progress = std::move(opts.on_check_progress);

  std::unique_ptr<session> s(new session());
  auto n = node::start(std::move(no));
  if (!n) return n.error();
  s->node_ = std::move(*n);
  auto id = s->node_->add(m, std::move(to));
  if (!id) return id.error();
  s->id_ = *id;
  if (auto checked = s->node_->wait_checked(s->id_); !checked) return checked.error();
  return s;
}

}  // namespace sta
