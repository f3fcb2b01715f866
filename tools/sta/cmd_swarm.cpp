// sta get TORRENT... -o SAVE_DIR   and   sta serve [TORRENT...] [--watch DIR] -o SAVE_DIR
// Both run a node and report its progress: a live line on stderr when it is
// a terminal, JSON lines on stdout with --json. With one torrent the line
// and the JSON are that torrent's; with several (or --watch) they are the
// node's totals, and each torrent's events (added, complete, error,
// removed) are lines of their own. The node does the work; this file
// parses, prints, watches the directory and waits for signals.
#include <fnmatch.h>
#include <signal.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/units.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "http/node_web.hpp"
#include "http/snapshot_json.hpp"
#include "session/node.hpp"
#include "session/torrent_list.hpp"

namespace sta::cli {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kResumeInterval = 30s;
constexpr auto kReportInterval = 1s;

constexpr auto kWatchInterval = 1s;

struct swarm_args {
  std::vector<std::string> torrents;
  std::string save_dir;
  std::string state_dir;               // --state-dir; empty: SAVE_DIR/.sta
  std::string watch;
  std::size_t max_active = 0;
  std::string web;                     // --web ADDR:PORT
  std::string web_token_file;
  std::vector<std::string> web_hosts;
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
  bool buffered_writes = false;
  bool metadata_only = false;
  bool tracker_no_verify = false;
  bool no_dht = false;
  std::vector<std::string> dht_bootstrap;
  bool dht_read_only = false;
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

// What the first report of a run says besides its numbers: where the node
// listens and where its dashboard is.
struct run_header {
  std::vector<std::string> listen;
  std::string web;

  void add_to(boost::json::object& o) const {
    boost::json::array l;
    for (const auto& e : listen) l.emplace_back(e);
    o["listen"] = std::move(l);
    if (!web.empty()) o["web"] = web;
  }
  void say() const {
    std::string joined;
    for (const auto& l : listen) joined += (joined.empty() ? "" : ", ") + l;
    std::fprintf(stderr, "listening on %s\n", joined.empty() ? "-" : joined.c_str());
  }
};

// What both reporters share: where the output goes, the first line's
// header, and the rates between two reports.
class report_base {
 protected:
  report_base(bool json, run_header header)
      : json_(json), terminal_(stderr_is_terminal()), header_(std::move(header)) {}

  // Payload bytes/s since the last call; never negative (a torrent removed
  // since takes its bytes out of the sums).
  std::pair<double, double> rates(std::int64_t downloaded, std::int64_t uploaded, double dt) {
    const double down = dt > 0 ? std::max<double>(0, static_cast<double>(downloaded - last_down_) / dt) : 0;
    const double up = dt > 0 ? std::max<double>(0, static_cast<double>(uploaded - last_up_) / dt) : 0;
    last_down_ = downloaded;
    last_up_ = uploaded;
    return {down, up};
  }

  bool json_;
  bool terminal_;
  run_header header_;
  bool first_ = true;

 private:
  std::int64_t last_down_ = 0;
  std::int64_t last_up_ = 0;
};

class reporter : report_base {
 public:
  reporter(bool json, run_header header) : report_base(json, std::move(header)) {}

  // With --json, each line also carries the torrent's trackers (URL, tier,
  // last outcome, peers, next announce) from here.
  std::function<boost::json::array()> trackers;
  // And the node's DHT.
  std::function<boost::json::object()> dht;

