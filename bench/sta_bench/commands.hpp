// Each sta-bench run registers itself on the CLI11 app and returns the
// function that runs it; that function returns the exit code.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/result.hpp"

namespace sta::bench {

struct command {
  CLI::App* app;
  std::function<int()> run;
};

command add_hash(CLI::App& app);
command add_loopback(CLI::App& app);
command add_swarm(CLI::App& app);
command add_tracker(CLI::App& app);

// One run of the loopback stream (sta-bench loopback), for benchmarks that
// compare themselves with the machine's loopback limit.
struct loopback_result {
  std::int64_t bytes = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  double bytes_per_second() const { return seconds > 0 ? static_cast<double>(bytes) / seconds : 0; }
};
result<loopback_result, std::string> measure_loopback(unsigned connections, double seconds, unsigned reactors);

struct swarm_args {
  std::string size = "1GiB";
  std::string piece_length = "1MiB";
  std::vector<unsigned> reactors{1, 2};
  unsigned seeders = 4;  // in-process
  unsigned rounds = 3;
  std::string against;  // empty: in-process, discard storage
  std::vector<std::string> scenarios{"S1", "S2", "S3", "S4"};
  std::string sta;
  bool json = false;
};
// sta-bench swarm --against: the cross-client scenarios (against.cpp).
int run_against(const swarm_args& args);

double median(std::vector<double> v);

}  // namespace sta::bench
