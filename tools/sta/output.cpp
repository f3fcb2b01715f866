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
  std::cerr << "sta: " << printable(message) << '\n';
  return code;
}

std::string printable(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence of a code point from U+00A0 on is kept.
    const std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    bool ok = n > 0 && c < 0xf5 && i + n <= text.size();
    std::uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = cp << 6 | (cc & 0x3f);
    }
    ok = ok && cp >= 0xa0 && !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff &&
         !(n == 3 && cp < 0x800) && !(n == 4 && cp < 0x10000);
    if (ok) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      escape(c);
      ++i;
    }
  }
  return out;
}

result<torrent_file, std::string> read_torrent(const std::string& path) {
  constexpr std::size_t kMaxTorrentFile = 64u << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) return path + ": " + std::strerror(errno);
  std::string data;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxTorrentFile) return path + ": larger than 64 MiB, not a .torrent file";
  }
  if (in.bad()) return path + ": read error";
  auto m = meta::parse(data);
  if (!m) return path + ": " + m.error().message();
  return torrent_file{std::move(*m), std::move(data)};
}

std::optional<meta::metainfo> load_torrent(const std::string& path) {
  auto t = read_torrent(path);
  if (!t) {
    error(t.error(), kExitUsage);
    return std::nullopt;
  }
  return std::move(t->meta);
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
