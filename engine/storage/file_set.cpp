#include "storage/file_set.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "base/sys_error.hpp"
#include "base/unique_fd.hpp"

namespace sta::storage {
namespace {

int openat_beneath(int dirfd, const std::string& path, std::uint64_t flags, std::uint64_t mode) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = flags & O_CREAT ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EINTR) return static_cast<int>(fd);
  }
}

// Creates each directory of `parents` (relative to root) that is missing.
detailed_result<void> make_parents(int root, const std::vector<std::string>& parents,
                                   const std::string& save_dir) {
  std::string rel;
  for (const auto& element : parents) {
    rel += rel.empty() ? element : "/" + element;
    const unique_fd dir(openat_beneath(root, rel, O_PATH | O_DIRECTORY, 0));
    if (dir.get() >= 0) continue;
    if (errno != ENOENT) return detailed_error{sys_error(errno), save_dir + "/" + rel};
    // mkdirat follows no symlink in its last element, and its parent was
    // just resolved beneath root by the previous iteration.
    if (::mkdirat(root, rel.c_str(), 0755) != 0 && errno != EEXIST) {
      return detailed_error{sys_error(errno), save_dir + "/" + rel};
    }
  }
  return {};
}

detailed_result<void> preallocate(int fd, std::int64_t size, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return detailed_error{sys_error(errno), path};
  if (st.st_size != size && ::ftruncate(fd, size) != 0) return detailed_error{sys_error(errno), path};
  if (size > 0 && ::fallocate(fd, 0, 0, size) != 0 && errno != EOPNOTSUPP) {
    return detailed_error{sys_error(errno), path};
  }
  return {};
}

}  // namespace

detailed_result<file_set> file_set::open(const meta::metainfo& m, const std::string& save_dir,
                                         open_mode mode, const std::vector<bool>& selected) {
  const unique_fd root(::open(save_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return detailed_error{sys_error(errno), save_dir};

  file_set set;
  set.fds_.assign(m.files.size(), -1);
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
    const std::string shown = save_dir + "/" + rel;
    if (mode == open_mode::create) {
      std::vector<std::string> parents;
      if (m.multi_file) {
        parents.push_back(m.name);
        parents.insert(parents.end(), f.path.begin(), f.path.end() - 1);
      }
      if (auto r = make_parents(root.get(), parents, save_dir); !r) return r.error();
    }
    const int fd = mode == open_mode::create ? openat_beneath(root.get(), rel, O_RDWR | O_CREAT, 0644)
                                             : openat_beneath(root.get(), rel, O_RDONLY, 0);
    if (fd < 0) {
      const int e = errno;
      if (e == ENOENT) return fail(errc::file_missing, shown);
      return detailed_error{sys_error(e), shown};
    }
    unique_fd guard(fd);
    if (mode == open_mode::create) {
      if (auto r = preallocate(fd, f.size, shown); !r) return r.error();
    } else {
      struct stat st {};
      if (::fstat(fd, &st) != 0) return detailed_error{sys_error(errno), shown};
      if (st.st_size != f.size) return fail(errc::file_wrong_size, shown);
    }
    if (f.size > 0) set.fds_[i] = guard.release();
  }
  const std::string parts = ".sta/" + m.info_hash.hex() + ".parts";
  if (need_parts) {
    if (auto r = make_parents(root.get(), {".sta"}, save_dir); !r) return r.error();
    set.parts_fd_ = openat_beneath(root.get(), parts, O_RDWR | O_CREAT, 0644);
    if (set.parts_fd_ < 0) return detailed_error{sys_error(errno), save_dir + "/" + parts};
  } else if (mode == open_mode::create) {
    // Left by an earlier selection: the pieces whose bytes it held are
    // fetched again into their files (the resume record says which).
    const unique_fd dir(openat_beneath(root.get(), ".sta", O_PATH | O_DIRECTORY, 0));
    if (dir.get() >= 0) ::unlinkat(dir.get(), (m.info_hash.hex() + ".parts").c_str(), 0);
  }
  return set;
}

file_set::file_set(file_set&& other) noexcept
    : fds_(std::move(other.fds_)),
      parts_offsets_(std::move(other.parts_offsets_)),
      parts_fd_(std::exchange(other.parts_fd_, -1)) {
  other.fds_.clear();
}

file_set& file_set::operator=(file_set&& other) noexcept {
  if (this != &other) {
    close_all();
    fds_ = std::move(other.fds_);
    parts_offsets_ = std::move(other.parts_offsets_);
    parts_fd_ = std::exchange(other.parts_fd_, -1);
    other.fds_.clear();
  }
  return *this;
}

file_set::~file_set() { close_all(); }

void file_set::close_all() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
  fds_.clear();
  if (parts_fd_ >= 0) ::close(parts_fd_);
  parts_fd_ = -1;
}

}  // namespace sta::storage
