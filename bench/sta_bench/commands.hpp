// Each sta-bench run registers itself on the CLI11 app and returns the
// function that runs it; that function returns the exit code.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace sta::bench {

struct command {
  CLI::App* app;
  std::function<int()> run;
};

command add_hash(CLI::App& app);
command add_loopback(CLI::App& app);
command add_tracker(CLI::App& app);

}  // namespace sta::bench
