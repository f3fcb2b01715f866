// peer_slot: one peer connection's public face in its torrent's slot table
// (slot_table.hpp). The home reactor claims a slot (acquire/release on `state`
// publishes addr and id, written only by the home reactor before
// the connection starts); afterwards the connection's reactor writes the
// flags and rates that the home reactor's choker reads, and the choker
// writes `unchoke_wanted`, `banned` and `dropped` that the connection
// reads. Plain atomics, no I/O.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "base/endpoint.hpp"
#include "wire/codec.hpp"

namespace sta::peer {

struct peer_slot {
  enum : std::uint8_t { free = 0, claimed = 1, connected = 2 };
  std::atomic<std::uint8_t> state{free};
  std::atomic<std::uint32_t> generation{0};  // bumped on release
  std::uint32_t index = 0;                   // in its table (owner id - 1), fixed when made
  endpoint addr;
  bool outgoing = false; // we connected to it
  bool has_id = false;   // set once the peer's handshake arrived
  wire::peer_id id{};

  std::atomic<bool> peer_is_seed{false};
  std::atomic<bool> peer_interested{false};
  std::atomic<bool> snubbed{false};
  std::atomic<bool> unchoke_wanted{false};  // the choker's decision
  std::atomic<bool> banned{false};          // the host was banned: close at once
  std::atomic<bool> dropped{false};         // the torrent's peer cap was lowered: close at once
  std::atomic<std::int64_t> down_rate{0};   // payload bytes/s from the peer
  std::atomic<std::int64_t> up_rate{0};     // payload bytes/s to the peer
  // For display, published once a second by the connection.
  std::atomic<bool> am_choking{true};
  std::atomic<bool> am_interested{false};
  std::atomic<bool> peer_choking{true};
  std::atomic<std::uint32_t> peer_pieces{0};  // pieces the peer has
  // Its listen port from its extended handshake ('p'; 0: not given), for
  // peer exchange; cleared by the home reactor when it claims the slot.
  std::atomic<std::uint16_t> listen_port{0};
  // The client's own name from its extended handshake (BEP 10 'v'), as
  // printable ASCII, NUL-terminated: written once by the connection before
  // has_client (release); cleared by the home reactor when it claims the slot.
  std::array<char, 48> client{};
  std::atomic<bool> has_client{false};
};

}  // namespace sta::peer
