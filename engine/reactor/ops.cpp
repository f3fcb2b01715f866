#include "reactor/ops.hpp"

namespace sta::io {

void cancel_slot::cancel() {
  if (op_ == nullptr) return;
  io_uring_sqe* sqe = reactor_->get_sqe();
  io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(op_), 0);
  io_uring_sqe_set_data64(sqe, 0);
}

}  // namespace sta::io