  void report(const char* event, const torrent_stats& st, double elapsed, double dt) {
    const auto [down, up] = rates(st.downloaded, st.uploaded, dt);
    const double progress =
        st.selected_total > 0 ? static_cast<double>(st.verified) / static_cast<double>(st.selected_total) : 1.0;
    if (json_) {
      // The API's torrent object, with this line's event, time and rates
      // over the time since the last line.
      boost::json::object o = http::to_json(st);
      o["event"] = event;
      o["down_rate"] = static_cast<std::int64_t>(down);
      o["up_rate"] = static_cast<std::int64_t>(up);
      o["elapsed"] = elapsed;
      if (trackers) o["trackers"] = trackers();
      if (dht) o["dht"] = dht();
      if (first_) header_.add_to(o);
      std::cout << boost::json::serialize(o) << std::endl;
    } else if (terminal_) {
      if (first_) header_.say();
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

};

// One torrent of this run.
struct job {
  std::string shown;  // its .torrent's path, or its state file
  torrent_file file;
  torrent_id id = 0;
  bool added = false;
  bool failed = false;      // its error was said
  bool complete = false;    // its completion was said
  bool remembered = false;  // in the state directory's list
  std::uint64_t warnings_shown = 0;
  std::string resume_failure;
  std::vector<bool> selected;  // download: from --exclude-glob
  // Added from a magnet link: file.meta has only its name and info-hash
  // (and file.bytes nothing) until the node fetched the metadata.
  std::optional<meta::magnet> magnet;
};

// Adds a job's torrent, from its .torrent or its magnet link.
detailed_result<torrent_id> add_job(node& n, const job& j, const torrent_options& o) {
  return j.magnet ? n.add_magnet(*j.magnet, o) : n.add(j.file.meta, o);
}

// What every torrent of the run gets from the command line.
struct run_setup {
  node_options node;
  torrent_options torrent;
};

std::optional<run_setup> setup_of(const swarm_args& args, torrent_mode mode, const std::string& save_dir) {
  run_setup s;
  s.node.threads = args.threads;
  s.node.tracker_ip = args.tracker_ip;
  s.node.verify_tracker_tls = !args.tracker_no_verify;
  s.node.max_connections = args.max_connections;
  s.node.max_half_open = args.max_half_open;
  s.node.max_active = args.max_active;
  const auto down = parse_rate("-d/--download-limit", args.download_limit);
  if (!down) return std::nullopt;
  const auto up = parse_rate("-u/--upload-limit", args.upload_limit);
  if (!up) return std::nullopt;
  s.node.download_rate = *down;
  s.node.upload_rate = *up;
  // Each of a repeated address flag, or a usage error naming it.
  auto endpoints = [](const char* flag, const char* form, const std::vector<std::string>& texts,
                      std::vector<endpoint>& out) {
    for (const auto& t : texts) {
      auto ep = parse_endpoint(t);
      if (!ep) {
        error(std::string(flag) + " " + t + ": expected " + form + " (IPv6 as [ADDR]:PORT)", kExitUsage);
        return false;
      }
      out.push_back(*ep);
    }
    return true;
  };
  if (!endpoints("--listen", "ADDR:PORT", args.listen, s.node.listen)) return std::nullopt;
  // --no-tracker means --peer only: no DHT either.
  s.node.dht.enabled = !args.no_dht && !args.no_tracker;
  s.node.dht.bootstrap = args.dht_bootstrap;
  s.node.dht.read_only = args.dht_read_only;
  s.node.dht.save_dir = save_dir;
  s.node.dht.state_dir = args.state_dir;
  s.torrent.save_dir = save_dir;
  s.torrent.state_dir = args.state_dir;
  s.torrent.mode = mode;
  s.torrent.use_trackers = !args.no_tracker;
  s.torrent.sequential = args.sequential;
  s.torrent.allow_truncate = args.allow_truncate;
  s.torrent.direct_writes = !args.buffered_writes;
  s.torrent.limits.max_peers = args.max_peers;
  s.torrent.limits.max_per_host = args.max_per_ip;
  if (!endpoints("--peer", "IP:PORT", args.peers, s.torrent.peers)) return std::nullopt;
  return s;
}

// Blocks SIGINT and SIGTERM before any thread starts, so that every reactor
// thread inherits the mask and sigtimedwait takes them.
sigset_t block_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// The signal that arrived within 100 ms, or 0.
int wait_signal(const sigset_t& signals) {
  const timespec poll{0, 100'000'000};
  const int sig = sigtimedwait(&signals, nullptr, &poll);
  return sig > 0 ? sig : 0;
}

// Says the warnings of a torrent not said yet, prefixed with its name when
// the run has several.
void say_warnings(node& n, job& j, const torrent_stats& st, bool prefix) {
  if (st.warnings <= j.warnings_shown) return;
  for (const auto& [k, text] : n.warnings_since(j.id, j.warnings_shown)) {
    error(prefix ? j.file.meta.name + ": " + text : text, kExitOk);
    j.warnings_shown = k;
  }
}

// The dashboard and API of --web, if asked for.
struct web_run {
  std::unique_ptr<http::node_web> server;
  std::string url;
};

// nullopt: a usage error was said; a null pointer: no --web.
std::optional<std::unique_ptr<web_run>> start_web(const swarm_args& args, node& n, torrent_options added,
                                                  torrent_mode mode) {
  if (args.web.empty()) return std::unique_ptr<web_run>();
  auto ep = parse_endpoint(args.web);
  if (!ep) {
    error("--web " + args.web + ": expected ADDR:PORT (IPv6 as [ADDR]:PORT)", kExitUsage);
    return std::nullopt;
  }
  http::web_options o;
  o.listen = *ep;
  o.hosts = args.web_hosts;
  bool generated = false;
  if (!args.web_token_file.empty()) {
    std::ifstream in(args.web_token_file);
    std::string token;
    if (!in || !std::getline(in, token)) {
      error("--web-token " + args.web_token_file + ": cannot read it", kExitUsage);
      return std::nullopt;
    }
    while (!token.empty() && (token.back() == ' ' || token.back() == '\r' || token.back() == '\t')) token.pop_back();
    if (token.size() < 16 || token.find_first_of(" ;\t") != std::string::npos) {
      error("--web-token " + args.web_token_file + ": the token must be at least 16 characters, without spaces or ';'",
            kExitUsage);
      return std::nullopt;
    }
    o.token = token;
  } else if (!ep->is_loopback()) {
    // Anything but loopback is reachable by others: never without a token.
    o.token = http::make_token();
    generated = true;
  }
  added.selected.clear();
  const std::string save_dir = added.save_dir;
  const std::string state_dir = added.state_dir;
  http::web_actions actions;
  actions.add = [&n, added, mode, save_dir, state_dir](meta::metainfo m, std::string file,
                                                       bool paused) -> detailed_result<torrent_id> {
    torrent_options o = added;
    o.paused = paused;
    const auto hash = m.info_hash;
    auto id = n.add(std::move(m), std::move(o));
    if (id && mode == torrent_mode::seed) {
      if (auto r = remember_torrent(save_dir, state_dir, hash, file); !r)
        error("cannot record the torrent for the next start: " + r.error().message(), kExitOk);
    }
    return id;
  };
  actions.add_magnet = [&n, added](const meta::magnet& m, bool paused) {
    torrent_options o = added;
    o.paused = paused;
    return n.add_magnet(m, std::move(o));
  };
  actions.remove = [&n, mode, save_dir, state_dir](torrent_id id, bool with_data) -> detailed_result<void> {
    const auto st = n.stats(id);
    auto r = n.remove(id, with_data);
    if (r && st && mode == torrent_mode::seed) {
      if (auto f = forget_torrent(save_dir, state_dir, st->info_hash); !f) error(f.error().message(), kExitOk);
    }
    return r;
  };
  auto server = http::node_web::start(n, std::move(o), std::move(actions));
  if (!server) {
    error("--web " + args.web + ": " + server.error(), kExitFailed);
    return std::nullopt;
  }
  auto run = std::make_unique<web_run>();
  run->url = "http://" + (*server)->address().to_string() + "/";
  if (generated) {
    std::fprintf(stderr, "web: %s?token=%s (the access token is shown only now)\n", run->url.c_str(),
                 (*server)->token().c_str());
  } else {
    std::fprintf(stderr, "web: %s\n", run->url.c_str());
  }
  run->server = std::move(*server);
  return run;
}

// A magnet's metadata phase: a status line (or JSON lines) until the node
// has the metadata. -1 to go on with the torrent; else the exit code (a
// signal, an error, or --metadata-only done).
int fetch_metadata(const swarm_args& args, node& n, job& j, const sigset_t& signals) {
  const bool terminal = stderr_is_terminal();
  const auto start = clock::now();
  auto last = start - kReportInterval;
  for (;;) {
    const int sig = wait_signal(signals);
    const auto st = n.stats(j.id);
    if (!st) return error("the torrent is gone", kExitFailed);
    if (st->error) {
      n.stop();
      return error(*st->error, kExitFailed);
    }
    const auto now = clock::now();
    if (st->has_metadata || sig != 0 || now - last >= kReportInterval) {
      last = now;
      if (args.json) {
        boost::json::object o = http::to_json(*st);
        o["event"] = st->has_metadata ? "metadata" : "progress";
        o["elapsed"] = std::chrono::duration<double>(now - start).count();
        o["dht"] = http::to_json(n.dht());
        std::cout << boost::json::serialize(o) << std::endl;
      } else if (terminal && !st->has_metadata) {
        std::fprintf(stderr, "\r\033[Kfetching metadata: %u peers, %u offer it%s", st->peers, st->metadata_peers,
                     st->metadata_size > 0 ? (", " + format_size(static_cast<double>(st->metadata_size))).c_str() : "");
        std::fflush(stderr);
      }
    }
    if (sig != 0) {
      if (terminal && !args.json) std::fputc('\n', stderr);
      n.stop();
      return error("interrupted while fetching the metadata; run the same command again to go on", 128 + sig);
    }
    if (!st->has_metadata) continue;
    if (terminal && !args.json) std::fputs("\r\033[K", stderr);
    j.file.meta.name = st->name;
    if (!args.json) std::fprintf(stderr, "metadata: %s, %s in %zu files\n", printable(st->name).c_str(),
                                 format_size(static_cast<double>(st->total)).c_str(), st->files);
    if (!args.metadata_only) return -1;
    const auto bytes = n.torrent_file(j.id);
    n.stop();
    std::ofstream out(args.save_dir, std::ios::binary | std::ios::trunc);
    if (!bytes || !out || !out.write(bytes->data(), static_cast<std::streamsize>(bytes->size())) || !out.flush())
      return error("cannot write " + args.save_dir + ": " + std::strerror(errno), kExitFailed);
    if (!args.json) std::fprintf(stderr, "wrote %s\n", args.save_dir.c_str());
    return kExitOk;
  }
}

// One torrent, as sta has always shown it: its own status line or JSON.
int run_one(const swarm_args& args, torrent_mode mode, run_setup setup, job j) {
  if (args.no_tracker && setup.torrent.peers.empty() && mode == torrent_mode::download &&
      !(j.magnet && !j.magnet->peers.empty()))
    return error("--no-tracker needs at least one --peer to download from", kExitUsage);
  if (!j.magnet) {
    auto selected = selection(args, j.file.meta);
    if (!selected) return kExitUsage;
    setup.torrent.selected = std::move(*selected);
  }
  const sigset_t signals = block_signals();
  auto started = node::start(std::move(setup.node));
  if (!started) return error(started.error().message(), exit_code_of(started.error()));
  node& n = **started;

  progress_bar bar("checking");
  setup.torrent.on_check_progress = [&](std::int64_t done, std::int64_t total) { bar.update(done, total); };
  auto id = add_job(n, j, setup.torrent);
  if (!id) return error(id.error().message(), exit_code_of(id.error()));
  j.id = *id;
  if (j.magnet) {
    if (const int code = fetch_metadata(args, n, j, signals); code >= 0) return code;
  }
  auto checked = n.wait_checked(j.id);
  bar.finish();
  if (!checked) return error(checked.error().message(), exit_code_of(checked.error()));
  if (mode == torrent_mode::seed && !j.remembered && !j.magnet) {
    if (auto r = remember_torrent(setup.torrent.save_dir, setup.torrent.state_dir, j.file.meta.info_hash, j.file.bytes);
        !r)
      error("cannot record the torrent for the next start: " + r.error().message(), kExitOk);
  }
  // Torrents the dashboard adds are checked without the bar.
  setup.torrent.on_check_progress = nullptr;

  auto web = start_web(args, n, setup.torrent, mode);
  if (!web) return kExitUsage;
  run_header header;
  for (const auto& e : n.listening()) header.listen.push_back(e.to_string());
  if (*web) header.web = (*web)->url;
  reporter out(args.json, std::move(header));
  out.trackers = [&n, id = j.id] {
    boost::json::array a;
    for (const auto& t : n.trackers(id)) a.push_back(http::to_json(t));
    return a;
  };
  out.dht = [&n] { return http::to_json(n.dht()); };
  const auto start = clock::now();
  auto last = start;
  auto last_resume = start;
  // A first line at once: where we listen and what was already here.
  const torrent_stats initial = *n.stats(j.id);
  out.report("progress", initial, 0, 0);
  const bool was_complete = initial.complete;
  // Stops; a resume record that cannot be saved turns a clean exit into 1.
  auto finish = [&](int code) {
    if (*web) (*web)->server->stop();
    if (!said_resume_failure(n.stop(), j.resume_failure) || code != kExitOk) return code;
    return kExitFailed;
  };
  for (;;) {
    // Completion and errors are noticed within 100 ms; progress is
    // reported once a second.
    const int sig = wait_signal(signals);
    const auto now = clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const double dt = std::chrono::duration<double>(now - last).count();
    const torrent_stats st = *n.stats(j.id);
    say_warnings(n, j, st, false);
    const bool report_due = now - last >= kReportInterval;
    if (sig == 0 && !st.error && !(st.complete && !j.complete) && !report_due) continue;
    last = now;
    if (st.error) {
      out.report("error", st, elapsed, dt);
      finish(kExitFailed);
      return error(*st.error, kExitFailed);
    }
    if (sig != 0) {
      out.report(st.complete ? "complete" : "progress", st, elapsed, dt);
      if (st.complete || mode == torrent_mode::seed) return finish(kExitOk);
      const int code = finish(128 + sig);
      return error("interrupted at " + std::to_string(st.verified_pieces) + " of " + std::to_string(st.pieces) +
                       " pieces; run the same command again to resume",
                   code);
    }
    if (st.complete && !j.complete) {
      j.complete = true;
      out.report(mode == torrent_mode::download ? "complete" : "progress", st, elapsed, dt);
      if (!was_complete) said_resume_failure(n.save_resume(j.id), j.resume_failure);
      if (mode == torrent_mode::download && args.exit_on_complete) return finish(kExitOk);
    } else {
      out.report("progress", st, elapsed, dt);
    }
    if (mode == torrent_mode::download && args.seed_ratio > 0 && st.complete &&
        static_cast<double>(st.uploaded) >= args.seed_ratio * static_cast<double>(st.selected_total))
      return finish(kExitOk);
    if (now - last_resume >= kResumeInterval && !st.complete) {
      last_resume = now;
      said_resume_failure(n.save_resume(j.id), j.resume_failure);
    }
  }
}

// The .torrent files of --watch DIR: new ones are added, vanished ones
// removed (their data stays), within a second or so.
class watcher {
 public:
  explicit watcher(std::string dir) : dir_(std::move(dir)) {}

  struct change {
    std::vector<std::pair<std::string, torrent_file>> added;  // path, torrent
    std::vector<std::string> removed;                          // paths
  };

  // What changed since the last scan. A file that does not parse (still
  // being copied, or not a torrent) is said once per version of it.
  change scan() {
    change c;
    std::map<std::string, stamp> seen;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      const auto& path = entry.path();
      if (path.extension() != ".torrent" || !entry.is_regular_file(ec)) continue;
      struct stat sb {};
      if (::stat(path.c_str(), &sb) != 0) continue;
      const stamp now{sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec, sb.st_size};
      seen[path.string()] = now;
      const auto known = files_.find(path.string());
      if (known != files_.end() && known->second == now) continue;
      if (known != files_.end() && known_good_.count(path.string())) continue;  // rewritten in place: kept
      auto t = read_torrent(path.string());
      if (!t) {
        error(t.error(), kExitOk);
        continue;
      }
      known_good_.insert(path.string());
      c.added.emplace_back(path.string(), std::move(*t));
    }
    if (ec && !said_unreadable_) {
      error("--watch " + dir_ + ": " + ec.message(), kExitOk);
      said_unreadable_ = true;
    }
    for (const auto& [path, st] : files_)
      if (!seen.count(path) && known_good_.erase(path)) c.removed.push_back(path);
    files_ = std::move(seen);
    return c;
  }

 private:
  struct stamp {
    long sec, nsec;
    off_t size;
    friend bool operator==(const stamp&, const stamp&) = default;
  };
  std::string dir_;
  std::map<std::string, stamp> files_;
  std::set<std::string> known_good_;
  bool said_unreadable_ = false;
};

// Several torrents (or --watch): the node's totals on the status line, each
// torrent's events as lines of their own.
class node_reporter : report_base {
 public:
  node_reporter(bool json, run_header header) : report_base(json, std::move(header)) {}

