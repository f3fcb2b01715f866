#include "storage/disk_storage.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/page_buffer.hpp"
#include "base/sha1.hpp"
#include "base/sys_error.hpp"
#include "meta/file_map.hpp"
#include "reactor/ops.hpp"
#include "storage/file_set.hpp"
#include "storage/resume.hpp"
#include "storage/verify.hpp"

namespace sta::storage {
namespace {

// Descriptors kept free for everything but the torrent's files: rings,
// listeners, connections, tracker requests.
constexpr std::int64_t kReservedDescriptors = 64;

class disk_storage final : public storage {
 public:
  disk_storage(const meta::metainfo& m, root_dir root, file_set files)
      : meta_(m), map_(m), root_(std::move(root)), files_(std::move(files)) {}

  io::task<detailed_result<void>> read(io::reactor& r, piece_index p, std::uint32_t offset,
                                       std::span<std::byte> out) override {
    std::size_t at = 0;
    for (const auto& s : map_.slices(p.value(), offset, static_cast<std::int64_t>(out.size()))) {
      const location where = files_.locate(s);
      const auto dest = out.subspan(at, static_cast<std::size_t>(s.length));
      at += dest.size();
      if (where.fd < 0) {
        std::fill(dest.begin(), dest.end(), std::byte{0});  // BEP 47 padding
        continue;
      }
      for (std::size_t done = 0; done < dest.size();) {
        auto n = co_await io::read(r, where.fd, dest.subspan(done), static_cast<std::uint64_t>(where.offset) + done);
        if (!n) co_return detailed_error{n.error(), shown(s.file)};
        if (*n == 0) co_return fail(errc::file_wrong_size, shown(s.file));  // truncated under us
        done += *n;
      }
    }
    co_return detailed_result<void>{};
  }

  io::task<detailed_result<void>> write(io::reactor& r, piece_index p, std::span<const std::byte> data) override {
    std::size_t at = 0;
    for (const auto& s : map_.piece_slices(p.value())) {
      const location where = files_.locate(s);
      const auto src = data.subspan(at, static_cast<std::size_t>(s.length));
      at += src.size();
      if (where.fd < 0) continue;
      // The pages the slice covers whole go to the disk with O_DIRECT (no
      // copy into the page cache), through a reused aligned buffer when the
      // slice is not at a page boundary in memory (a file that starts
      // within a piece); the bytes before and after them are buffered.
      const std::size_t head = (kPageSize - static_cast<std::size_t>(where.offset) % kPageSize) % kPageSize;
      std::size_t middle = 0;
      if (where.direct_fd >= 0 && direct_.load(std::memory_order_relaxed) && head < src.size())
        middle = (src.size() - head) / kPageSize * kPageSize;
      if (middle > 0) {
        const auto pages = src.subspan(head, middle);
        const std::int64_t offset = where.offset + static_cast<std::int64_t>(head);
        detailed_result<void> d;
        if (reinterpret_cast<std::uintptr_t>(pages.data()) % kPageSize == 0)
          d = co_await write_all(r, where.direct_fd, pages, offset, s.file);
        else
          d = co_await write_bounced(r, where.direct_fd, pages, offset, s.file);
        if (!d && d.error().code != std::errc::invalid_argument) co_return d.error();
        if (!d) {
          // The file system wants another alignment: buffered from now on.
          direct_.store(false, std::memory_order_relaxed);
          middle = 0;
        }
      }
      if (middle == 0) {
        auto w = co_await write_all(r, where.fd, src, where.offset, s.file);
        if (!w) co_return w.error();
        continue;
      }
      if (auto w = co_await write_all(r, where.fd, src.first(head), where.offset, s.file); !w) co_return w.error();
      const std::size_t tail = head + middle;
      if (auto w = co_await write_all(r, where.fd, src.subspan(tail), where.offset + static_cast<std::int64_t>(tail), s.file); !w)
        co_return w.error();
    }
    co_return detailed_result<void>{};
  }

  detailed_result<void> flush() override {
    for (std::size_t i = 0; i < files_.size(); ++i)
      if (files_.fd(i) >= 0 && ::fdatasync(files_.fd(i)) != 0) return detailed_error{last_sys_error(), shown(i)};
    if (files_.parts_fd() >= 0 && ::fdatasync(files_.parts_fd()) != 0)
      return detailed_error{last_sys_error(), root_.shown_state(parts_name(meta_.info_hash))};
    return {};
  }

