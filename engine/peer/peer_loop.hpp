// peer_loop: the thin coroutines that run one peer connection on a
// reactor. exchange_handshakes() swaps the 68-byte handshakes within one
// deadline; run_peer() then receives, decodes with the wire codec, feeds
// peer_state and carries out what it asks (send its frames, store blocks,
// serve requests) until it gives a reason to close. Nothing protocol-
// related lives here; peer_state decides, this moves bytes.
//
// The connection reaches its torrent through torrent_io, which the torrent
// implements: the pure view peer_state works on, and the I/O behind the
// actions (storing a block into its piece, reading blocks to serve).
// Everything runs on the calling reactor; the connection stays there.
#pragma once

#include <chrono>
#include <span>
#include <vector>

#include "base/rate_limiter.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "peer/peer_state.hpp"
#include "peer/recv_buffer.hpp"
#include "peer/send_list.hpp"
#include "reactor/reactor.hpp"
#include "reactor/task.hpp"
#include "wire/codec.hpp"

namespace sta::peer {

class torrent_io {
 public:
  virtual ~torrent_io() = default;
  virtual torrent_view view() = 0;
  // The torrent's limit and the process's, both obeyed.
  virtual rate_limits download_limits() = 0;
  virtual rate_limits upload_limits() = 0;
  virtual std::uint16_t listen_port() const = 0;
  // The torrent is shutting down: connections end.
  virtual bool stopping() const = 0;
  // Peers a connection learnt by peer exchange, for the torrent's candidates.
  virtual void learned_peers(std::vector<endpoint> peers) = 0;
  // A DHT node a peer named in its 'port' message.
  virtual void dht_node(const endpoint& node) = 0;
  // A block peer_state accepted, from the connection `from`: copied into
  // its piece, which is hashed and written once this was its last block.
  virtual void store(io::reactor& r, const block_in& b, picker::owner_id from) = 0;
  // Receiving in place: where block b of piece p goes in its piece (made
  // on first use), for a block peer_state reserved...
  virtual std::span<std::byte> block_place(piece_index p, block_index b) = 0;
  // ...and, once its bytes are all there and peer_state kept it, as if
  // store() had copied them.
  virtual void landed_in_place(io::reactor& r, piece_index p, block_index b, picker::owner_id from) = 0;
  // Appends a 'piece' frame for each upload to `frames`, reading what this
  // reactor's cache lacks; the blocks are referenced, not copied. Uploads
  // whose data could not be read go to `failed` instead.
  virtual io::task<void> serve(io::reactor& r, std::span<const upload> batch, send_list& frames,
                               std::vector<upload>& failed) = 0;
};

// The 68-byte handshakes, each within `deadline`. An outgoing connection
// sends first; an incoming one receives first, so the node can find the
// torrent by its info-hash before it answers. recv_handshake leaves the
// bytes that came after the handshake in `buf`.
io::task<result<void>> send_handshake(io::reactor& r, int sock, const wire::handshake& ours,
                                      clock::time_point deadline);
io::task<result<wire::handshake>> recv_handshake(io::reactor& r, int sock, clock::time_point deadline,
                                                 recv_buffer& buf);

struct connection_start {
  unique_fd sock;
  wire::handshake theirs;
  recv_buffer buf;  // what followed the handshake
};

// Runs the connection on the current reactor until it ends; the slot is
// the torrent's to release afterwards. Returns why it ended.
io::task<error_code> run_peer(torrent_io& t, peer_slot& slot, picker::owner_id owner, connection_start start);

// On a reactor thread: the connections of `t` on this reactor, if `t` is
// stopping, end now instead of at their next receive deadline (up to a
// second later, which a shutdown would wait for).
void wake_stopping(const torrent_io* t);

}  // namespace sta::peer
