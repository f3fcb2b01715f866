// sta create PATH -a URL [-a URL ...] [-p PIECE_LEN] [-o OUT] [--private]
//            [-c COMMENT] [--threads N]
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "base/units.hpp"
#include "base/version.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "storage/create.hpp"

namespace sta::cli {
namespace {

struct create_args {
  std::string path;
  std::vector<std::string> trackers;
  std::string piece_length;
  std::string out;
  bool is_private = false;
  std::string comment;
  unsigned threads = 0;
};

// "-a a,b -a c": a and b share the first tier, c is the second (as in mktorrent).
std::vector<std::vector<std::string>> tiers_of(const std::vector<std::string>& args) {
  std::vector<std::vector<std::string>> tiers;
  for (const auto& a : args) {
    std::vector<std::string> tier;
    std::size_t start = 0;
    while (start <= a.size()) {
      const auto comma = std::min(a.find(',', start), a.size());
      if (comma > start) tier.push_back(a.substr(start, comma - start));
      start = comma + 1;
    }
    if (!tier.empty()) tiers.push_back(std::move(tier));
  }
  return tiers;
}

int run_create(const create_args& args) {
  storage::create_options opts;
  opts.path = args.path;
  opts.trackers = tiers_of(args.trackers);
  opts.is_private = args.is_private;
  opts.comment = args.comment;
  opts.created_by = kClientName;
  opts.creation_date = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  opts.threads = args.threads;
  if (!args.piece_length.empty()) {
    const auto len = parse_size(args.piece_length);
    if (!len) return error("--piece-length: not a size: " + args.piece_length, kExitUsage);
    opts.piece_length = *len;
  }
  progress_bar bar("hashing");
  opts.on_progress = [&](std::int64_t done, std::int64_t total) { bar.update(done, total); };

  auto torrent = storage::create_torrent(opts);
  bar.finish();
  if (!torrent) {
    const int code = torrent.error().code.category() == boost::system::system_category()
                         ? kExitFailed
                         : kExitUsage;
    return error(torrent.error().message(), code);
  }

  const std::string out = args.out.empty() ? opts.path + ".torrent" : args.out;
  if (out == "-") {
    std::cout.write(torrent->data(), static_cast<std::streamsize>(torrent->size()));
    std::cout.flush();
    return std::cout ? kExitOk : error("stdout: write error", kExitFailed);
  }
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  if (!file) return error(out + ": " + std::strerror(errno), kExitFailed);
  file.write(torrent->data(), static_cast<std::streamsize>(torrent->size()));
  file.close();
  if (!file) return error(out + ": write error", kExitFailed);
  return kExitOk;
}

}  // namespace

command add_create(CLI::App& app) {
  auto args = std::make_shared<create_args>();
  auto* sub = app.add_subcommand("create", "Make a .torrent from a file or a directory");
  sub->footer(
      "Files of a directory are listed in bytewise order of their paths; symlinks and\n"
      "special files are skipped. Each -a is one tier; commas join URLs in one tier.\n"
      "The default piece length is 1 MiB up to about 11 GiB, then grows with the size\n"
      "(at most 16 MiB).");
  sub->add_option("PATH", args->path, "File or directory to share")->required();
  sub->add_option("-a,--announce", args->trackers, "Tracker announce URL (repeatable)");
  sub->add_option("-p,--piece-length", args->piece_length,
                  "Piece length, a power of two from 16KiB to 256MiB (e.g. 1MiB)");
  sub->add_option("-o,--output", args->out, "Output file, '-' for stdout (default: PATH.torrent)");
  sub->add_flag("--private", args->is_private, "Set the private flag (BEP 27)");
  sub->add_option("-c,--comment", args->comment, "Comment stored in the torrent");
  sub->add_option("--threads", args->threads, "Hashing threads (default: one per core)")
      ->check(CLI::Range(1u, 1024u));
  return {sub, [args] { return run_create(*args); }};
}

}  // namespace sta::cli
