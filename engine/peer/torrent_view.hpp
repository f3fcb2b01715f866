// torrent_view: the narrow view of a torrent that peer_state works on: its
// geometry, its picker, its verified-piece log, the limits of a peer, and
// the counters every connection adds to. Everything in it is plain data or
// atomics shared by the torrent's connections on every reactor; nothing in
// it is a socket, a reactor or a file. Holds references only: the torrent
// outlives its connections.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "base/piece_geometry.hpp"
#include "peer/limits.hpp"
#include "peer/pex_board.hpp"
#include "picker/piece_picker.hpp"
#include "picker/verified_log.hpp"

namespace sta::peer {

struct torrent_counters {
  std::atomic<std::int64_t> downloaded{0};  // payload bytes received and kept
  std::atomic<std::int64_t> uploaded{0};    // payload bytes sent
  std::atomic<std::int64_t> wasted{0};      // duplicate, unasked-for or failed-hash bytes
  std::atomic<std::uint32_t> unchoked{0};   // peers we unchoke now
  // Bumped when a piece we had is lost (a read failed): connections then
  // count again which of a peer's pieces we want.
  std::atomic<std::uint32_t> lost{0};
};

struct torrent_view {
  const piece_geometry* geo;
  picker::piece_picker* picker;
  const picker::verified_log* log;
  const limits* lim;
  torrent_counters* counters;
  // The info dictionary, served to peers that ask by ut_metadata (BEP 9);
  // empty for a private torrent, which never hands it out.
  std::string_view metadata{};
  // The torrent's connected peers for ut_pex (BEP 11); null for a private
  // torrent, which neither sends nor takes peer exchange.
  const pex_board* pex = nullptr;
  // The UDP port of the node's DHT, advertised in the handshake and a
  // 'port' message, and peers' 'port' messages taken; 0 with no DHT and
  // for a private torrent.
  std::uint16_t dht_port = 0;
};

}  // namespace sta::peer
