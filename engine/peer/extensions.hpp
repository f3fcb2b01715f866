// The BEP 10 extension messages sta speaks, and the table that maps each
// to an id in both directions: ours, which we advertise in our extended
// handshake and the peer puts on the messages it sends us, and the peer's,
// which it advertised and we must put on the messages we send it (BEP 10:
// always the receiver's id). Adding an extension is a name here and a
// handler in peer_state. Plain data; the connection's thread.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sta::peer {

enum class extension : std::uint8_t {
  donthave,  // lt_donthave (BEP 54): a piece the sender no longer has
  metadata,  // ut_metadata (BEP 9): the info dictionary, for magnet links
  pex,       // ut_pex (BEP 11): peer exchange
};

inline constexpr std::array<std::string_view, 3> kExtensionNames{"lt_donthave", "ut_metadata", "ut_pex"};

class extension_table {
 public:
  // Ours: 1 + the extension's number (0 is the extended handshake).
  static std::uint8_t our_id(extension e) { return static_cast<std::uint8_t>(static_cast<unsigned>(e) + 1); }
  static std::optional<extension> from_our_id(std::uint8_t id) {
    if (id == 0 || id > kExtensionNames.size()) return std::nullopt;
    return static_cast<extension>(id - 1);
  }
  // Our 'm' dictionary with the extensions this connection speaks (a
  // private torrent's have neither ut_metadata nor ut_pex).
  static std::vector<std::pair<std::string, std::uint8_t>> advertised(std::initializer_list<extension> which) {
    std::vector<std::pair<std::string, std::uint8_t>> m;
    for (extension e : which) m.emplace_back(std::string(kExtensionNames[static_cast<std::size_t>(e)]), our_id(e));
    return m;
  }

  // From the peer's extended handshake; a later one updates (BEP 10), and
  // id 0 turns an extension off.
  void learn(const std::vector<std::pair<std::string, std::uint8_t>>& m) {
    for (const auto& [name, id] : m)
      for (std::size_t i = 0; i < kExtensionNames.size(); ++i)
        if (name == kExtensionNames[i]) theirs_[i] = id;
  }
  // The id to send an extension's messages with; 0: the peer does not speak it.
  std::uint8_t peer_id(extension e) const { return theirs_[static_cast<std::size_t>(e)]; }

 private:
  std::array<std::uint8_t, kExtensionNames.size()> theirs_{};
};

}  // namespace sta::peer
