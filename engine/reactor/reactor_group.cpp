#include "reactor/reactor_group.hpp"

#include <pthread.h>
#include <sched.h>

#include <future>

namespace sta::io {

result<std::unique_ptr<reactor_group>, std::string> reactor_group::start(const options& opts) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned n = opts.reactors ? opts.reactors : cores;
  std::unique_ptr<reactor_group> group(new reactor_group());
  group->jobs_ = std::make_unique<std::atomic<unsigned>[]>(n);
  for (unsigned i = 0; i < n; ++i) {
    std::promise<result<std::unique_ptr<reactor>, std::string>> ready;
    auto started = ready.get_future();
    group->threads_.emplace_back([&ready, i, cores, &opts] {
      if (opts.pin) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(i % cores, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      auto r = reactor::create(opts.ring);
      if (!r) {
        ready.set_value(r.error());
        return;
      }
      reactor* raw = r->get();
      ready.set_value(std::move(*r));
      raw->run();
    });
    auto r = started.get();
    if (!r) {
      group->threads_.back().join();
      group->threads_.pop_back();
      group->stop();
      return r.error();
    }
    group->reactors_.push_back(std::move(*r));
    clockid_t cpu{};
    if (pthread_getcpuclockid(group->threads_.back().native_handle(), &cpu) != 0) cpu = -1;
    group->cpu_clocks_.push_back(cpu);
  }
  return group;
}

reactor_group::lease reactor_group::least_busy(reactor& current) {
  std::size_t best = 0;
  unsigned best_jobs = ~0u;
  for (std::size_t i = 0; i < reactors_.size(); ++i) {
    const unsigned jobs = jobs_[i].load(std::memory_order_relaxed);
    if (jobs < best_jobs || (jobs == best_jobs && reactors_[best].get() == &current)) {
      best = i;
      best_jobs = jobs;
    }
  }
  jobs_[best].fetch_add(1, std::memory_order_relaxed);
  return lease(jobs_[best], *reactors_[best]);
}

std::chrono::nanoseconds reactor_group::cpu_time(unsigned i) const {
  timespec ts{};
  if (i >= cpu_clocks_.size() || cpu_clocks_[i] == -1 || clock_gettime(cpu_clocks_[i], &ts) != 0) return {};
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

void reactor_group::stop() {
  // One at a time, in order: reactor 0 is a torrent's home, whose tasks hop
  // to the others and back, so it must finish while they still run.
  for (std::size_t i = 0; i < reactors_.size(); ++i) {
    reactor* r = reactors_[i].get();
    r->post([r] { r->stop(); });
    if (i < threads_.size() && threads_[i].joinable()) threads_[i].join();
  }
  reactors_.clear();
  threads_.clear();
  cpu_clocks_.clear();
}

reactor_group::~reactor_group() { stop(); }

}  // namespace sta::io
