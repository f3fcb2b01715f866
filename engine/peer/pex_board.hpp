// pex_board: the peers a torrent is connected to, as peer exchange (BEP
// 11) tells them to other peers: the home reactor rewrites it about once a
// second from the slot table (peers we connected to at the address we
// used; peers that connected to us at their extended handshake's listen
// port, if they gave one), and each connection reads a copy when it is
// time to send its ut_pex message (at most once a minute). A mutex, never
// taken on a per-block path. Owned by the torrent; absent for a private
// torrent.
#pragma once

#include <mutex>
#include <vector>

#include "wire/ut_pex.hpp"

namespace sta::peer {

class pex_board {
 public:
  void publish(std::vector<wire::ut_pex::peer> peers) {
    std::lock_guard lock(mutex_);
    peers_ = std::move(peers);
  }
  std::vector<wire::ut_pex::peer> read() const {
    std::lock_guard lock(mutex_);
    return peers_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<wire::ut_pex::peer> peers_;
};

}  // namespace sta::peer
