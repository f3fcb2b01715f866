// Piece data between memory and disk, through the reactor: reading pieces
// for seeding into a small per-reactor cache of recently served pieces, and
// finishing a downloaded piece (hash, write, announce). Reactor threads only;
// the cache is the calling reactor's own.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.hpp"
#include "reactor/reactor.hpp"
#include "reactor/task.hpp"
#include "swarm/torrent.hpp"

namespace sta::swarm {

// The piece's bytes if this reactor has them cached, else nullptr. Valid
// until the calling coroutine next suspends.
const std::byte* cached_piece(const torrent& t, std::uint32_t piece);

// Reads the piece into this reactor's cache; the pointer is valid until the
// calling coroutine next suspends.
io::task<result<const std::byte*>> read_piece(io::reactor& r, const torrent& t, std::uint32_t piece);

// Runs once per piece, on the reactor whose connection wrote its last block:
// checks the SHA-1; if it matches, writes the piece to its files, marks it
// verified and logs it for 'have'; if not, discards it, gives every peer
// that sent a block of it a strike (banning repeat offenders) and makes it
// requestable again. A failed write stops the torrent with an error.
io::task<void> finish_piece(io::reactor& r, torrent& t, std::uint32_t piece);

}  // namespace sta::swarm
