// What one peer connection may cost the node, in one place (DESIGN.md
// layer 4: "every limit on what a peer may cost lives here"). Plain data,
// set before the torrent starts; any thread may read it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sta::peer {

struct limits {
  // Requests from the peer we queue to serve (advertised as reqq); more at
  // once is a flood and ends the connection.
  std::size_t max_queued_requests = 4096;
  // Our requests in flight to the peer: between these, by its rate.
  std::size_t max_pipeline = 500;
  std::size_t min_pipeline = 16;
  // Bytes of control frames (rejects, haves, requests, ...) queued for a
  // peer that is not reading, beyond one bitfield; past this it is dropped.
  std::size_t max_outbox = 256 * 1024;
  // A request longer than this is a protocol violation (BEP 3 clients ask
  // 16 KiB; some ask up to 128 KiB).
  std::uint32_t max_request_length = 128 * 1024;
  // Peers we unchoke at once (4 regular and 1 optimistic): an interested
  // peer is unchoked at once while fewer are.
  std::uint32_t max_unchoked = 5;

  std::chrono::milliseconds handshake_timeout{10'000};  // from accept or connect to both handshakes done
  std::chrono::milliseconds idle_timeout{120'000};      // nothing at all received
  std::chrono::milliseconds keep_alive{60'000};         // nothing sent
  std::chrono::milliseconds request_timeout{15'000};    // requests out, no block back: snubbed
  std::chrono::milliseconds send_timeout{60'000};       // one send making no progress
};

}  // namespace sta::peer
