#include "swarm/lifecycle.hpp"

namespace sta::swarm {

std::string_view to_string(torrent_state s) {
  switch (s) {
    case torrent_state::fetching_metadata: return "fetching_metadata";
    case torrent_state::checking: return "checking";
    case torrent_state::queued: return "queued";
    case torrent_state::live: return "live";
    case torrent_state::paused: return "paused";
    case torrent_state::error: return "error";
    case torrent_state::removed: return "removed";
  }
  return "?";
}

std::string_view to_string(torrent_event e) {
  switch (e) {
    case torrent_event::check_passed: return "check_passed";
    case torrent_event::check_failed: return "check_failed";
    case torrent_event::activate: return "activate";
    case torrent_event::pause: return "pause";
    case torrent_event::resume: return "resume";
    case torrent_event::fail: return "fail";
    case torrent_event::remove: return "remove";
    case torrent_event::reopen: return "reopen";
    case torrent_event::metadata_received: return "metadata_received";
  }
  return "?";
}

lifecycle::outcome lifecycle::on(torrent_event e) {
  using s = torrent_state;
  using ev = torrent_event;
  using a = torrent_action;
  auto go = [this](s to, a action = a::none) {
    state_ = to;
    return outcome{true, action};
  };
  // Its storage is opened (and its data checked) again.
  auto check_again = [&](s to, a action) {
    checked_ = false;
    check_in_flight_ = true;
    return go(to, action);
  };
  // A check that ends is recorded whatever the state it ends in.
  if ((e == ev::check_passed || e == ev::check_failed) && check_in_flight_) {
    check_in_flight_ = false;
    if (state_ == s::removed) return {true, a::discard_check};
    if (e == ev::check_failed) return go(s::error);
    checked_ = true;
    return go(state_ == s::paused ? s::paused : s::queued);
  }
  if (e == ev::remove && state_ != s::removed)
    return go(s::removed, state_ == s::live ? a::stop_and_drop : state_ == s::fetching_metadata ? a::stop_fetch : a::drop);
  // The metadata that arrives as it is paused is kept and checked.
  if (e == ev::metadata_received && !has_metadata_ && (state_ == s::fetching_metadata || state_ == s::paused)) {
    has_metadata_ = true;
    check_in_flight_ = true;
    return go(state_ == s::paused ? s::paused : s::checking, a::start_check);
  }
  switch (state_) {
    case s::fetching_metadata:
      if (e == ev::pause) return go(s::paused, a::stop_fetch);
      break;
    case s::checking:
      if (e == ev::pause) return go(s::paused);
      break;
    case s::queued:
      if (e == ev::activate) return go(s::live, a::start);
      if (e == ev::pause) return go(s::paused);
      if (e == ev::reopen) return check_again(s::checking, a::start_check);
      break;
    case s::live:
      if (e == ev::pause) return go(s::paused, a::stop);
      if (e == ev::fail) return go(s::error, a::stop);
      if (e == ev::reopen) return check_again(s::checking, a::stop_and_check);
      break;
    case s::paused:
      if (e == ev::fail) return go(s::error);
      if (e == ev::reopen && !check_in_flight_) return check_again(s::paused, a::start_check);
      if (e == ev::resume) {
        if (!has_metadata_) return go(s::fetching_metadata, a::start_fetch);
        if (checked_) return go(s::queued);
        if (check_in_flight_) return go(s::checking);
        check_in_flight_ = true;
        return go(s::checking, a::start_check);
      }
      break;
    case s::error:
      if (e == ev::reopen) return go(s::error);  // the next resume checks with what changed
      if (e == ev::resume) return check_again(s::checking, a::start_check);
      break;
    case s::removed: break;
  }
  return {};
}

}  // namespace sta::swarm
