#include "storage/file_set.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sys_error.hpp"
#include "storage/resume.hpp"

namespace sta::storage {
namespace {

detailed_result<void> preallocate(int fd, std::int64_t size, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return detailed_error{last_sys_error(), path};
  if (st.st_size != size && ::ftruncate(fd, size) != 0) return detailed_error{last_sys_error(), path};
  if (size > 0 && ::fallocate(fd, 0, 0, size) != 0 && errno != EOPNOTSUPP) {
    return detailed_error{last_sys_error(), path};
  }
  return {};
}

bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

detailed_result<file_set> file_set::open(const meta::metainfo& m, const root_dir& root, open_mode mode,
                                         const std::vector<bool>& selected, bool direct) {
  file_set set;
  set.fds_.resize(m.files.size());
  set.direct_fds_.resize(m.files.size());
  set.parts_offsets_.assign(m.files.size(), -1);
  std::int64_t offset = 0;
  bool need_parts = false;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    const auto& f = m.files[i];
    const std::int64_t at = offset;
    offset += f.size;
    // Zero-length files hold nothing to seed; padding files live nowhere.
    if (f.pad || (mode == open_mode::existing && f.size == 0)) continue;
    if (!selected.empty() && !selected[i]) {
      if (f.size > 0) set.parts_offsets_[i] = at;
      need_parts = need_parts || f.size > 0;
      continue;
    }
    const std::string rel = m.relative_path(i);
    const std::string shown = root.shown(rel);
    if (mode == open_mode::create && m.multi_file) {
      std::vector<std::string> parents{m.name};
      parents.insert(parents.end(), f.path.begin(), f.path.end() - 1);
      if (auto r = root.make_dirs(parents); !r) return r.error();
    }
    auto fd = mode == open_mode::create ? root.open_file(rel, O_RDWR | O_CREAT) : root.open_file(rel, O_RDONLY);
    if (!fd) {
      if (fd.error() == std::errc::no_such_file_or_directory) return fail(errc::file_missing, shown);
      return detailed_error{fd.error(), shown};
    }
    if (mode == open_mode::create) {
      if (auto r = preallocate(fd->get(), f.size, shown); !r) return r.error();
      // A file system without O_DIRECT (tmpfs) refuses it: buffered writes
      // then. The twin is opened by name; if the name was renamed onto
      // another file in between, it is not the same file: none then.
      if (direct && f.size >= kDirectMin) {
        if (auto d = root.open_file(rel, O_WRONLY | O_DIRECT); d && same_file(fd->get(), d->get()))
          set.direct_fds_[i] = std::move(*d);
      }
    } else {
      struct stat st {};
      if (::fstat(fd->get(), &st) != 0) return detailed_error{last_sys_error(), shown};
      if (st.st_size != f.size) return fail(errc::file_wrong_size, shown);
    }
    if (f.size > 0) set.fds_[i] = std::move(*fd);
  }
  const std::string parts = parts_name(m.info_hash);
  if (need_parts) {
    auto dir = root.state_dir(true);
    if (!dir) return dir.error();
    auto fd = open_state_file(dir->get(), parts, O_RDWR | O_CREAT);
    if (!fd) return detailed_error{fd.error(), root.shown_state(parts)};
    set.parts_fd_ = std::move(*fd);
  } else if (mode == open_mode::create) {
    // Left by an earlier selection: the pieces whose bytes it held are
    // fetched again into their files (the resume record says which).
    if (auto dir = root.state_dir(false)) ::unlinkat(dir->get(), parts.c_str(), 0);
  }
  return set;
}

}  // namespace sta::storage
