// sta get TORRENT -o SAVE_DIR ...   and   sta serve TORRENT SAVE_DIR ...
// Both run a session and report its progress: a live line on stderr when it
// is a terminal, JSON lines on stdout with --json. The session does the
// work; this file parses, prints and waits for signals.
#include <fnmatch.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/units.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "session/session.hpp"

namespace sta::cli {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kResumeInterval = 30s;
constexpr auto kReportInterval = 1s;

struct swarm_args {
  std::string torrent;
  std::string save_dir;
  std::vector<std::string> peers;
  std::vector<std::string> listen;
  bool exit_on_complete = false;
  double seed_ratio = 0;
  unsigned threads = 0;
  bool no_tracker = false;
  bool json = false;
  std::string tracker_ip;
  std::string download_limit = "0";
  std::string upload_limit = "0";
  std::size_t max_peers = 200;
  std::size_t max_per_ip = 4;
  unsigned max_connections = 200;
  unsigned max_half_open = 8;
  std::string select;
  std::vector<std::string> exclude_globs;
  bool sequential = false;
  bool allow_truncate = false;
};

// Bad torrents, selections and values are the user's input (2); anything
// the job met on the way, data that does not verify and I/O errors
// included, is a failure (1).
int exit_code_of(const detailed_error& e) {
  if (e.code.category() != sta_category()) return kExitFailed;
  switch (static_cast<errc>(e.code.value())) {
    case errc::file_missing:
    case errc::file_wrong_size:
    case errc::file_larger:
    case errc::too_many_files:
    case errc::data_not_verified: return kExitFailed;
    default: return kExitUsage;
  }
}

// What a failed save of the resume record says (the next start then
// checks the data again).
std::string resume_failure_of(const detailed_error& e) {
  return "cannot save the resume record: " + e.message() + " (the next start checks the data again)";
}

// Says a resume failure once per distinct reason; true if it was one.
bool said_resume_failure(const detailed_result<void>& r, std::string& last_failure) {
  if (r) {
    last_failure.clear();
    return false;
  }
  const std::string why = resume_failure_of(r.error());
  if (why != last_failure) error(why, kExitFailed);
  last_failure = why;
  return true;
}

// "50MiB", "800k", "0": bytes per second.
std::optional<std::int64_t> parse_rate(const std::string& flag, const std::string& text) {
  auto v = parse_size(text);
  if (!v || *v < 0) {
    error(flag + " " + text + ": expected bytes per second, like 50MiB, 800k or 0 (unlimited)", kExitUsage);
    return std::nullopt;
  }
  return v;
}

// "0,2-4" against the torrent's file count.
std::optional<std::vector<bool>> parse_select(const std::string& text, std::size_t files) {
  std::vector<bool> selected(files, false);
  auto bad = [&](const std::string& why) {
    error("--select " + text + ": " + why, kExitUsage);
    return std::nullopt;
  };
  auto number = [](std::string_view s) -> std::optional<std::size_t> {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    return static_cast<std::size_t>(std::stoul(std::string(s)));
  };
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const auto dash = item.find('-');
    const auto first = number(item.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : number(item.substr(dash + 1));
    if (!first || !last || *last < *first)
      return bad("expected file indices as `sta info` lists them, like 0,2-4");
    if (*last >= files)
      return bad("the torrent has " + std::to_string(files) + (files == 1 ? " file (index 0)" : " files (indices 0-" +
                 std::to_string(files - 1) + ")"));
    for (std::size_t i = *first; i <= *last; ++i) selected[i] = true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return selected;
}

// The selection from --select and --exclude-glob (matched against the paths
// `sta info` shows); empty when every file is selected.
std::optional<std::vector<bool>> selection(const swarm_args& args, const meta::metainfo& m) {
  if (args.select.empty() && args.exclude_globs.empty()) return std::vector<bool>{};
  std::vector<bool> selected(m.files.size(), true);
  if (!args.select.empty()) {
    auto s = parse_select(args.select, m.files.size());
    if (!s) return std::nullopt;
    selected = std::move(*s);
  }
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    const std::string path = m.multi_file ? m.files[i].joined_path() : m.name;
    for (const auto& g : args.exclude_globs)
      if (::fnmatch(g.c_str(), path.c_str(), 0) == 0) selected[i] = false;
  }
  bool any = false;
  for (std::size_t i = 0; i < m.files.size(); ++i) any = any || (selected[i] && !m.files[i].pad);
  if (!any) {
    error("--select/--exclude-glob leave no file to download", kExitUsage);
    return std::nullopt;
  }
  return selected;
}

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 99 * 3600) return "--:--";
  const auto s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

