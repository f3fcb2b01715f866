// sta verify FILE SAVE_DIR [--json]
#include <iostream>
#include <memory>

#include <boost/json.hpp>

#include "commands.hpp"
#include "output.hpp"
#include "storage/verify.hpp"

namespace sta::cli {
namespace {

struct verify_args {
  std::string file;
  std::string save_dir;
  bool json = false;
  unsigned threads = 0;
};

int run_verify(const verify_args& args) {
  auto m = load_torrent(args.file);
  if (!m) return kExitUsage;
  progress_bar bar("verifying");
  storage::hash_options opts;
  opts.threads = args.threads;
  opts.on_progress = [&](std::int64_t done, std::int64_t total) { bar.update(done, total); };
  auto report = storage::verify_data(*m, args.save_dir, opts);
  bar.finish();
  if (!report) return error(report.error().message(), kExitUsage);

  const std::int64_t good = report->piece_count - report->bad_pieces;
  if (args.json) {
    boost::json::array missing;
    for (auto i : report->missing_files) missing.push_back(boost::json::string(m->relative_path(i)));
    boost::json::array wrong;
    for (const auto& w : report->wrong_size_files) {
      wrong.push_back({{"path", m->relative_path(w.file)},
                       {"size", w.actual},
                       {"expected", m->files[w.file].size}});
    }
    boost::json::object o;
    o["complete"] = report->complete();
    o["piece_count"] = report->piece_count;
    o["verified_pieces"] = good;
    o["bad_pieces"] = report->bad_pieces;
    o["missing_files"] = std::move(missing);
    o["wrong_size_files"] = std::move(wrong);
    std::cout << boost::json::serialize(o) << '\n';
  } else {
    for (auto i : report->missing_files) std::cout << "missing:    " << printable(m->relative_path(i)) << '\n';
    for (const auto& w : report->wrong_size_files) {
      std::cout << "wrong size: " << printable(m->relative_path(w.file)) << " (" << w.actual << " bytes, expected "
                << m->files[w.file].size << ")\n";
    }
    std::cout << "pieces: " << good << "/" << report->piece_count << " verified, " << report->bad_pieces
              << " bad\n"
              << (report->complete() ? "ok: all data verifies\n" : "FAILED: data is bad or missing\n");
  }
  return report->complete() ? kExitOk : kExitFailed;
}

}  // namespace

command add_verify(CLI::App& app) {
  auto args = std::make_shared<verify_args>();
  auto* sub = app.add_subcommand("verify", "Check downloaded data against a .torrent");
  sub->footer(
      "SAVE_DIR is the directory that contains the torrent's root name.\n"
      "Exit status: 0 all pieces verify, 1 data bad or missing, 2 usage or input error.");
  sub->add_option("FILE", args->file, ".torrent file")->required();
  sub->add_option("SAVE_DIR", args->save_dir, "Directory holding the torrent's data")->required();
  sub->add_flag("--json", args->json, "Print one JSON object");
  sub->add_option("--threads", args->threads, "Hashing threads (default: one per core)")
      ->check(CLI::Range(1u, 1024u));
  return {sub, [args] { return run_verify(*args); }};
}

}  // namespace sta::cli
