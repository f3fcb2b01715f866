// sta-bench: throughput runs of sta's engine with human or JSON results.
#include <exception>
#include <iostream>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) {
  using namespace sta::bench;
  CLI::App app{"sta-bench: throughput benchmarks for sta", "sta-bench"};
  app.require_subcommand(1);
  const std::vector<command> commands{
      add_hash(app),
      add_loopback(app),
      add_swarm(app),
      add_tracker(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "sta-bench: " << e.what() << '\n';
    return 2;
  }
  try {
    for (const auto& c : commands) {
      if (c.app->parsed()) return c.run();
    }
  } catch (const std::exception& e) {
    std::cerr << "sta-bench: " << e.what() << '\n';
    return 1;
  }
  return 2;
}
