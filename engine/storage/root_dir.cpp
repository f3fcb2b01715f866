#include "storage/root_dir.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/sys_error.hpp"

namespace sta::storage {
namespace {

int openat2_retry(int dirfd, const std::string& path, std::uint64_t flags, std::uint64_t mode, std::uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = resolve;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EINTR) return static_cast<int>(fd);
  }
}

constexpr std::uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
constexpr std::uint64_t kOwn = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;

std::optional<struct stat> stat_fd(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) return std::nullopt;
  return st;
}

}  // namespace

detailed_result<root_dir> root_dir::open(const std::string& path, bool create, const std::string& state) {
  if (create && ::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return detailed_error{last_sys_error(), path};
  root_dir d;
  d.path_ = path;
  d.state_ = state;
  d.fd_.reset(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!d.fd_) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) return fail(errc::file_missing, path + " (no such directory)");
    return detailed_error{sys_error(e), path};
  }
  return d;
}

result<unique_fd> root_dir::open_file(const std::string& rel, int flags, mode_t mode) const {
  unique_fd fd(openat2_retry(fd_.get(), rel, static_cast<std::uint64_t>(flags), mode, kBeneath));
  if (!fd) return last_sys_error();
  return fd;
}

std::optional<struct stat> root_dir::stat(const std::string& rel) const {
  const unique_fd fd(openat2_retry(fd_.get(), rel, O_PATH, 0, kBeneath));
  return stat_fd(fd.get());
}

detailed_result<void> root_dir::make_dirs(const std::vector<std::string>& elements) const {
  std::string rel;
  for (const auto& element : elements) {
    rel += rel.empty() ? element : "/" + element;
    const unique_fd dir(openat2_retry(fd_.get(), rel, O_PATH | O_DIRECTORY, 0, kBeneath));
    if (dir) continue;
    if (errno != ENOENT) return detailed_error{last_sys_error(), shown(rel)};
    // mkdirat follows no symlink in its last element, and its parent was
    // just resolved beneath the root by the previous iteration.
    if (::mkdirat(fd_.get(), rel.c_str(), 0755) != 0 && errno != EEXIST)
      return detailed_error{last_sys_error(), shown(rel)};
  }
  return {};
}

detailed_result<unique_fd> root_dir::state_dir(bool create) const {
  if (!state_.empty()) {
    if (create && ::mkdir(state_.c_str(), 0755) != 0 && errno != EEXIST) return detailed_error{last_sys_error(), state_};
    unique_fd dir(::open(state_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return detailed_error{last_sys_error(), state_};
    return dir;
  }
  if (create && ::mkdirat(fd_.get(), kStateDir, 0755) != 0 && errno != EEXIST)
    return detailed_error{last_sys_error(), shown(kStateDir)};
  unique_fd dir(openat2_retry(fd_.get(), kStateDir, O_RDONLY | O_DIRECTORY, 0, kOwn));
  if (!dir) return detailed_error{last_sys_error(), shown(kStateDir)};
  return dir;
}

result<unique_fd> open_state_file(int state_dir, const std::string& name, int flags, mode_t mode) {
  unique_fd fd(openat2_retry(state_dir, name, static_cast<std::uint64_t>(flags), mode, kOwn));
  if (!fd) return last_sys_error();
  return fd;
}

std::optional<struct stat> stat_state_file(int state_dir, const std::string& name) {
  const unique_fd fd(openat2_retry(state_dir, name, O_PATH, 0, kOwn));
  return stat_fd(fd.get());
}

namespace {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

detailed_result<void> write_state_file(const root_dir& root, const std::string& name, std::string_view bytes) {
  return write_state_files(root, {{name, bytes}});
}

detailed_result<void> write_state_files(const root_dir& root,
                                        const std::vector<std::pair<std::string, std::string_view>>& files) {
  auto dir = root.state_dir(true);
  if (!dir) return dir.error();
  detailed_result<void> first;
  bool renamed = false;
  for (const auto& [name, bytes] : files) {
    const std::string tmp = name + ".tmp";
    const std::string shown = root.shown_state(tmp);
    // A leftover temporary (or anything planted under its name) goes first;
    // O_EXCL then makes sure the file written is a new one of ours.
    ::unlinkat(dir->get(), tmp.c_str(), 0);
    auto fd = open_state_file(dir->get(), tmp, O_WRONLY | O_CREAT | O_EXCL);
    if (!fd) {
      first = detailed_error{fd.error(), shown};
      break;
    }
    const bool ok = write_all(fd->get(), bytes) && ::fsync(fd->get()) == 0;
    const error_code e = last_sys_error();
    fd->reset();
    if (!ok) {
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      first = detailed_error{e, shown};
      break;
    }
    if (::renameat(dir->get(), tmp.c_str(), dir->get(), name.c_str()) != 0) {
      first = detailed_error{last_sys_error(), root.shown_state(name)};
      break;
    }
    renamed = true;
  }
  // The renames are durable once the directory is.
  if (renamed) ::fsync(dir->get());
  return first;
}

std::optional<std::string> read_state_file(int state_dir, const std::string& name, std::size_t limit) {
  auto fd = open_state_file(state_dir, name, O_RDONLY);
  if (!fd) return std::nullopt;
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) return std::nullopt;
  }
}

}  // namespace sta::storage
