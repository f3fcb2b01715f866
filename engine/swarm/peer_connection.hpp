// One peer connection: a coroutine that does the handshake and then runs a
// reader loop (decode messages, act on them, time out requests, publish
// rates) while a writer coroutine on the same reactor sends what the reader
// queued: control messages, requests, and blocks that peers asked for.
// Everything in a connection belongs to the reactor it runs on; what it
// shares with the rest of the torrent goes through `torrent` (atomics).
#pragma once

#include "reactor/socket.hpp"
#include "reactor/task.hpp"
#include "swarm/torrent.hpp"

namespace sta::swarm {

// Runs the connection on the current reactor until it ends; the socket is
// connected already. Releases `slot` before it returns.
io::task<void> run_peer(torrent& t, unique_fd sock, peer_slot& slot);

}  // namespace sta::swarm
