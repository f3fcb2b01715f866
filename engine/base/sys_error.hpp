// errno values as error_codes: the one conversion for the syscalls sta makes
// itself (io_uring results have theirs, from_cqe in reactor/). Any thread.
#pragma once

#include <cerrno>

#include "base/result.hpp"

namespace sta {

inline error_code sys_error(int e) { return {e, boost::system::system_category()}; }

// errno as it is right now: call it straight after the failed syscall.
inline error_code last_sys_error() { return sys_error(errno); }

}  // namespace sta
