// sta info FILE [--json] and sta magnet FILE
#include <ctime>
#include <iostream>
#include <memory>

#include <boost/json.hpp>

#include "base/units.hpp"
#include "commands.hpp"
#include "meta/magnet.hpp"
#include "output.hpp"

namespace sta::cli {
namespace {

struct info_args {
  std::string file;
  bool json = false;
};

std::string display_path(const meta::metainfo& m, std::size_t i) {
  return m.multi_file ? m.files[i].joined_path() : m.name;
}

boost::json::object to_json(const meta::metainfo& m) {
  boost::json::array files;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    boost::json::object f{{"path", display_path(m, i)}, {"size", m.files[i].size}};
    if (m.files[i].pad) f["pad"] = true;
    files.push_back(std::move(f));
  }
  boost::json::array trackers;
  for (const auto& tier : m.trackers) {
    boost::json::array t;
    for (const auto& url : tier) t.push_back(boost::json::string(url));
    trackers.push_back(std::move(t));
  }
  boost::json::object o;
  o["name"] = m.name;
  o["info_hash"] = m.info_hash.hex();
  o["total_size"] = m.total_size;
  o["piece_length"] = m.piece_length;
  o["piece_count"] = m.piece_count();
  o["files"] = std::move(files);
  o["trackers"] = std::move(trackers);
  o["private"] = m.is_private;
  if (!m.comment.empty()) o["comment"] = m.comment;
  if (!m.created_by.empty()) o["created_by"] = m.created_by;
  if (m.creation_date) o["creation_date"] = *m.creation_date;
  return o;
}

void print_text(const meta::metainfo& m) {
  auto& out = std::cout;
  out << "name:          " << printable(m.name) << '\n'
      << "info-hash:     " << m.info_hash.hex() << '\n'
      << "size:          " << m.total_size << " bytes (" << format_size(static_cast<double>(m.total_size)) << ")\n"
      << "piece length:  " << m.piece_length << " (" << format_size(static_cast<double>(m.piece_length)) << ")\n"
      << "pieces:        " << m.piece_count() << '\n'
      << "private:       " << (m.is_private ? "yes" : "no") << '\n';
  if (!m.comment.empty()) out << "comment:       " << printable(m.comment) << '\n';
  if (!m.created_by.empty()) out << "created by:    " << printable(m.created_by) << '\n';
  if (m.creation_date) {
    const std::time_t t = static_cast<std::time_t>(*m.creation_date);
    char buf[32];
    std::tm tm{};
    if (gmtime_r(&t, &tm) && std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm)) {
      out << "creation date: " << buf << '\n';
    }
  }
  out << "trackers:" << (m.trackers.empty() ? " none\n" : "\n");
  for (std::size_t t = 0; t < m.trackers.size(); ++t) {
    for (const auto& url : m.trackers[t]) out << "  tier " << t << ": " << printable(url) << '\n';
  }
  for (const auto& url : m.url_list) out << "  web seed: " << printable(url) << '\n';
  out << "files: " << m.files.size() << '\n';
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    out << "  " << i << "  " << printable(display_path(m, i)) << "  (" << m.files[i].size << " bytes"
        << (m.files[i].pad ? ", padding" : "") << ")\n";
  }
}

}  // namespace

command add_info(CLI::App& app) {
  auto args = std::make_shared<info_args>();
  auto* sub = app.add_subcommand("info", "Show what a .torrent holds");
  sub->add_option("FILE", args->file, ".torrent file")->required();
  sub->add_flag("--json", args->json, "Print one JSON object");
  return {sub, [args] {
            auto m = load_torrent(args->file);
            if (!m) return kExitUsage;
            if (args->json) {
              std::cout << boost::json::serialize(to_json(*m)) << '\n';
            } else {
              print_text(*m);
            }
            return kExitOk;
          }};
}

command add_magnet(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("magnet", "Print the magnet URI of a .torrent");
  sub->add_option("FILE", *file, ".torrent file")->required();
  return {sub, [file] {
            auto m = load_torrent(*file);
            if (!m) return kExitUsage;
            std::cout << meta::make_magnet(*m) << '\n';
            return kExitOk;
          }};
}

}  // namespace sta::cli
