#include "swarm/lifecycle.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace sta::swarm {
namespace {

const std::vector<torrent_event> kEvents = {torrent_event::check_passed, torrent_event::check_failed,
                                            torrent_event::activate,     torrent_event::pause,
                                            torrent_event::resume,       torrent_event::fail,
                                            torrent_event::remove,       torrent_event::reopen,
                                            torrent_event::metadata_received};

torrent_event event_named(const std::string& name) {
  for (auto e : kEvents)
    if (to_string(e) == name) return e;
  ADD_FAILURE() << "no event " << name;
  return torrent_event::remove;
}

std::string action_name(torrent_action a) {
  switch (a) {
    case torrent_action::none: return "";
    case torrent_action::start_check: return "+check";
    case torrent_action::start: return "+start";
    case torrent_action::stop: return "+stop";
    case torrent_action::stop_and_drop: return "+stop_and_drop";
    case torrent_action::stop_and_check: return "+stop_and_check";
    case torrent_action::drop: return "+drop";
    case torrent_action::discard_check: return "+discard_check";
    case torrent_action::start_fetch: return "+fetch";
    case torrent_action::stop_fetch: return "+stop_fetch";
  }
  return "?";
}

// Feeds the events named in `script` ("pause resume ...") to a new torrent;
// says each resulting state with its action ("paused", "live+start"), or
// "refused" for an event the state does not take.
std::string run(lifecycle& l, const std::string& script) {
  std::istringstream in(script);
  std::string word, out;
  while (in >> word) {
    const auto o = l.on(event_named(word));
    if (!out.empty()) out += ' ';
    out += o.allowed ? std::string(to_string(l.state())) + action_name(o.action) : "refused";
  }
  return out;
}

std::string run(const std::string& script) {
  lifecycle l;
  return run(l, script);
}

TEST(Lifecycle, AddedTorrentIsCheckedQueuedThenLive) {
  lifecycle l;
  EXPECT_EQ(l.state(), torrent_state::checking);
  EXPECT_TRUE(l.check_in_flight());
  EXPECT_EQ(run(l, "check_passed activate"), "queued live+start");
  EXPECT_TRUE(l.checked());
  EXPECT_FALSE(l.check_in_flight());
}

TEST(Lifecycle, PauseAndResumeWhileLive) {
  EXPECT_EQ(run("check_passed activate pause resume activate"), "queued live+start paused+stop queued live+start");
}

TEST(Lifecycle, PausedDuringTheCheckKeepsItsResult) {
  lifecycle l;
  EXPECT_EQ(run(l, "pause check_passed"), "paused paused");
  EXPECT_TRUE(l.checked());
  EXPECT_EQ(run(l, "resume activate"), "queued live+start");
}

TEST(Lifecycle, ResumedBeforeTheCheckEndedWaitsForIt) {
  EXPECT_EQ(run("pause resume check_passed"), "paused checking queued");
}

TEST(Lifecycle, FailedCheckIsAnErrorThatResumeChecksAgain) {
  lifecycle l;
  EXPECT_EQ(run(l, "check_failed activate resume"), "error refused checking+check");
  EXPECT_FALSE(l.checked());
  EXPECT_TRUE(l.check_in_flight());
  EXPECT_EQ(run(l, "check_passed"), "queued");
}

TEST(Lifecycle, WriteFailureWhileLiveStopsIt) {
  EXPECT_EQ(run("check_passed activate fail resume"), "queued live+start error+stop checking+check");
  EXPECT_EQ(run("check_passed activate pause fail"), "queued live+start paused+stop error");
}

TEST(Lifecycle, ReopenChecksAgainAndKeepsTheStateItWasIn) {
  // Live: stopped, checked again, then live again through the queue.
  lifecycle l;
  EXPECT_EQ(run(l, "check_passed activate reopen"), "queued live+start checking+stop_and_check");
  EXPECT_FALSE(l.checked());
  EXPECT_TRUE(l.check_in_flight());
  EXPECT_EQ(run(l, "check_passed activate"), "queued live+start");
  // Paused stays paused, unchecked until the check ends.
  lifecycle p;
  EXPECT_EQ(run(p, "check_passed pause reopen"), "queued paused paused+check");
  EXPECT_FALSE(p.checked());
  EXPECT_EQ(run(p, "resume check_passed activate"), "checking queued live+start");
  EXPECT_EQ(run("check_passed reopen check_passed"), "queued checking+check queued");
}

TEST(Lifecycle, ReopenIsRefusedWhileACheckIsInFlight) {
  EXPECT_EQ(run("reopen"), "refused");
  EXPECT_EQ(run("pause reopen"), "paused refused");
  EXPECT_EQ(run("check_passed reopen reopen"), "queued checking+check refused");
  // In error it is only noted: the next resume checks anyway.
  EXPECT_EQ(run("check_failed reopen resume"), "error error checking+check");
}

TEST(Lifecycle, RemoveFromEveryState) {
  EXPECT_EQ(run("remove"), "removed+drop");
  EXPECT_EQ(run("check_passed remove"), "queued removed+drop");
  EXPECT_EQ(run("check_passed activate remove"), "queued live+start removed+stop_and_drop");
  EXPECT_EQ(run("check_passed activate pause remove"), "queued live+start paused+stop removed+drop");
  EXPECT_EQ(run("check_failed remove"), "error removed+drop");
}

TEST(Lifecycle, CheckEndingAfterRemoveIsDiscarded) {
  EXPECT_EQ(run("remove check_passed"), "removed+drop removed+discard_check");
  EXPECT_EQ(run("remove check_failed"), "removed+drop removed+discard_check");
  EXPECT_EQ(run("pause remove check_passed"), "paused removed+drop removed+discard_check");
}

TEST(Lifecycle, RemovedIsTerminal) {
  lifecycle l;
  run(l, "check_passed remove");
  for (auto e : kEvents) {
    EXPECT_FALSE(l.on(e).allowed) << to_string(e);
    EXPECT_EQ(l.state(), torrent_state::removed);
  }
}

TEST(Lifecycle, EventsAStateDoesNotTakeChangeNothing) {
  EXPECT_EQ(run("activate resume fail"), "refused refused refused");
  EXPECT_EQ(run("check_passed check_passed resume fail"), "queued refused refused refused");
  EXPECT_EQ(run("check_passed activate activate resume check_passed"),
            "queued live+start refused refused refused");
  EXPECT_EQ(run("check_passed pause pause activate"), "queued paused refused refused");
  EXPECT_EQ(run("check_failed pause fail check_failed"), "error refused refused refused");
}

TEST(Lifecycle, AMagnetFetchesItsMetadataThenIsChecked) {
  lifecycle l = lifecycle::for_magnet();
  EXPECT_EQ(l.state(), torrent_state::fetching_metadata);
  EXPECT_FALSE(l.has_metadata());
  EXPECT_FALSE(l.check_in_flight());
  EXPECT_EQ(run(l, "check_passed reopen activate resume fail metadata_received"), "refused refused refused refused refused checking+check");
  EXPECT_TRUE(l.has_metadata());
  EXPECT_EQ(run(l, "metadata_received check_passed activate"), "refused queued live+start");
}

TEST(Lifecycle, APausedMagnetFetchesAgainWhenResumed) {
  lifecycle l = lifecycle::for_magnet();
  EXPECT_EQ(run(l, "pause pause resume pause"), "paused+stop_fetch refused fetching_metadata+fetch paused+stop_fetch");
  // Metadata that arrived as it paused is checked; it stays paused.
  EXPECT_EQ(run(l, "metadata_received check_passed resume activate"), "paused+check paused queued live+start");
  lifecycle r = lifecycle::for_magnet();
  EXPECT_EQ(run(r, "remove metadata_received"), "removed+stop_fetch refused");
  lifecycle p = lifecycle::for_magnet();
  EXPECT_EQ(run(p, "pause remove"), "paused+stop_fetch removed+drop");
}

// Every pair (state, event), reached by the shortest script: the table in
// STATE.md, row by row, including the refusals.
TEST(Lifecycle, TransitionTableOfStateMd) {
  struct row {
    const char* prefix;
    const char* event;
    const char* result;
  };
  const row rows[] = {
      {"", "check_passed", "queued"},           {"", "check_failed", "error"},
      {"", "activate", "refused"},              {"", "pause", "paused"},
      {"", "resume", "refused"},                {"", "fail", "refused"},
      {"check_passed", "activate", "live+start"}, {"check_passed", "pause", "paused"},
      {"check_passed", "resume", "refused"},    {"check_passed", "fail", "refused"},
      {"check_passed activate", "pause", "paused+stop"}, {"check_passed activate", "fail", "error+stop"},
      {"check_passed activate", "resume", "refused"},    {"check_passed activate", "check_passed", "refused"},
      {"check_passed pause", "resume", "queued"},        {"check_passed pause", "activate", "refused"},
      {"check_passed pause", "fail", "error"},           {"pause", "check_failed", "error"},
      {"check_failed", "resume", "checking+check"},      {"check_failed", "activate", "refused"},
      {"check_failed", "pause", "refused"},
      {"", "reopen", "refused"},                         {"check_passed", "reopen", "checking+check"},
      {"check_passed activate", "reopen", "checking+stop_and_check"},
      {"check_passed pause", "reopen", "paused+check"},  {"pause", "reopen", "refused"},
      {"check_failed", "reopen", "error"},
  };
  for (const auto& r : rows) {
    lifecycle l;
    run(l, r.prefix);
    EXPECT_EQ(run(l, r.event), r.result) << "after '" << r.prefix << "'";
  }
}

}  // namespace
}  // namespace sta::swarm