  // With --json, progress lines carry the node's DHT from here.
  std::function<boost::json::object()> dht;

  void event(const char* what, const job& j, const std::string& detail = {}) {
    if (json_) {
      boost::json::object o;
      o["event"] = what;
      o["name"] = j.file.meta.name;
      o["info_hash"] = j.file.meta.info_hash.hex();
      if (!detail.empty()) o["detail"] = detail;
      std::cout << boost::json::serialize(o) << std::endl;
    } else {
      if (terminal_) std::fputs("\r\033[K", stderr);
      std::fprintf(stderr, "%s: %s%s%s\n", what, printable(j.file.meta.name).c_str(), detail.empty() ? "" : ": ",
                   printable(detail).c_str());
    }
  }

  void report(const node_stats& totals, const std::vector<torrent_stats>& all, double elapsed, double dt) {
    std::int64_t downloaded = 0, uploaded = 0;
    unsigned peers = 0, complete = 0;
    for (const auto& t : all) {
      downloaded += t.downloaded;
      uploaded += t.uploaded;
      peers += t.peers;
      if (t.complete) ++complete;
    }
    const auto [down, up] = rates(downloaded, uploaded, dt);
    if (json_) {
      boost::json::object o;
      o["event"] = "progress";
      o["torrents"] = totals.torrents;
      o["live"] = totals.live;
      o["checking"] = totals.checking;
      o["queued"] = totals.queued;
      o["paused"] = totals.paused;
      o["errors"] = totals.errors;
      o["complete"] = complete;
      o["downloaded"] = downloaded;
      o["uploaded"] = uploaded;
      o["down_rate"] = static_cast<std::int64_t>(down);
      o["up_rate"] = static_cast<std::int64_t>(up);
      o["peers"] = peers;
      o["connections"] = totals.connections;
      o["elapsed"] = elapsed;
      if (dht) o["dht"] = dht();
      if (first_) header_.add_to(o);
      std::cout << boost::json::serialize(o) << std::endl;
    } else if (terminal_) {
      if (first_) header_.say();
      std::fprintf(stderr, "\r\033[K%zu torrents: %zu live, %u complete, %zu checking, %zu errors  down %s/s  up %s/s  peers %u",
                   totals.torrents, totals.live, complete, totals.checking, totals.errors, format_size(down).c_str(),
                   format_size(up).c_str(), peers);
      std::fflush(stderr);
    }
    first_ = false;
  }

