// Whether this process holds CAP_IPC_LOCK, which exempts it from
// RLIMIT_MEMLOCK's count of registered memory. Without it, that count is
// per user and shared with the user's other processes (a parallel test
// run), so how much a test can register depends on them.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

namespace sta::test {

inline bool may_lock_memory() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) std::abort();
  return (data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK)) != 0;
}

}  // namespace sta::test
