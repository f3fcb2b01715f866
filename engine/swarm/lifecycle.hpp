// lifecycle: one torrent's life in the node as a pure state machine —
// events in, the one action the node must take out (swarm/STATE.md has
// the table). No I/O and no threads: the node (session/node.cpp) owns one
// per torrent on its home reactor, feeds it what happened (the check
// finished, the user paused, a write failed) and carries out what it
// returns. Tested without sockets (tests/engine/swarm/lifecycle_test.cpp).
#pragma once

#include <cstdint>
#include <string_view>

namespace sta::swarm {

enum class torrent_state : std::uint8_t {
  fetching_metadata,  // a magnet link: its info dictionary comes from peers first
  checking,  // its data is being checked (or waits for the checker)
  queued,    // checked; waits for an active slot (the node's cap)
  live,      // connecting, downloading, seeding
  paused,    // by the user: no connections, no announces
  error,     // a check or a write failed; resume checks again
  removed,   // gone from the node (terminal)
};

enum class torrent_event : std::uint8_t {
  check_passed,  // the check finished: storage open, verified pieces known
  check_failed,  // it could not open (data missing, not verifying, ...)
  activate,      // the node has a free active slot for it
  pause,
  resume,
  fail,          // a fatal error while live (a write failed)
  remove,
  reopen,        // its storage must be opened again (a new file selection): checked again, trusting its resume record
  metadata_received,  // a magnet's info dictionary arrived and verified
};

// What the node must do after a transition.
enum class torrent_action : std::uint8_t {
  none,
  start_check,    // hand the torrent to the checker
  start,          // open for peers: announce, connect, accept
  stop,           // close its connections and stop announcing
  stop_and_drop,  // stop, then free it once its connections are gone
  stop_and_check, // stop, then hand it to the checker once its connections are gone
  drop,           // free it (no connection was open); a check in flight is discarded when it ends
  discard_check,  // a check ended for a torrent that is no longer wanted: drop its result
  start_fetch,    // look for peers and fetch the magnet's metadata from them
  stop_fetch,     // stop fetching it (its connections end)
};

std::string_view to_string(torrent_state s);
std::string_view to_string(torrent_event e);

class lifecycle {
 public:
  struct outcome {
    bool allowed = false;  // false: the event is not valid in this state, nothing changed
    torrent_action action = torrent_action::none;
  };

  // A new torrent starts checking; the node starts the check itself.
  lifecycle() = default;
  // A magnet link starts fetching its metadata; the node starts the fetch.
  static lifecycle for_magnet() {
    lifecycle l;
    l.state_ = torrent_state::fetching_metadata;
    l.check_in_flight_ = false;
    l.has_metadata_ = false;
    return l;
  }

  outcome on(torrent_event e);

  torrent_state state() const { return state_; }
  // Its storage is open and its verified pieces known (survives pause).
  bool checked() const { return checked_; }
  // A check is running or waiting for the checker.
  bool check_in_flight() const { return check_in_flight_; }
  // Its info dictionary is known (always, unless added from a magnet).
  bool has_metadata() const { return has_metadata_; }

 private:
  torrent_state state_ = torrent_state::checking;
  bool checked_ = false;
  bool check_in_flight_ = true;
  bool has_metadata_ = true;
};

}  // namespace sta::swarm
