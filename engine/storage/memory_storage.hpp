// memory_storage: a torrent's bytes in memory (DESIGN.md layer 3's backend
// for tests; file selection and parts files are the disk's business and
// not modelled here), with fault injection: fail the Nth write or read, or every
// read of one piece, with the error asked for (EIO, ENOSPC, ...), the way
// Beast's test::stream fails its Nth call. The bytes live in a
// memory_disk that outlives the sessions using it, so a test can restart a
// node "on the same disk" and look at what was kept. Thread-safety: see
// storage.hpp; the fault settings are atomics, set by the test at any time.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "storage/storage.hpp"

namespace sta::storage {

class memory_disk {
 public:
  // Empty (nothing written yet)...
  explicit memory_disk(std::int64_t size);
  // ...or holding the whole torrent already.
  explicit memory_disk(std::string_view contents);

  // The bytes as they are now.
  std::string contents() const;
  std::int64_t size() const { return static_cast<std::int64_t>(bytes_.size()); }

  // Counted from now, 1-based: the nth write (or read) fails with e, and so
  // does every later one if `from_then_on`. 0 turns the fault off.
  void fail_write(unsigned nth, std::errc e, bool from_then_on = false);
  void fail_read(unsigned nth, std::errc e, bool from_then_on = false);
  // Every read of bytes of this piece fails with e (a bad sector).
  void fail_reads_of(std::uint32_t piece, std::errc e);
  unsigned writes() const { return writes_.load(); }
  unsigned reads() const { return reads_.load(); }
  std::int64_t bytes_read() const { return bytes_read_.load(); }
  // The verified pieces of the last save_resume, if any.
  std::optional<bitfield> resume() const;

 private:
  friend class memory_storage;
  struct fault {
    std::atomic<unsigned> at{0};  // the count that fails; 0: none
    std::atomic<bool> on{false};  // every one from `at` on
    std::atomic<int> error{0};
  };
  // 0, or the error this call fails with.
  static int next(std::atomic<unsigned>& count, const fault& f);

  std::vector<std::byte> bytes_;
  std::unique_ptr<std::atomic<bool>[]> written_;  // per piece, once a geometry is known
  std::atomic<unsigned> writes_{0}, reads_{0};
  std::atomic<std::int64_t> bytes_read_{0};
  fault write_fault_, read_fault_;
  std::atomic<std::int64_t> bad_piece_{-1};
  std::atomic<int> bad_piece_error_{0};
  mutable std::mutex resume_mutex_;
  std::optional<bitfield> resume_;
  bool full_ = false;  // made with contents
};

// The factory of a memory backend on `disk`. Its check trusts the last
// save_resume; without one it hashes the pieces the disk holds.
factory memory_factory(std::shared_ptr<memory_disk> disk);

}  // namespace sta::storage
