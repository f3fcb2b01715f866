#include "peer/client_name.hpp"

#include <array>
#include <string_view>

namespace sta::peer {
namespace {

struct known {
  std::string_view code;
  std::string_view name;
};

constexpr std::array<known, 14> kClients{{
    {"LT", "libtorrent"},   {"lt", "rTorrent/libTorrent"}, {"TR", "Transmission"}, {"qB", "qBittorrent"},
    {"DE", "Deluge"},       {"UT", "µTorrent"},            {"UM", "µTorrent Mac"}, {"BT", "BitTorrent"},
    {"AZ", "Vuze"},         {"BI", "BiglyBT"},             {"TL", "Tribler"},      {"WW", "WebTorrent"},
    {"ST", "sta"},          {"RQ", "rqbit"},
}};

bool is_version_char(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// A version character: 0-9, then A=10, ... (as libtorrent writes them).
std::string version_part(char c) {
  if (c >= '0' && c <= '9') return std::string(1, c);
  if (c >= 'A' && c <= 'Z') return std::to_string(10 + (c - 'A'));
  return std::to_string(36 + (c - 'a'));
}

}  // namespace

std::string client_name(const wire::peer_id& id) {
  const std::string_view raw(reinterpret_cast<const char*>(id.data()), id.size());
  if (raw[0] == '-' && raw[7] == '-') {
    const auto code = raw.substr(1, 2);
    bool version_ok = true;
    for (char c : raw.substr(3, 4)) version_ok = version_ok && is_version_char(c);
    for (const auto& k : kClients) {
      if (k.code != code || !version_ok) continue;
      return std::string(k.name) + " " + version_part(raw[3]) + "." + version_part(raw[4]) + "." +
             version_part(raw[5]);
    }
  }
  if (raw.starts_with("A2-")) return "aria2";
  // Unknown: the printable characters of the first eight.
  std::string out;
  for (char c : raw.substr(0, 8)) out += (c >= 0x21 && c < 0x7f) ? c : '.';
  return out;
}

}  // namespace sta::peer
