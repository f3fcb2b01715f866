// metered_storage: any storage backend with its reads and writes counted,
// a decorator the node puts around every torrent's storage (DESIGN.md
// layer 3): bytes per torrent, and the time each call took into the
// process's latency histograms, for /metrics. Counting adds a clock read
// and a few relaxed atomic adds per call (a batch read or a piece write),
// nothing per block. Threads: as storage.hpp; the meters are atomics and
// must outlive the storage.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "base/latency_histogram.hpp"
#include "storage/storage.hpp"

namespace sta::storage {

// Bytes read and written (of the process, or of one torrent across the
// storages it has had: a check again opens a new one).
struct io_bytes {
  std::atomic<std::int64_t> read{0};
  std::atomic<std::int64_t> written{0};
};

// The process's: its bytes, and how long reads and writes took.
struct io_meter {
  io_bytes bytes;
  latency_histogram read_latency;
  latency_histogram write_latency;
};

std::unique_ptr<storage> metered(std::unique_ptr<storage> inner, io_meter& process, std::shared_ptr<io_bytes> torrent);

}  // namespace sta::storage
