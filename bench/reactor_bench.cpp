// Micro-benchmarks of the runtime: creating and awaiting a task, and the
// rate of cross-reactor hops (IORING_OP_MSG_RING round trips).
#include <benchmark/benchmark.h>

#include <future>

#include "reactor/reactor.hpp"
#include "reactor/reactor_group.hpp"

namespace {

using namespace sta::io;

task<int> leaf(int v) { co_return v + 1; }

task<void> await_many(benchmark::State& state, reactor& r) {
  int sum = 0;
  for (auto _ : state) sum += co_await leaf(sum);
  benchmark::DoNotOptimize(sum);
  r.stop();
}

void BM_TaskCreateAndAwait(benchmark::State& state) {
  auto r = reactor::create();
  if (!r) {
    state.SkipWithError(r.error().c_str());
    return;
  }
  (*r)->spawn(await_many(state, **r));
  (*r)->run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TaskCreateAndAwait);

task<void> hop_many(benchmark::State& state, reactor& home, reactor& away, std::promise<void>& done) {
  for (auto _ : state) {
    co_await switch_to(away);
    co_await switch_to(home);
  }
  done.set_value();
}

void BM_CrossReactorRoundTrip(benchmark::State& state) {
  reactor_group::options opts;
  opts.reactors = 2;
  auto group = reactor_group::start(opts);
  if (!group) {
    state.SkipWithError(group.error().c_str());
    return;
  }
  auto& g = **group;
  std::promise<void> done;
  auto finished = done.get_future();
  g.at(0).post([&] { g.at(0).spawn(hop_many(state, g.at(0), g.at(1), done)); });
  finished.wait();
  g.stop();
  // Two messages per round trip.
  state.SetItemsProcessed(2 * state.iterations());
}
BENCHMARK(BM_CrossReactorRoundTrip)->UseRealTime();

}  // namespace
