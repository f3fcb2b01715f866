#include "peer/client_name.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace sta::peer {
namespace {

wire::peer_id id_of(std::string_view text) {
  wire::peer_id id{};
  std::memcpy(id.data(), text.data(), std::min(text.size(), id.size()));
  return id;
}

TEST(ClientName, AzureusStyleIdsOfKnownClients) {
  EXPECT_EQ(client_name(id_of("-LT2080-abcdefghijkl")), "libtorrent 2.0.8");
  EXPECT_EQ(client_name(id_of("-TR4050-abcdefghijkl")), "Transmission 4.0.5");
  EXPECT_EQ(client_name(id_of("-qB4630-abcdefghijkl")), "qBittorrent 4.6.3");
  EXPECT_EQ(client_name(id_of("-ST0100-abcdefghijkl")), "sta 0.1.0");
  // Letters count on from 10, as libtorrent writes versions above 9.
  EXPECT_EQ(client_name(id_of("-LT1C00-abcdefghijkl")), "libtorrent 1.12.0");
  EXPECT_EQ(client_name(id_of("A2-1-37-0-abcdefghij")), "aria2");
}

TEST(ClientName, OthersShowTheirPrintablePrefix) {
  EXPECT_EQ(client_name(id_of("-XX0001-abcdefghijkl")), "-XX0001-");
  EXPECT_EQ(client_name(id_of("M7-4-3--abcdefghijkl")), "M7-4-3--");
  // Control characters and bytes above 0x7e are dots.
  EXPECT_EQ(client_name(id_of(std::string_view("\x1b[2J\x07\0\xff!", 8))), ".[2J...!");
}

}  // namespace
}  // namespace sta::peer
