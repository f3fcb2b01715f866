// Piece data between memory and storage, on the reactors: finishing a
// downloaded piece once its hash is done (write, announce, or strike its
// senders) and checking again a piece that could not be read while
// seeding. torrent's store() and serve() (piece_io.cpp) are built on these.
// Reactor threads only; the block cache used is the calling reactor's own.
#pragma once

#include "reactor/reactor.hpp"
#include "reactor/task.hpp"
#include "swarm/torrent.hpp"

namespace sta::swarm {

// Runs once per piece, once its last block is in its hash (torrent::
// store hashes blocks as they land): if it `matches` its SHA-1, writes the
// piece to storage, marks it verified and logs it for 'have'; if not,
// discards it and reports who sent what (piece_verdict) so the home
// reactor can strike the right hosts. A failed write stops the torrent
// with an error naming the piece and file.
io::task<void> finish_piece(io::reactor& r, torrent& t, piece_index p, bool matches, torrent::work_guard);

// After a read of a verified piece failed: reads and hashes it again; it is
// had again if it verifies, else downloaded again (if selected).
io::task<void> recheck_piece(io::reactor& r, torrent& t, piece_index p, torrent::work_guard);

}  // namespace sta::swarm
