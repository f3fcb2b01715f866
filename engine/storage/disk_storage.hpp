// disk_storage: a torrent's files under SAVE_DIR, read and written with
// io_uring from whichever reactor asks (DESIGN.md layer 3). Opening it
// checks what is already there: a matching resume record is trusted,
// otherwise existing files are hashed on every core; files are then opened
// (and, to download, created and preallocated) through root_dir. The
// resume record goes to SAVE_DIR/.sta. See storage.hpp for the threads.
#pragma once

#include "storage/storage.hpp"

namespace sta::storage {

// Refuses: a torrent named like sta's state directory in SAVE_DIR, when that
// is where the state lives (reserved_name); more
// files than the descriptor limit allows (too_many_files); to seed, data
// that is missing, the wrong size or does not verify; to download, an
// existing file larger than the torrent's that verifies no piece, unless
// allow_truncate (file_larger).
detailed_result<opened> open_disk(const open_params& p);

// Deletes the torrent's files in SAVE_DIR, the directories of it that are
// left empty, and its state files (in `state_dir`, empty: SAVE_DIR/.sta);
// what is not there is skipped. Resolved beneath SAVE_DIR like everything else, so a symlink
// never leads it outside. Blocking. The first error, if any.
detailed_result<void> remove_disk_data(const meta::metainfo& m, const std::string& save_dir,
                                       const std::string& state_dir = {});

}  // namespace sta::storage
