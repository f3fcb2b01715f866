// Shared pieces of the CLI's output: error lines, exit codes, the progress
// bar and reading a .torrent. Main thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "base/result.hpp"
#include "meta/metainfo.hpp"

namespace sta::cli {

// Exit codes every command uses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the job ran and failed (bad data, I/O)
inline constexpr int kExitUsage = 2;   // bad arguments or unusable input

// Prints "sta: <message>" on stderr and returns code. The message is
// printed through printable(): it may hold names from a torrent.
int error(std::string_view message, int code);

// Text from a torrent or a peer (names, paths, comments, URLs) made safe
// for a terminal: control characters (C0, DEL, C1) and bytes that are not
// UTF-8 become \xNN; everything else is kept.
std::string printable(std::string_view text);

// A .torrent read and parsed, with the file's bytes.
struct torrent_file {
  meta::metainfo meta;
  std::string bytes;
};
// Reads and parses a .torrent; on failure the message ("PATH: why").
result<torrent_file, std::string> read_torrent(const std::string& path);
// The same, printing the error (as bad input) and returning nullopt.
std::optional<meta::metainfo> load_torrent(const std::string& path);

bool stderr_is_terminal();

// A one-line progress bar on stderr, drawn only when stderr is a terminal.
class progress_bar {
 public:
  explicit progress_bar(std::string label);
  void update(std::int64_t done, std::int64_t total);
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace sta::cli