class reporter {
 public:
  reporter(bool json, std::vector<std::string> listen) : json_(json), terminal_(stderr_is_terminal()), listen_(std::move(listen)) {}

  void report(const char* event, const torrent_stats& st, double elapsed, double dt) {
    const double down = dt > 0 ? static_cast<double>(st.downloaded - last_down_) / dt : 0;
    const double up = dt > 0 ? static_cast<double>(st.uploaded - last_up_) / dt : 0;
    last_down_ = st.downloaded;
    last_up_ = st.uploaded;
    const double progress =
        st.selected_total > 0 ? static_cast<double>(st.verified) / static_cast<double>(st.selected_total) : 1.0;
    if (json_) {
      boost::json::object o;
      o["event"] = event;
      o["progress"] = progress;
      o["downloaded"] = st.downloaded;
      o["uploaded"] = st.uploaded;
      o["total"] = st.total;
      o["selected_total"] = st.selected_total;
      o["verified"] = st.verified;
      o["down_rate"] = static_cast<std::int64_t>(down);
      o["up_rate"] = static_cast<std::int64_t>(up);
      o["peers"] = st.peers;
      o["seeds"] = st.seeds;
      o["elapsed"] = elapsed;
      o["hash_failures"] = st.hash_failures;
      o["banned"] = st.banned_hosts;
      o["read_errors"] = st.read_errors;
      if (first_) {
        boost::json::array l;
        for (const auto& e : listen_) l.emplace_back(e);
        o["listen"] = std::move(l);
      }
      if (!st.tracker_status.empty()) o["tracker"] = st.tracker_status;
      if (st.error) o["error"] = *st.error;
      std::cout << boost::json::serialize(o) << std::endl;
    } else if (terminal_) {
      if (first_) {
        std::string all;
        for (const auto& l : listen_) all += (all.empty() ? "" : ", ") + l;
        std::fprintf(stderr, "listening on %s\n", all.empty() ? "-" : all.c_str());
      }
      const double eta = down > 0 ? static_cast<double>(st.selected_total - st.verified) / down : INFINITY;
      std::fprintf(stderr, "\r\033[K%5.1f%% %s/%s  down %s/s  up %s/s  peers %u (%u seeds)  ETA %s",
                   progress * 100, format_size(static_cast<double>(st.verified)).c_str(),
                   format_size(static_cast<double>(st.selected_total)).c_str(), format_size(down).c_str(),
                   format_size(up).c_str(), st.peers, st.seeds, st.complete ? "0:00" : format_eta(eta).c_str());
      if (std::string(event) != "progress") std::fputc('\n', stderr);
      std::fflush(stderr);
    }
    if (!json_ && std::string(event) == "complete" && st.downloaded > 0) {
      std::fprintf(stderr, "complete: %s downloaded and verified in %.1f s (%s/s)\n",
                   format_size(static_cast<double>(st.downloaded)).c_str(), elapsed,
                   format_size(elapsed > 0 ? static_cast<double>(st.downloaded) / elapsed : 0).c_str());
    }
    first_ = false;
  }

 private:
  bool json_;
  bool terminal_;
  std::vector<std::string> listen_;
  bool first_ = true;
  std::int64_t last_down_ = 0;
  std::int64_t last_up_ = 0;
};

