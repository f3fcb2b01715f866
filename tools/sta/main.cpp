// sta: the command-line front end. Parses arguments and prints; every
// behaviour lives in the engine and tracker libraries.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "base/version.hpp"
#include "commands.hpp"
#include "reactor/socket.hpp"
#include "output.hpp"

int main(int argc, char** argv) {
  using namespace sta::cli;
  // Peers and files each take a descriptor: use all the system allows.
  sta::io::raise_fd_limit();
  CLI::App app{"sta: a fast BitTorrent engine, tracker and toolkit", "sta"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sta ") + sta::kVersion);

  const std::vector<command> commands{
      add_create(app),
      add_info(app),
      add_magnet(app),
      add_verify(app),
      add_get(app),
      add_serve(app),
      add_tracker(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    std::cout << "sta " << sta::kVersion << '\n';
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // Subcommand --help arrives here as a "success" parse error.
    if (e.get_exit_code() == 0) return app.exit(e);
    return error(e.what(), kExitUsage);
  }

  try {
    for (const auto& c : commands) {
      if (c.app->parsed()) return c.run();
    }
  } catch (const std::exception& e) {
    return error(e.what(), kExitFailed);
  }
  return error("no command given (try --help)", kExitUsage);
}