  detailed_result<void> save_resume(const bitfield& verified) override {
    // Every piece in `verified` was written before this flush.
    if (auto f = flush(); !f) return f.error();
    resume_data r;
    r.info_hash = meta_.info_hash;
    r.verified.resize(verified.size());
    for (std::size_t i = 0; i < verified.size(); ++i) r.verified[i] = verified.test(i);
    r.files = stamp_files(meta_, root_);
    if (files_.parts_fd() >= 0) {
      r.in_parts.resize(files_.size());
      for (std::size_t i = 0; i < files_.size(); ++i) r.in_parts[i] = files_.in_parts(i);
      struct stat st {};
      if (::fstat(files_.parts_fd(), &st) == 0) r.parts = stamp_of(st);
    }
    return sta::storage::save_resume(root_, r);
  }

 private:
  io::task<detailed_result<void>> write_all(io::reactor& r, int fd, std::span<const std::byte> src, std::int64_t offset,
                                            std::size_t file) {
    for (std::size_t done = 0; done < src.size();) {
      auto n = co_await io::write(r, fd, src.subspan(done), static_cast<std::uint64_t>(offset) + done);
      if (!n) co_return detailed_error{n.error(), shown(file)};
      if (*n == 0) co_return detailed_error{make_error_code(std::errc::no_space_on_device), shown(file)};
      done += *n;
    }
    co_return detailed_result<void>{};
  }

  // O_DIRECT of bytes not page-aligned in memory: copied 1 MiB at a time
  // into a pooled aligned buffer, cheaper than a copy into the page cache.
  io::task<detailed_result<void>> write_bounced(io::reactor& r, int fd, std::span<const std::byte> src,
                                                std::int64_t offset, std::size_t file) {
    constexpr std::size_t kChunk = 1 << 20;
    page_buffer buf = page_pool::for_this_thread().take_for_write(kChunk);
    detailed_result<void> out;
    for (std::size_t done = 0; done < src.size() && out; done += kChunk) {
      const std::size_t n = std::min(kChunk, src.size() - done);
      std::memcpy(buf.get(), src.data() + done, n);
      out = co_await write_all(r, fd, std::span<const std::byte>(buf.get(), n), offset + static_cast<std::int64_t>(done), file);
    }
    page_pool::for_this_thread().give(std::move(buf), kChunk);
    co_return out;
  }

  std::string shown(std::size_t file) const {
    return files_.in_parts(file) ? root_.shown_state(parts_name(meta_.info_hash))
                                 : root_.shown(meta_.relative_path(file));
  }

  const meta::metainfo& meta_;
  meta::file_map map_;
  root_dir root_;
  file_set files_;
  std::atomic<bool> direct_{true};  // off after a file system refused an O_DIRECT write
};

// Whether a file's bytes would live in the parts file under this selection.
bool parts_backed(const meta::metainfo& m, const std::vector<bool>& selected, std::size_t file) {
  return !selected.empty() && !selected[file] && !m.files[file].pad && m.files[file].size > 0;
}

// RLIMIT_NOFILE's soft limit; none if unlimited.
std::optional<std::int64_t> descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<std::int64_t>(lim.rlim_cur);
}

bool any_file_exists(const meta::metainfo& m, const root_dir& root) {
  for (std::size_t i = 0; i < m.files.size(); ++i)
    if (!m.files[i].pad && root.stat(m.relative_path(i))) return true;
  return false;
}

// Files the torrent keeps open at once (one more for the parts file, if
// any), or an error if the descriptor limit leaves too few for the rest.
detailed_result<std::int64_t> check_descriptor_limit(const meta::metainfo& m, const std::vector<bool>& selected) {
  std::int64_t needed = 0;
  bool parts = false;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    if (m.files[i].pad || m.files[i].size == 0) continue;
    if (parts_backed(m, selected, i)) parts = true;
    else ++needed;
  }
  needed += parts ? 1 : 0;
  const auto allowed = descriptor_limit();
  if (!allowed || needed + kReservedDescriptors <= *allowed) return needed;
  return fail(errc::too_many_files, std::to_string(needed) + " files open at once, " +
                                        std::to_string(kReservedDescriptors) + " descriptors more for the network, " +
                                        "and the limit is " + std::to_string(*allowed) + " (ulimit -n)");
}