int run_swarm(const swarm_args& args, torrent_mode mode) {
  auto m = load_torrent(args.torrent);
  if (!m) return kExitUsage;
  session_options opts;
  opts.save_dir = args.save_dir;
  opts.mode = mode;
  opts.threads = args.threads;
  opts.use_trackers = !args.no_tracker;
  opts.tracker_ip = args.tracker_ip;
  opts.sequential = args.sequential;
  opts.max_connections = args.max_connections;
  opts.max_half_open = args.max_half_open;
  opts.limits.max_peers = args.max_peers;
  opts.limits.max_per_host = args.max_per_ip;
  opts.allow_truncate = args.allow_truncate;
  const auto down = parse_rate("-d/--download-limit", args.download_limit);
  if (!down) return kExitUsage;
  const auto up = parse_rate("-u/--upload-limit", args.upload_limit);
  if (!up) return kExitUsage;
  opts.limits.download_rate = *down;
  opts.limits.upload_rate = *up;
  auto selected = selection(args, *m);
  if (!selected) return kExitUsage;
  opts.selected = std::move(*selected);
  for (const auto& p : args.peers) {
    auto ep = parse_endpoint(p);
    if (!ep) return error("--peer " + p + ": expected IP:PORT (IPv6 as [ADDR]:PORT)", kExitUsage);
    opts.peers.push_back(*ep);
  }
  for (const auto& l : args.listen) {
    auto ep = parse_endpoint(l);
    if (!ep) return error("--listen " + l + ": expected ADDR:PORT (IPv6 as [ADDR]:PORT)", kExitUsage);
    opts.listen.push_back(*ep);
  }
  if (args.no_tracker && opts.peers.empty() && mode == torrent_mode::download)
    return error("--no-tracker needs at least one --peer to download from", kExitUsage);

  // Signals are taken by sigtimedwait below: block them before any thread
  // starts, so every reactor thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  progress_bar bar("checking");
  opts.on_check_progress = [&](std::int64_t done, std::int64_t total) { bar.update(done, total); };
  auto s = session::start(*m, std::move(opts));
  bar.finish();
  if (!s) return error(s.error().message(), exit_code_of(s.error()));

  std::vector<std::string> listen;
  for (const auto& e : (*s)->listening()) listen.push_back(e.to_string());
  reporter out(args.json, listen);
  const auto start = clock::now();
  auto last = start;
  auto last_resume = start;
  // A first line at once: where we listen and what was already here.
  const torrent_stats initial = (*s)->stats();
  out.report("progress", initial, 0, 0);
  bool was_complete = initial.complete;
  bool announced_complete = false;
  std::uint64_t warnings_shown = 0;
  std::string resume_failure;
  // Stops; a resume record that cannot be saved turns a clean exit into 1.
  auto finish = [&](int code) {
    if (!said_resume_failure((*s)->stop(), resume_failure) || code != kExitOk) return code;
    return kExitFailed;
  };
  for (;;) {
    // Completion and errors are noticed within 100 ms; progress is
    // reported once a second.
    const timespec poll{0, 100'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &poll);
    const auto now = clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const double dt = std::chrono::duration<double>(now - last).count();
    const torrent_stats st = (*s)->stats();
    if (st.warnings > warnings_shown) {
      for (const auto& [n, text] : (*s)->warnings_since(warnings_shown)) {
        error(text, kExitOk);
        warnings_shown = n;
      }
    }
    const bool report_due = now - last >= kReportInterval;
    if (sig <= 0 && !st.error && !(st.complete && !announced_complete) && !report_due) continue;
    last = now;
    if (st.error) {
      out.report("error", st, elapsed, dt);
      finish(kExitFailed);
      return error(*st.error, kExitFailed);
    }
    if (sig > 0) {
      out.report(st.complete ? "complete" : "progress", st, elapsed, dt);
      if (st.complete || mode == torrent_mode::seed) return finish(kExitOk);
      const int code = finish(128 + sig);
      return error("interrupted at " + std::to_string(st.verified_pieces) + " of " + std::to_string(st.pieces) +
                       " pieces; run the same command again to resume",
                   code);
    }
    if (st.complete && !announced_complete) {
      announced_complete = true;
      out.report(mode == torrent_mode::download ? "complete" : "progress", st, elapsed, dt);
      if (!was_complete) said_resume_failure((*s)->save_resume(), resume_failure);
      if (mode == torrent_mode::download && args.exit_on_complete) return finish(kExitOk);
    } else {
      out.report("progress", st, elapsed, dt);
    }
    if (mode == torrent_mode::download && args.seed_ratio > 0 && st.complete &&
        static_cast<double>(st.uploaded) >= args.seed_ratio * static_cast<double>(st.selected_total))
      return finish(kExitOk);
    if (now - last_resume >= kResumeInterval && !st.complete) {
      last_resume = now;
      said_resume_failure((*s)->save_resume(), resume_failure);
    }
  }
}

void add_common(CLI::App* sub, swarm_args& args) {
  sub->add_option("--peer", args.peers, "Connect to this peer (IP:PORT); repeatable")->type_name("IP:PORT");
  sub->add_option("--listen", args.listen,
                  "Listen for peers on ADDR:PORT ([::]:PORT for IPv6, port 0: any free port; default\n"
                  "0.0.0.0:6881 or the next free one, and [::] on the same port); repeatable.\n"
                  "Outgoing peer and tracker connections leave from ADDR unless it is a wildcard")
      ->type_name("ADDR:PORT");
  sub->add_option("--threads", args.threads, "Reactor threads (default: one per core)")
      ->check(CLI::Range(1u, 256u));
  sub->add_flag("--no-tracker", args.no_tracker, "Do not announce; use --peer only");
  sub->add_option("--tracker-ip", args.tracker_ip, "Tell trackers to hand out this address (ip=), e.g. behind NAT")
      ->type_name("ADDR")
      ->check([](const std::string& v) {
        const bool ok = !v.empty() && v.size() <= 253 &&
                        v.find_first_not_of("0123456789abcdefABCDEFghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ.:-") ==
                            std::string::npos;
        return ok ? std::string() : "expected an IP address or host name";
      });
  sub->add_option("-d,--download-limit", args.download_limit,
                  "Download at most RATE bytes/s over all peers (50MiB, 800k; default 0: unlimited)")
      ->type_name("RATE");
  sub->add_option("-u,--upload-limit", args.upload_limit,
                  "Upload at most RATE bytes/s over all peers (default 0: unlimited)")
      ->type_name("RATE");
  sub->add_option("--max-peers", args.max_peers, "Peer connections of this torrent (default 200)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{65535}));
  sub->add_option("--max-per-ip", args.max_per_ip,
                  "Connections with one IP address, either way (default 4)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  sub->add_option("--max-connections", args.max_connections,
                  "Peer connections of the process, connecting ones included (default 200)")
      ->check(CLI::Range(1u, 65535u));
  sub->add_option("--max-half-open", args.max_half_open, "Outgoing connects in progress at once (default 8)")
      ->check(CLI::Range(1u, 1000u));
  sub->add_flag("--json", args.json,
                "Print one JSON object per line on stdout every second and at the end");
}

}  // namespace

command add_get(CLI::App& app) {
  auto args = std::make_shared<swarm_args>();
  auto* sub = app.add_subcommand("get", "Download a torrent, verify every piece, then seed");
  sub->footer(
      "SAVE_DIR is the directory that will contain the torrent's root name; data already\n"
      "there is checked and kept. Seeds after completing until Ctrl-C, unless -e or\n"
      "--seed-ratio. Ctrl-C leaves resumable state: run the same command to continue.\n"
      "Files left out by --select/--exclude-glob are not created; the bytes of theirs that\n"
      "share a piece with a selected file are kept in SAVE_DIR/.sta/<info-hash>.parts.\n"
      "Rates: k/M/G (or KiB/MiB/GiB) are powers of 1024.\n"
      "Exit status: 0 complete, 1 failed (disk, network), 2 usage or input error,\n"
      "128+signal when interrupted before completion.");
  sub->add_option("TORRENT", args->torrent, ".torrent file")->required();
  sub->add_option("-o,--output", args->save_dir, "Directory to save into")->required()->type_name("SAVE_DIR");
  sub->add_flag("-e,--exit-on-complete", args->exit_on_complete, "Exit once every piece is verified");
  sub->add_option("--seed-ratio", args->seed_ratio, "Exit once uploaded/size reaches R after completing")
      ->check(CLI::PositiveNumber)
      ->type_name("R");
  sub->add_option("--select", args->select,
                  "Download only these files: indices as `sta info` lists them, like 0,2-4")
      ->type_name("LIST");
  sub->add_option("--exclude-glob", args->exclude_globs,
                  "Do not download files whose path (as `sta info` shows it) matches; repeatable")
      ->type_name("PATTERN");
  sub->add_flag("--sequential", args->sequential,
                "Download pieces in order (for streaming) instead of rarest first");
  sub->add_flag("--allow-truncate", args->allow_truncate,
                "Cut an existing file that is larger than the torrent's and holds none of its\n"
                "pieces to size (without this, sta refuses to touch it)");
  add_common(sub, *args);
  return {sub, [args] { return run_swarm(*args, torrent_mode::download); }};
}

command add_serve(CLI::App& app) {
  auto args = std::make_shared<swarm_args>();
  auto* sub = app.add_subcommand("serve", "Seed a torrent whose data is complete in SAVE_DIR");
  sub->footer(
      "Checks the data first (or trusts a matching resume record), then seeds until Ctrl-C.\n"
      "Exit status: 0 stopped cleanly, 1 failed (data missing or not verifying, disk,\n"
      "network), 2 usage or input error.");
  sub->add_option("TORRENT", args->torrent, ".torrent file")->required();
  sub->add_option("SAVE_DIR", args->save_dir, "Directory holding the torrent's data")->required();
  add_common(sub, *args);
  return {sub, [args] { return run_swarm(*args, torrent_mode::seed); }};
}

}  // namespace sta::cli