  void end() {
    if (!json_ && terminal_ && !first_) std::fputc('\n', stderr);
  }

};

int run_many(const swarm_args& args, torrent_mode mode, run_setup setup, std::vector<job> jobs) {
  if (!args.select.empty())
    return error("--select takes the file indices of one torrent; give one TORRENT with it", kExitUsage);
  if (args.no_tracker && setup.torrent.peers.empty() && mode == torrent_mode::download)
    return error("--no-tracker needs at least one --peer to download from", kExitUsage);
  if (mode == torrent_mode::download) {
    for (auto& j : jobs) {
      if (j.magnet) continue;
      auto sel = selection(args, j.file.meta);
      if (!sel) return kExitUsage;
      j.selected = std::move(*sel);
    }
  }
  const sigset_t signals = block_signals();
  auto started = node::start(std::move(setup.node));
  if (!started) return error(started.error().message(), exit_code_of(started.error()));
  node& n = **started;
  const std::string& save_dir = setup.torrent.save_dir;
  auto web = start_web(args, n, setup.torrent, mode);
  if (!web) return kExitUsage;
  run_header header;
  for (const auto& e : n.listening()) header.listen.push_back(e.to_string());
  if (*web) header.web = (*web)->url;
  node_reporter out(args.json, std::move(header));
  out.dht = [&n] { return http::to_json(n.dht()); };
  // A first line at once: where the node listens.
  out.report(n.totals(), {}, 0, 0);

  std::vector<job> all;
  std::map<std::string, std::size_t> by_path;  // --watch files: index in `all`
  // Adds a torrent; one already in the node (the same file twice, or a
  // recorded one that is also given) is simply not added again.
  auto add = [&](job j) -> std::optional<std::size_t> {
    setup.torrent.selected = j.selected;
    auto id = add_job(n, j, setup.torrent);
    if (!id) {
      if (id.error().code != make_error_code(errc::already_added)) error(j.shown + ": " + id.error().message(), kExitOk);
      return std::nullopt;
    }
    j.id = *id;
    j.added = true;
    out.event("added", j);
    all.push_back(std::move(j));
    return all.size() - 1;
  };
  for (auto& j : jobs) add(std::move(j));
  std::optional<watcher> watch;
  if (!args.watch.empty()) watch.emplace(args.watch);

  const auto start = clock::now();
  auto last = start - kReportInterval;
  auto last_watch = start - kWatchInterval;
  auto last_resume = start;
  int code = kExitOk;
  std::string stop_failure;
  for (;;) {
    const int sig = wait_signal(signals);
    const auto now = clock::now();
    if (watch && now - last_watch >= kWatchInterval) {
      last_watch = now;
      auto c = watch->scan();
      for (auto& [path, file] : c.added) {
        job j;
        j.shown = path;
        j.file = std::move(file);
        if (auto at = add(std::move(j))) by_path[path] = *at;
      }
      for (const auto& path : c.removed) {
        const auto it = by_path.find(path);
        if (it == by_path.end()) continue;
        job& j = all[it->second];
        by_path.erase(it);
        if (!j.added) continue;
        n.remove(j.id, false);
        if (auto r = forget_torrent(save_dir, setup.torrent.state_dir, j.file.meta.info_hash); !r)
          error(r.error().message(), kExitOk);
      }
    }
    // Once a second (or at a signal): every torrent's news.
    if (now - last < kReportInterval && sig == 0) continue;
    const double dt = std::chrono::duration<double>(now - last).count();
    last = now;
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const std::vector<torrent_stats> stats = n.torrents();
    std::map<torrent_id, const torrent_stats*> by_id;
    for (const auto& st : stats) by_id[st.id] = &st;
    // Torrents added from the dashboard are followed like the others.
    std::set<torrent_id> known;
    for (const auto& j : all) known.insert(j.id);
    for (const auto& st : stats) {
      if (known.count(st.id)) continue;
      job j;
      j.shown = st.name;
      j.file.meta.name = st.name;
      j.file.meta.info_hash = st.info_hash;
      j.id = st.id;
      j.added = true;
      j.remembered = true;
      out.event("added", j);
      all.push_back(std::move(j));
    }
    bool every_one_done = true;   // for get -e: complete, or failed
    bool any_running = false;     // not failed
    std::vector<job*> to_remember;  // seeding now, not in the state directory's list yet
    for (auto& j : all) {
      if (!j.added) continue;
      const auto found = by_id.find(j.id);
      if (found == by_id.end()) {
        // Removed (from the watched directory or the dashboard).
        j.added = false;
        out.event("removed", j);
        continue;
      }
      const torrent_stats& st = *found->second;
      say_warnings(n, j, st, true);
      if (st.state == swarm::torrent_state::error && !j.failed) {
        j.failed = true;
        // A download that failed fails the run; a seeding node goes on.
        if (mode == torrent_mode::download) code = kExitFailed;
        out.event("error", j, st.error.value_or(""));
      }
      if (st.state != swarm::torrent_state::error) {
        any_running = true;
        j.failed = false;  // resumed from the dashboard
      }
      if (st.state == swarm::torrent_state::live && mode == torrent_mode::seed && !j.remembered && !j.magnet) {
        j.remembered = true;
        to_remember.push_back(&j);
      }
      if (st.complete && !j.complete && st.state != swarm::torrent_state::checking) {
        j.complete = true;
        if (mode == torrent_mode::download) {
          out.event("complete", j);
          said_resume_failure(n.save_resume(j.id), j.resume_failure);
        }
      }
      if (!j.complete && !j.failed) every_one_done = false;
    }
    out.report(n.totals(), stats, elapsed, dt);
    // After the report: they are served already, the list is for the next start.
    if (!to_remember.empty()) {
      std::vector<std::pair<sha1_digest, std::string_view>> files;
      for (const job* j : to_remember) files.emplace_back(j->file.meta.info_hash, j->file.bytes);
      if (auto r = remember_torrents(save_dir, setup.torrent.state_dir, files); !r)
        error("cannot record the torrents for the next start: " + r.error().message(), kExitOk);
    }
    if (now - last_resume >= kResumeInterval) {
      last_resume = now;
      for (auto& j : all)
        if (j.added && !j.complete) said_resume_failure(n.save_resume(j.id), j.resume_failure);
    }
    const bool finished = mode == torrent_mode::download && args.exit_on_complete && every_one_done;
    const bool nothing_left = !watch && !*web && !any_running && !all.empty();
    if (sig == 0 && !finished && !nothing_left) continue;
    out.end();
    if (*web) (*web)->server->stop();
    if (said_resume_failure(n.stop(), stop_failure) && code == kExitOk) code = kExitFailed;
    if (nothing_left && !finished) return error("no torrent could be served or downloaded", kExitFailed);
    if (sig != 0 && mode == torrent_mode::download && !every_one_done)
      return error("interrupted before every torrent was complete; run the same command again to resume", 128 + sig);
    return code;
  }
}

int run_swarm(const swarm_args& args, torrent_mode mode) {
  std::vector<std::string> files = args.torrents;
  std::string save_dir = args.save_dir;
  // The older form `sta serve TORRENT SAVE_DIR`.
  std::error_code ec;
  if (save_dir.empty() && mode == torrent_mode::seed && files.size() >= 2 &&
      std::filesystem::is_directory(files.back(), ec)) {
    save_dir = files.back();
    files.pop_back();
  }
  if (save_dir.empty()) return error("-o SAVE_DIR is required", kExitUsage);
  if (args.metadata_only && (files.size() != 1 || !files.front().starts_with("magnet:")))
    return error("--metadata-only takes one magnet link (and -o FILE for its .torrent)", kExitUsage);
  // A state directory of the user's is made now, so a path that cannot be
  // one is said at once rather than at the first resume record.
  if (!args.state_dir.empty()) {
    if (::mkdir(args.state_dir.c_str(), 0755) != 0 && errno != EEXIST)
      return error("--state-dir " + args.state_dir + ": " + std::strerror(errno), kExitUsage);
    if (!std::filesystem::is_directory(args.state_dir, ec) || ::access(args.state_dir.c_str(), W_OK | X_OK) != 0)
      return error("--state-dir " + args.state_dir + ": not a directory this user can write to", kExitUsage);
  }
  std::vector<job> jobs;
  for (const auto& f : files) {
    if (f.starts_with("magnet:")) {
      auto m = meta::parse_magnet(f);
      if (!m) return error("not a valid magnet link: " + m.error().message(), kExitUsage);
      if (!args.select.empty() || !args.exclude_globs.empty())
        return error("--select and --exclude-glob need the torrent's file list, which a magnet link lacks; "
                     "fetch it first with --metadata-only -o FILE",
                     kExitUsage);
      job j;
      j.shown = m->display_name.empty() ? m->info_hash.hex() : m->display_name;
      j.file.meta.name = j.shown;
      j.file.meta.info_hash = m->info_hash;
      j.magnet = std::move(*m);
      jobs.push_back(std::move(j));
      continue;
    }
    auto t = read_torrent(f);
    if (!t) return error(t.error(), kExitUsage);
    job j;
    j.shown = f;
    j.file = std::move(*t);
    jobs.push_back(std::move(j));
  }
  // Served with no TORRENT: the ones earlier runs recorded.
  if (mode == torrent_mode::seed && files.empty()) {
    auto list = remembered_torrents(save_dir, args.state_dir);
    if (!list) return error(list.error().message(), kExitFailed);
    for (auto& r : *list) {
      auto m = meta::parse(r.bytes);
      if (!m) {
        error(r.file + ": " + m.error().message() + " (skipped)", kExitOk);
        continue;
      }
      job j;
      j.shown = r.file;
      j.file = {std::move(*m), std::move(r.bytes)};
      j.remembered = true;
      jobs.push_back(std::move(j));
    }
    if (jobs.empty() && args.watch.empty())
      return error("nothing to serve: give TORRENT files or --watch DIR (" +
                       (args.state_dir.empty() ? save_dir + "/.sta" : args.state_dir) +
                       " lists no torrent of an earlier run)",
                   kExitUsage);
  }
  if (args.metadata_only) {
    // -o is the .torrent to write; the node's own files (the fetched
    // metadata) go to a directory of its own, gone afterwards unless it is
    // the user's --state-dir.
    std::string scratch = (std::filesystem::temp_directory_path(ec) / "sta-metadata-XXXXXX").string();
    if (::mkdtemp(scratch.data()) == nullptr) return error("cannot make a temporary directory: " + std::string(std::strerror(errno)), kExitFailed);
    auto setup = setup_of(args, mode, scratch);
    const int code = setup ? run_one(args, mode, std::move(*setup), std::move(jobs.front())) : kExitUsage;
    std::filesystem::remove_all(scratch, ec);
    return code;
  }
  auto setup = setup_of(args, mode, save_dir);
  if (!setup) return kExitUsage;
  if (jobs.size() == 1 && args.watch.empty()) return run_one(args, mode, std::move(*setup), std::move(jobs.front()));
  return run_many(args, mode, std::move(*setup), std::move(jobs));
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
  sub->add_flag("--no-tracker", args.no_tracker, "Do not announce to trackers or the DHT; use --peer only");
  sub->add_flag("--no-dht", args.no_dht, "Do not join the Mainline DHT (it is off for private torrents anyway)");
  sub->add_flag("--buffered-writes", args.buffered_writes,
                "Write downloaded pieces through the page cache. Default: a piece's whole pages\n"
                "go to the disk with O_DIRECT where the file system allows it (no copy)");
  sub->add_option("--dht-bootstrap", args.dht_bootstrap,
                  "Join the DHT through this node (HOST:PORT); repeatable. Default: the public\n"
                  "routers (router.bittorrent.com:6881, router.utorrent.com:6881,\n"
                  "dht.transmissionbt.com:6881, dht.libtorrent.org:25401), after the nodes saved\n"
                  "in the state directory's dht.dat")
      ->type_name("HOST:PORT")
      ->check([](const std::string& v) {
        const auto colon = v.rfind(':');
        return colon != std::string::npos && colon > 0 && colon + 1 < v.size() &&
                       v.find_first_not_of("0123456789", colon + 1) == std::string::npos
                   ? std::string()
                   : "expected HOST:PORT";
      });
  sub->add_flag("--dht-read-only", args.dht_read_only,
                "Ask the DHT but do not answer it (BEP 43), for a node others cannot reach");
  sub->add_flag("--tracker-no-verify", args.tracker_no_verify,
                "Accept any certificate from https:// trackers (self-signed test trackers); by\n"
                "default it must verify against the system's store and name the tracker's host");
  sub->add_option("--tracker-ip", args.tracker_ip, "Tell trackers to hand out this address (ip=), e.g. behind NAT")
      ->type_name("ADDR")
      ->check([](const std::string& v) {
        const bool ok = !v.empty() && v.size() <= 253 &&
                        v.find_first_not_of("0123456789abcdefABCDEFghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ.:-") ==
                            std::string::npos;
        return ok ? std::string() : "expected an IP address or host name";
      });
  sub->add_option("-d,--download-limit", args.download_limit,
                  "Download at most RATE bytes/s over all peers and torrents (50MiB, 800k;\n"
                  "default 0: unlimited)")
      ->type_name("RATE");
  sub->add_option("-u,--upload-limit", args.upload_limit,
                  "Upload at most RATE bytes/s over all peers and torrents (default 0: unlimited)")
      ->type_name("RATE");
  sub->add_option("--max-peers", args.max_peers, "Peer connections of each torrent (default 200)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{65535}));
  sub->add_option("--max-per-ip", args.max_per_ip,
                  "Connections with one IP address, either way (default 4)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  sub->add_option("--max-connections", args.max_connections,
                  "Peer connections of the process, connecting ones included (default 200)")
      ->check(CLI::Range(1u, 65535u));
  sub->add_option("--max-half-open", args.max_half_open, "Outgoing connects in progress at once (default 8)")
      ->check(CLI::Range(1u, 1000u));
  sub->add_option("--web", args.web,
                  "Serve the live dashboard, the JSON API (/api/v1/) and /metrics on ADDR:PORT\n"
                  "(127.0.0.1:PORT is the safe choice; any other address needs a token)")
      ->type_name("ADDR:PORT");
  sub->add_option("--web-token", args.web_token_file,
                  "Read the dashboard's access token from FILE (its first line, 16+ characters);\n"
                  "without it a non-loopback --web generates one and prints it once")
      ->type_name("FILE");
  sub->add_option("--web-host", args.web_hosts,
                  "Also accept this Host name for the dashboard (behind a proxy or a DNS name);\n"
                  "repeatable. Other Host headers are refused (DNS rebinding)")
      ->type_name("NAME");
  sub->add_option("--state-dir", args.state_dir,
                  "Keep resume records, parts files and (serve) the list of torrents in DIR\n"
                  "instead of SAVE_DIR/.sta (made if missing; its parent must exist)")
      ->type_name("DIR");
  sub->add_option("--max-active", args.max_active,
                  "Torrents transferring at once; the others wait, checked, in the order given\n"
                  "(default 0: no cap)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1'000'000}));
  sub->add_flag("--json", args.json,
                "Print one JSON object per line on stdout every second and at the end");
}

}  // namespace

command add_get(CLI::App& app) {
  auto args = std::make_shared<swarm_args>();
  auto* sub = app.add_subcommand("get", "Download torrents, verify every piece, then seed");
  sub->footer(
      "SAVE_DIR is the directory that will contain each torrent's root name; data already\n"
      "there is checked and kept. Seeds after completing until Ctrl-C, unless -e or\n"
      "--seed-ratio (one torrent). Ctrl-C leaves resumable state: run the same command\n"
      "to continue. With several torrents, one that fails is reported and the others go on.\n"
      "Files left out by --select/--exclude-glob are not created; the bytes of theirs that\n"
      "share a piece with a selected file are kept in SAVE_DIR/.sta/<info-hash>.parts\n"
      "(or the --state-dir).\n"
      "A magnet link's metadata comes from its peers (x.pe, --peer), its trackers and the\n"
      "peers those name (PEX); it is kept in SAVE_DIR/.sta/<info-hash>.fetched.torrent,\n"
      "so running the same command again does not fetch it again.\n"
      "Rates: k/M/G (or KiB/MiB/GiB) are powers of 1024.\n"
      "Exit status: 0 complete, 1 failed (disk, network), 2 usage or input error,\n"
      "128+signal when interrupted before completion.");
  sub->add_option("TORRENT", args->torrents, ".torrent files or magnet links (magnet:?xt=urn:btih:...)")->required();
  sub->add_option("-o,--output", args->save_dir, "Directory to save into (with --metadata-only: the .torrent to write)")
      ->required()
      ->type_name("SAVE_DIR");
  sub->add_flag("--metadata-only", args->metadata_only,
                "With one magnet link: fetch its metadata from peers, write it as a .torrent\n"
                "to the -o FILE, and stop");
  sub->add_flag("-e,--exit-on-complete", args->exit_on_complete,
                "Exit once every piece (of every torrent that did not fail) is verified");
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
  auto* sub = app.add_subcommand("serve", "Seed torrents whose data is complete in SAVE_DIR");
  sub->footer(
      "Checks each torrent's data first (or trusts a matching resume record), then seeds\n"
      "until Ctrl-C. Every torrent served is recorded in SAVE_DIR/.sta (or --state-dir),\n"
      "so `sta serve -o SAVE_DIR` (with the same --state-dir) and no TORRENT brings them\n"
      "all back without rehashing. With --watch, every .torrent in DIR is served, and\n"
      "files added to or removed from DIR are picked up within seconds (a removed one\n"
      "stops being served; its data stays).\n"
      "`sta serve TORRENT SAVE_DIR` (without -o) is the older form, still accepted.\n"
      "With several torrents, one whose data is missing or does not verify is reported\n"
      "and the others go on.\n"
      "Exit status: 0 stopped cleanly, 1 failed (data missing or not verifying -- of the\n"
      "only torrent, or of every one --, disk, network), 2 usage or input error.");
  sub->add_option("TORRENT", args->torrents, ".torrent files (default: those recorded in the state directory)");
  sub->add_option("-o,--output", args->save_dir, "Directory holding the torrents' data")->type_name("SAVE_DIR");
  sub->add_option("--watch", args->watch, "Serve every .torrent in DIR, following additions and removals")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
  add_common(sub, *args);
  return {sub, [args] { return run_swarm(*args, torrent_mode::seed); }};
}

}  // namespace sta::cli
