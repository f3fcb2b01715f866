// Micro-benchmarks: bencode decode throughput and SHA-1 throughput.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "base/sha1.hpp"
#include "bencode/decode.hpp"
#include "bencode/encode.hpp"

namespace {

// A multi-file .torrent-shaped document with many files and piece hashes.
std::string make_torrent_like(int files) {
  using sta::bencode::value;
  value::list list;
  for (int i = 0; i < files; ++i) {
    list.push_back(value::dict{{"length", i * 1000 + 7},
                               {"path", value::list{"dir" + std::to_string(i % 10), "file" + std::to_string(i)}}});
  }
  value::dict info{{"name", "bench"}, {"piece length", 1 << 20},
                   {"pieces", std::string(static_cast<std::size_t>(files) * 20, 'x')},
                   {"files", std::move(list)}};
  return sta::bencode::encode(value(value::dict{{"announce", "http://127.0.0.1/"}, {"info", std::move(info)}}));
}

void BM_BencodeDecode(benchmark::State& state) {
  const std::string doc = make_torrent_like(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto r = sta::bencode::decode(doc);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(doc.size()));
}
BENCHMARK(BM_BencodeDecode)->Arg(100)->Arg(10'000);

void BM_Sha1(benchmark::State& state) {
  std::string data(static_cast<std::size_t>(state.range(0)), '\0');
  std::mt19937 rng(1);
  for (auto& c : data) c = static_cast<char>(rng());
  for (auto _ : state) {
    auto d = sta::sha1(data);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha1)->Arg(16 << 10)->Arg(1 << 20);

}  // namespace
