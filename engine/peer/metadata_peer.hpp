// metadata_peer: one connection of a torrent that has only a magnet link,
// apart from its socket (STYLE rule 3). After the handshakes it sends our
// extended handshake (ut_metadata and ut_pex, no metadata_size: we have
// none), learns from the peer's whether and how large it offers the
// metadata, and asks for the pieces the shared metadata_assembly gives it
// (at most two at a time). Everything else the peer says (its bitfield,
// haves, requests) is ignored: there are no pieces yet. Peers it learns of
// by ut_pex are kept for the fetcher to try (take_peers).
//
// An error from on_message or update is the reason to close: the peer
// does not speak BEP 10 or ut_metadata, offers no usable size, lied about
// the size, or was silent for too long. One connection's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "base/endpoint.hpp"
#include "base/result.hpp"
#include "peer/extensions.hpp"
#include "peer/metadata_assembly.hpp"
#include "wire/codec.hpp"

namespace sta::peer {

class metadata_peer {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr auto kIdleTimeout = std::chrono::seconds(120);
  static constexpr auto kKeepAlive = std::chrono::seconds(60);
  // Peers learnt by PEX and kept until taken.
  static constexpr std::size_t kMaxLearnt = 200;

  metadata_peer(metadata_assembly& assembly, metadata_assembly::source id);
  ~metadata_peer();
  metadata_peer(const metadata_peer&) = delete;
  metadata_peer& operator=(const metadata_peer&) = delete;

  // Both handshakes are done. An error: the peer does not speak BEP 10.
  result<void> start(const wire::handshake& theirs, std::uint16_t listen_port, clock::time_point now);
  result<void> on_message(const wire::message& m, clock::time_point now);
  // Requests what the assembly gives this peer; keep-alives; the idle limit.
  result<void> update(clock::time_point now);

  void take_frames(std::vector<std::byte>& out);
  std::vector<endpoint> take_peers() { return std::exchange(learnt_, {}); }
  bool offers() const { return offers_; }

 private:
  result<void> on_extended(const wire::message& m, clock::time_point now);

  metadata_assembly& a_;
  metadata_assembly::source id_;
  extension_table extensions_;
  bool handshaken_ = false;  // its extended handshake arrived
  bool offers_ = false;
  std::vector<std::byte> frames_;
  std::vector<endpoint> learnt_;
  clock::time_point last_recv_{};
  clock::time_point last_send_{};
  clock::time_point started_{};
};

}  // namespace sta::peer
