// storage: where a torrent's bytes live, behind one interface (DESIGN.md
// layer 3, STYLE rule 6), so the swarm layer never knows whether they are
// files under SAVE_DIR (disk_storage: io_uring reads and writes), memory
// (memory_storage: tests and fault injection) or nowhere (discard_storage:
// benchmarks of the network path alone).
//
// A backend is made by its factory on the control thread, which also checks
// what is already there (trusting a resume record or hashing) and returns
// the verified pieces. Then read() and write() run on any reactor,
// concurrently: a read is of a piece that is verified, a write is of a
// whole piece that has just been, so no two calls touch the same bytes
// except reads of one verified piece. flush() and save_resume() are for the
// control thread. Errors name what failed (a file, "memory") as the subject.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/bitfield.hpp"
#include "base/error.hpp"
#include "base/piece_geometry.hpp"
#include "meta/metainfo.hpp"
#include "reactor/reactor.hpp"
#include "reactor/task.hpp"

namespace sta::storage {

class storage {
 public:
  virtual ~storage() = default;

  // Fills `out` with the torrent's bytes from `offset` within piece `p`
  // (the range lies within the piece).
  virtual io::task<detailed_result<void>> read(io::reactor& r, piece_index p, std::uint32_t offset,
                                               std::span<std::byte> out) = 0;
  // Stores the whole of piece `p`.
  virtual io::task<detailed_result<void>> write(io::reactor& r, piece_index p, std::span<const std::byte> data) = 0;
  // Everything written so far is on stable storage. Blocking.
  virtual detailed_result<void> flush() = 0;
  // Flushes, then records that the pieces in `verified` are verified, so
  // the next start trusts them. Blocking.
  virtual detailed_result<void> save_resume(const bitfield& verified) = 0;
};

enum class open_intent {
  download,  // fetch what is missing: create what is not there
  seed,      // every piece must be there and verify
};

struct open_params {
  const meta::metainfo* meta = nullptr;
  std::string save_dir;
  std::string state_dir;  // resume records, parts files; empty: SAVE_DIR/.sta
  open_intent intent = open_intent::download;
  // One flag per file, or empty for all (download only).
  std::vector<bool> selected;
  // Download: an existing file larger than the torrent's that verifies no
  // piece is cut to size only when this is set; otherwise opening fails.
  bool allow_truncate = false;
  // Download: whole pages of a piece are written with O_DIRECT where the
  // file system allows it (no copy into the page cache); off, every write
  // is buffered.
  bool direct_writes = true;
  // While hashing existing data: bytes hashed so far and total.
  std::function<void(std::int64_t, std::int64_t)> on_check_progress;
  // Set by another thread to give up a check (the node stops): the result
  // is then incomplete and must be thrown away.
  const std::atomic<bool>* cancel = nullptr;
};

struct opened {
  std::unique_ptr<storage> store;
  bitfield have;  // pieces already verified there
};

using factory = std::function<detailed_result<opened>(const open_params&)>;

}  // namespace sta::storage
