// The lock-free piece picker under 1, 2 and 4 threads: each thread is a
// peer that picks 16 blocks, receives them and passes completed pieces,
// over a 4096-piece torrent of 64 blocks a piece. Items are blocks.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <vector>

#include "picker/piece_picker.hpp"

namespace {

using sta::picker::block_ref;
using sta::picker::geometry;
using sta::picker::piece_picker;

std::shared_ptr<piece_picker> shared_picker;
std::atomic<int> generation{0};

void BM_PickReceiveComplete(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_picker = std::make_shared<piece_picker>(geometry{4096, 64, 64}, 7);
    shared_picker->add_seed();
  }
  std::vector<block_ref> out;
  const auto owner = static_cast<sta::picker::owner_id>(state.thread_index() + 1);
  std::int64_t blocks = 0;
  for (auto _ : state) {
    auto picker = shared_picker;
    out.clear();
    picker->pick(nullptr, owner, true, 16, {}, out);
    for (const auto& b : out) {
      if (picker->on_block(b) == piece_picker::receipt::piece_complete) picker->on_hash_passed(b.piece);
    }
    blocks += static_cast<std::int64_t>(out.size());
    if (out.empty()) {
      state.PauseTiming();
      picker->release_owner(owner);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(blocks);
}
BENCHMARK(BM_PickReceiveComplete)->Threads(1)->Threads(2)->Threads(4)->Iterations(8192)->UseRealTime();

}  // namespace
