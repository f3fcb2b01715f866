"""Two libtorrent sessions find each other through `sta tracker` and complete
a transfer; libtorrent's scrape then sees the right counts. Over HTTP and
over UDP (BEP 15). Run with Debian's /usr/bin/python3, which has the
libtorrent module."""
import filecmp
import json
import os
import sys
import time
import urllib.request

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_alerts, lt_session  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402
from sta_tracker import Tracker  # noqa: E402

DEADLINE_S = 120


def session():
    return lt_session("127.0.0.1")


def pump(sessions, until, what):
    """Waits on alerts until until() is true; raises after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    alerts = []
    while not until(alerts):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last alerts: {[a.message() for a in alerts[-5:]]}")
        alerts.extend(lt_alerts(sessions[0]))
        for s in sessions[1:]:
            alerts.extend(s.pop_alerts())
    return alerts


def peers_meet(binary, udp):
    with TempDir() as d, Tracker(binary) as tracker:
        random_file(f"{d}/seed/payload.bin", 3 * 1024 * 1024 + 123, 1)
        url = tracker.udp_url if udp else tracker.announce_url
        assert url
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-a", url, "-p", "64KiB",
                   "-o", f"{d}/t.torrent").code == 0
        ti = lt.torrent_info(f"{d}/t.torrent")
        seeder, leecher = session(), session()
        hs = seeder.add_torrent({"ti": ti, "save_path": f"{d}/seed"})
        pump([seeder], lambda _: hs.status().is_seeding, "the seeder to check its data")
        os.mkdir(f"{d}/down")
        hl = leecher.add_torrent({"ti": lt.torrent_info(f"{d}/t.torrent"), "save_path": f"{d}/down"})
        pump([leecher, seeder], lambda _: hl.status().is_seeding, "the download to complete")
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)

        # The leecher's 'completed' announce may land after a first scrape:
        # scrape again until the counts settle or the deadline passes.
        def scraped(alerts):
            for a in alerts:
                if isinstance(a, lt.scrape_reply_alert) and a.complete == 2 and a.incomplete == 0:
                    return True
            if not any(isinstance(a, (lt.scrape_reply_alert, lt.scrape_failed_alert)) for a in alerts[-1:]):
                return False
            alerts.clear()
            hl.scrape_tracker()
            return False
        hl.scrape_tracker()
        pump([leecher], lambda alerts: scraped(alerts), "a scrape with 2 seeds")
        if udp:
            stats = json.loads(urllib.request.urlopen(f"{tracker.base_url}api/stats", timeout=10).read())
            assert stats["udp_connects"] >= 1 and stats["announces"] >= 3 and stats["udp_refused"] == 0, stats
        assert tracker.stop() == 0


def test_libtorrent_peers_meet_through_sta_tracker(binary):
    peers_meet(binary, udp=False)


def test_libtorrent_peers_meet_through_sta_tracker_over_udp(binary):
    peers_meet(binary, udp=True)


if __name__ == "__main__":
    main([test_libtorrent_peers_meet_through_sta_tracker, test_libtorrent_peers_meet_through_sta_tracker_over_udp])
