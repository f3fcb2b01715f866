// unique_fd: owns one file descriptor and closes it when it goes. The one
// RAII fd of the tree: sockets, data files, directories. Moved, never
// copied; one thread at a time.
#pragma once

#include <unistd.h>

#include <utility>

namespace sta {

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int raw) : fd_(raw) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int raw = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = raw;
  }

 private:
  int fd_ = -1;
};

}  // namespace sta