// Whether a piece holds bytes of a selected file (all are, without a
// selection).
bool wanted_piece(const meta::metainfo& m, const meta::file_map& map, const std::vector<bool>& selected,
                  std::int64_t piece) {
  if (selected.empty()) return true;
  bool any = false;
  map.for_each_slice(piece, 0, map.piece_size(piece),
                     [&](const meta::file_slice& sl) { any = any || (selected[sl.file] && !m.files[sl.file].pad); });
  return any;
}

// What the check found: the verified pieces whose bytes are where the
// selection puts them now, and what has to happen before the others count.
struct checked {
  bitfield have;
  // Verified pieces the selection wants whose bytes of some file moved
  // between that file and the parts file (the selection changed since the
  // resume record, or the check read a file that is not selected): they
  // are copied across (and hashed again) once the files are open.
  std::vector<std::int64_t> relocate;
  std::vector<bool> old_in_parts;  // where the bytes were: per file, in the parts file
  unique_fd old_parts;             // opened before the new selection may remove it
  // Files that were not selected and are now, found on disk at their full
  // size: the wanted pieces of theirs that are not verified are hashed
  // (selected again after a change: their bytes are still there).
  std::vector<std::size_t> rejoined;
};

// Which pieces verify already: a matching resume record, else a check of
// the files that exist. Seeding needs all of them.
detailed_result<checked> check_existing(const open_params& p, const root_dir& root) {
  const meta::metainfo& m = *p.meta;
  const meta::file_map map(m);
  checked out;
  out.have = bitfield(static_cast<std::size_t>(m.piece_count()));
  bitfield& have = out.have;
  if (auto r = load_matching_resume(root, m)) {
    // A piece counts only if each of its bytes is still where it was
    // written: in its file, or in the parts file if its file was not
    // selected then. A change of selection moves some of them.
    auto was_in_parts = [&](std::size_t file) { return !r->in_parts.empty() && r->in_parts[file]; };
    auto moved = [&](const meta::file_slice& sl) { return was_in_parts(sl.file) != parts_backed(m, p.selected, sl.file); };
    for (std::size_t i = 0; i < r->verified.size(); ++i) {
      if (!r->verified[i]) continue;
      const auto slices = map.piece_slices(static_cast<std::int64_t>(i));
      if (std::none_of(slices.begin(), slices.end(), moved)) have.set(i);
      else if (wanted_piece(m, map, p.selected, static_cast<std::int64_t>(i))) out.relocate.push_back(static_cast<std::int64_t>(i));
    }
    out.old_in_parts = r->in_parts;
    out.old_in_parts.resize(m.files.size(), false);
    if (!out.relocate.empty() && !r->in_parts.empty())
      if (auto dir = root.state_dir(false))
        if (auto fd = open_state_file(dir->get(), parts_name(m.info_hash), O_RDONLY)) out.old_parts = std::move(*fd);
    for (std::size_t f = 0; f < m.files.size(); ++f) {
      if (!was_in_parts(f) || parts_backed(m, p.selected, f)) continue;
      const auto st = root.stat(m.relative_path(f));
      if (st && S_ISREG(st->st_mode) && st->st_size == m.files[f].size) out.rejoined.push_back(f);
    }
    return out;
  }
  if (p.intent == open_intent::download && !any_file_exists(m, root)) return out;

  hash_options hopts;
  hopts.on_progress = p.on_check_progress;
  hopts.cancel = p.cancel;
  auto report = verify_data(m, p.save_dir, hopts, p.intent == open_intent::download);
  if (!report) return report.error();
  if (p.intent == open_intent::seed) {
    if (!report->missing_files.empty())
      return fail(errc::file_missing, root.shown(m.relative_path(report->missing_files.front())));
    if (!report->wrong_size_files.empty())
      return fail(errc::file_wrong_size, root.shown(m.relative_path(report->wrong_size_files.front().file)));
    if (!report->complete())
      return fail(errc::data_not_verified, root.shown(m.name) + " (" + std::to_string(report->bad_pieces) + " of " +
                                               std::to_string(report->piece_count) +
                                               " pieces bad; `sta get` completes them)");
  } else {
    // Preallocation would cut a larger file to size: only when it holds
    // some of the torrent (an earlier download), or when asked to.
    for (const auto& w : report->wrong_size_files) {
      const std::int64_t want = m.files[w.file].size;
      if (w.actual <= want || p.allow_truncate || (!p.selected.empty() && !p.selected[w.file])) continue;
      const auto range = map.file_pieces(w.file);
      bool any = false;
      for (std::int64_t i = range.first; i <= range.last && !any; ++i) any = report->verified[static_cast<std::size_t>(i)];
      if (!any)
        return fail(errc::file_larger, root.shown(m.relative_path(w.file)) + " (" + std::to_string(w.actual) +
                                           " bytes, the torrent's is " + std::to_string(want) + ")");
    }
  }
  // The check read the files; a piece with bytes of an unselected file
  // keeps those in the parts file from now on: copied there if the piece
  // is wanted, forgotten if not.
  auto in_parts = [&](const meta::file_slice& sl) { return parts_backed(m, p.selected, sl.file); };
  out.old_in_parts.assign(m.files.size(), false);
  for (std::size_t i = 0; i < report->verified.size(); ++i) {
    if (!report->verified[i]) continue;
    const auto slices = map.piece_slices(static_cast<std::int64_t>(i));
    if (std::none_of(slices.begin(), slices.end(), in_parts)) have.set(i);
    else if (wanted_piece(m, map, p.selected, static_cast<std::int64_t>(i))) out.relocate.push_back(static_cast<std::int64_t>(i));
  }
  return out;
}

