// reactor_group: one reactor per thread (by default one per core), each
// created and run on its own thread, optionally pinned to a CPU. stop()
// stops the reactors one by one in order, joining each thread before
// stopping the next; the destructor does the same. The group is driven
// from one control thread.
#pragma once

#include <time.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "reactor/reactor.hpp"

namespace sta::io {

class reactor_group {
 public:
  struct options {
    unsigned reactors = 0;  // 0: one per core
    bool pin = false;       // pin reactor i to CPU i % cores
    reactor::options ring;
  };

  // All reactors are running when this returns; on failure none is.
  static result<std::unique_ptr<reactor_group>, std::string> start(const options& opts);
  ~reactor_group();
  reactor_group(const reactor_group&) = delete;
  reactor_group& operator=(const reactor_group&) = delete;

  unsigned size() const { return static_cast<unsigned>(reactors_.size()); }
  reactor& at(unsigned i) { return *reactors_[i]; }
  // CPU time (user and system) reactor i's thread has used so far: how busy
  // it was. Any thread, while the group runs (not during or after stop()).
  std::chrono::nanoseconds cpu_time(unsigned i) const;
  void stop();

  // CPU work that any reactor may do (hashing a run of blocks) goes to the
  // reactor with the fewest such jobs in hand, another than `current` on a
  // tie, so that the one receiving keeps receiving while another hashes.
  // The job counts against its reactor while the lease lives. Any reactor
  // thread, while the group runs.
  class lease {
   public:
    lease(std::atomic<unsigned>& count, reactor& target) : count_(&count), target_(&target) {}
    lease(lease&& o) noexcept : count_(std::exchange(o.count_, nullptr)), target_(o.target_) {}
    lease& operator=(lease&&) = delete;
    ~lease() {
      if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
    }
    reactor& target() const { return *target_; }

   private:
    std::atomic<unsigned>* count_;
    reactor* target_;
  };
  lease least_busy(reactor& current);

 private:
  reactor_group() = default;
  // Owned here, not by their threads, so that stop() may post to a reactor
  // whose thread has already returned.
  std::vector<std::unique_ptr<reactor>> reactors_;
  std::vector<std::jthread> threads_;
  std::vector<clockid_t> cpu_clocks_;  // one per thread
  std::unique_ptr<std::atomic<unsigned>[]> jobs_;  // per reactor: leases held
};

}  // namespace sta::io
