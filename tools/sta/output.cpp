#include "output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "base/units.hpp"

namespace sta::cli {

int error(std::string_view message, int code) {
  std::cerr << "sta: " << message << '\n';
  return code;
}

std::optional<meta::metainfo> load_torrent(const std::string& path) {
  constexpr std::size_t kMaxTorrentFile = 64u << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error(path + ": " + std::strerror(errno), kExitUsage);
    return std::nullopt;
  }
  std::string data;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxTorrentFile) {
      error(path + ": larger than 64 MiB, not a .torrent file", kExitUsage);
      return std::nullopt;
    }
  }
  if (in.bad()) {
    error(path + ": read error", kExitUsage);
    return std::nullopt;
  }
  auto m = meta::parse(data);
  if (!m) {
    error(path + ": " + m.error().message(), kExitUsage);
    return std::nullopt;
  }
  return std::move(*m);
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

progress_bar::progress_bar(std::string label)
    : label_(std::move(label)), enabled_(stderr_is_terminal()) {}

void progress_bar::update(std::int64_t done, std::int64_t total) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '-');
  std::fprintf(stderr, "\r%s [%s] %5.1f%% %s / %s", label_.c_str(), bar.c_str(), frac * 100,
               format_size(static_cast<double>(done)).c_str(),
               format_size(static_cast<double>(total)).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void progress_bar::finish() {
  if (drawn_) std::fputs("\n", stderr);
  drawn_ = false;
}

}  // namespace sta::cli
