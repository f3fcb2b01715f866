// Each `sta` subcommand registers itself and its options on the CLI11 app
// and returns the function that runs it once parsing succeeded; that
// function returns the process exit code.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace sta::cli {

struct command {
  CLI::App* app;
  std::function<int()> run;
};

command add_create(CLI::App& app);
command add_info(CLI::App& app);
command add_magnet(CLI::App& app);
command add_verify(CLI::App& app);
command add_tracker(CLI::App& app);
command add_get(CLI::App& app);
command add_serve(CLI::App& app);

}  // namespace sta::cli