// Reads a piece from where `where` says each slice lives (nullopt: nowhere
// to read it from); false if a slice cannot be read or comes short.
template <class Where>
bool read_piece(const meta::file_map& map, std::int64_t piece, std::vector<std::byte>& buf, Where&& where) {
  buf.resize(static_cast<std::size_t>(map.piece_size(piece)));
  std::size_t at = 0;
  for (const auto& sl : map.piece_slices(piece)) {
    const std::optional<location> found = where(sl);
    if (!found) return false;
    const location loc = *found;
    auto dest = std::span(buf).subspan(at, static_cast<std::size_t>(sl.length));
    at += dest.size();
    if (loc.fd < 0) {
      std::fill(dest.begin(), dest.end(), std::byte{0});
      continue;
    }
    for (std::size_t done = 0; done < dest.size();) {
      const ssize_t n = ::pread(loc.fd, dest.data() + done, dest.size() - done, loc.offset + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
  }
  return true;
}

detailed_result<void> write_all_at(int fd, std::span<const std::byte> data, std::int64_t offset, const std::string& shown) {
  for (std::size_t done = 0; done < data.size();) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return detailed_error{last_sys_error(), shown};
    if (n == 0) return detailed_error{make_error_code(std::errc::no_space_on_device), shown};
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// The selection changed since the resume record: the verified pieces whose
// bytes moved are read where they were, hashed, and their moved bytes
// written where they belong now, so a change of selection fetches nothing
// again; then the wanted pieces of files selected again are hashed where
// they are. Blocking, before the storage is in use; given up when the
// check is (its result is thrown away then).
detailed_result<void> settle_moved(const open_params& p, const root_dir& root, const file_set& files,
                                   checked& c) {
  const meta::metainfo& m = *p.meta;
  const meta::file_map map(m);
  std::vector<std::byte> buf;
  auto cancelled = [&] { return p.cancel != nullptr && p.cancel->load(std::memory_order_relaxed); };
  if (!c.relocate.empty()) {
    // Where the bytes were: the parts file (open still if the new
    // selection removed it), or the files themselves, selected or not now.
    const int old_parts = c.old_parts.get();
    std::vector<unique_fd> unselected(m.files.size());
    auto was = [&](const meta::file_slice& sl) -> std::optional<location> {
      if (m.files[sl.file].pad) return location{};
      if (c.old_in_parts[sl.file]) {
        if (old_parts < 0) return std::nullopt;
        return location{old_parts, map.file_offset(sl.file) + sl.offset};
      }
      if (!files.in_parts(sl.file)) return files.locate(sl);
      if (!unselected[sl.file])
        if (auto fd = root.open_file(m.relative_path(sl.file), O_RDONLY)) unselected[sl.file] = std::move(*fd);
      if (!unselected[sl.file]) return std::nullopt;
      return location{unselected[sl.file].get(), sl.offset};
    };
    for (const std::int64_t piece : c.relocate) {
      if (cancelled()) return {};
      if (!read_piece(map, piece, buf, was)) continue;
      if (sha1(buf) != m.piece_hash(piece)) continue;
      std::size_t at = 0;
      for (const auto& sl : map.piece_slices(piece)) {
        const auto bytes = std::span<const std::byte>(buf).subspan(at, static_cast<std::size_t>(sl.length));
        at += bytes.size();
        const location now = files.locate(sl);
        if (now.fd < 0 || (c.old_in_parts[sl.file] == files.in_parts(sl.file))) continue;
        if (auto w = write_all_at(now.fd, bytes, now.offset, root.shown(m.relative_path(sl.file))); !w) return w;
      }
      c.have.set(static_cast<std::size_t>(piece));
    }
  }
  for (const std::size_t f : c.rejoined) {
    const auto range = map.file_pieces(f);
    for (std::int64_t piece = range.first; piece <= range.last && !cancelled(); ++piece) {
      if (c.have.test(static_cast<std::size_t>(piece)) || !wanted_piece(m, map, p.selected, piece)) continue;
      if (read_piece(map, piece, buf, [&](const meta::file_slice& sl) { return std::optional(files.locate(sl)); }) &&
          sha1(buf) == m.piece_hash(piece))
        c.have.set(static_cast<std::size_t>(piece));
    }
  }
  return {};
}

}  // namespace

detailed_result<opened> open_disk(const open_params& p) {
  const meta::metainfo& m = *p.meta;
  if (m.name == kStateDir && p.state_dir.empty()) return fail(errc::reserved_name, m.name);
  const auto needed = check_descriptor_limit(m, p.selected);
  if (!needed) return needed.error();
  // Twins opened with O_DIRECT only while the limit leaves room for them,
  // and where kernel pages are the 4 KiB the writes align to (a larger
  // page would hold direct and buffered bytes of neighbouring pieces).
  const auto allowed = descriptor_limit();
  const bool direct = p.direct_writes && ::sysconf(_SC_PAGESIZE) == static_cast<long>(kPageSize) &&
                      (!allowed || 2 * *needed + kReservedDescriptors <= *allowed);
  auto root = root_dir::open(p.save_dir, p.intent == open_intent::download, p.state_dir);
  if (!root) return root.error();
  auto found = check_existing(p, *root);
  if (!found) return found.error();
  auto files = file_set::open(m, *root, p.intent == open_intent::seed ? open_mode::existing : open_mode::create,
                              p.selected, direct);
  if (!files) return files.error();
  if (auto moved = settle_moved(p, *root, *files, *found); !moved) return moved.error();
  return opened{std::make_unique<disk_storage>(m, std::move(*root), std::move(*files)), std::move(found->have)};
}

detailed_result<void> remove_disk_data(const meta::metainfo& m, const std::string& save_dir,
                                       const std::string& state_dir) {
  auto root = root_dir::open(save_dir, false, state_dir);
  if (!root) return root.error();
  detailed_result<void> first;
  // Unlinks `name` in the directory `dir` (relative to SAVE_DIR, "" for it).
  auto unlink_in = [&](const std::string& dir, const std::string& name, int flags, const std::string& shown) {
    auto parent = dir.empty() ? root->open_file(".", O_RDONLY | O_DIRECTORY) : root->open_file(dir, O_RDONLY | O_DIRECTORY);
    if (!parent) return;
    if (::unlinkat(parent->get(), name.c_str(), flags) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
        errno != EEXIST && first)
      first = detailed_error{last_sys_error(), shown};
  };
  std::vector<std::string> dirs;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    const std::string rel = m.relative_path(i);
    const auto slash = rel.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash);
    unlink_in(dir, rel.substr(slash == std::string::npos ? 0 : slash + 1), 0, root->shown(rel));
    for (std::string d = dir; !d.empty(); d = d.substr(0, d.rfind('/') == std::string::npos ? 0 : d.rfind('/')))
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  }
  // The deepest first; a directory that still holds other files stays.
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  for (const auto& d : dirs) {
    const auto slash = d.rfind('/');
    unlink_in(slash == std::string::npos ? "" : d.substr(0, slash), d.substr(slash == std::string::npos ? 0 : slash + 1),
              AT_REMOVEDIR, root->shown(d));
  }
  if (auto state = root->state_dir(false)) {
    for (const auto& name : {resume_name(m.info_hash), parts_name(m.info_hash), fetched_name(m.info_hash)})
      if (::unlinkat(state->get(), name.c_str(), 0) != 0 && errno != ENOENT && first)
        first = detailed_error{last_sys_error(), root->shown_state(name)};
  }
  return first;
}

}  // namespace sta::storage
