// disk_storage: a torrent's files under SAVE_DIR, read and written with
// io_uring from whichever reactor asks (DESIGN.md layer 3). Opening it
// checks what is already there: a matching resume record is trusted,
// otherwise existing files are hashed on every core; files are then opened
// (and, to download, created and preallocated) through root_dir. The
// resume record goes to SAVE_DIR/.sta. See storage.hpp for the threads.
#pragma once

#include "storage/storage.hpp"

namespace sta::storage {

// Refuses: a torrent named like sta's state directory (reserved_name); more
// files than the descriptor limit allows (too_many_files); to seed, data
// that is missing, the wrong size or does not verify; to download, an
// existing file larger than the torrent's that verifies no piece, unless
// allow_truncate (file_larger).
detailed_result<opened> open_disk(const open_params& p);

}  // namespace sta::storage
