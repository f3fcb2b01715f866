"""Debian's chromium loads the tracker dashboard headless and, after its
script ran, shows the numbers of a swarm this test created by announcing.
Exits 77 (skipped) when chromium is not installed."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_test import main  # noqa: E402
from sta_tracker import Tracker  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def announce(url, info_hash, peer_id, port, left, event=""):
    query = urllib.parse.urlencode({"info_hash": info_hash, "peer_id": peer_id, "port": port,
                                    "uploaded": 0, "downloaded": 0, "left": left, "event": event})
    with urllib.request.urlopen(f"{url}?{query}", timeout=10) as r:
        body = r.read()
    assert b"failure reason" not in body, body


def stats(base_url):
    with urllib.request.urlopen(f"{base_url}api/stats", timeout=10) as r:
        return json.loads(r.read())


def rendered_dom(url):
    profile = tempfile.mkdtemp(prefix="sta-chromium-")
    try:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url],
            capture_output=True, text=True, timeout=120)
        return out.stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_dashboard_shows_a_live_swarm(binary):
    with Tracker(binary) as tracker:
        info_hash = hashlib.sha1(b"dashboard swarm").digest()
        announce(tracker.announce_url, info_hash, b"A" * 20, 6881, 0, "completed")
        announce(tracker.announce_url, info_hash, b"B" * 20, 6882, 0)
        announce(tracker.announce_url, info_hash, b"C" * 20, 6883, 1000, "started")
        # The largest swarms are noted as the sweep passes (every second on
        # a tracker this small): wait for the API to list this one.
        deadline = time.monotonic() + 30
        while not any(t["info_hash"] == info_hash.hex() for t in stats(tracker.base_url)["torrents"]):
            assert time.monotonic() < deadline, stats(tracker.base_url)
            time.sleep(0.05)  # polling a condition, with a deadline
        dom = rendered_dom(tracker.base_url)
        row = re.search(r'<tr data-info-hash="%s">(.*?)</tr>' % info_hash.hex(), dom, re.S)
        assert row, f"no row for the swarm in the rendered page: {dom[:2000]}"
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
        assert cells[1:4] == ["2", "1", "1"], cells
        assert re.search(r'id="seeders">2<', dom) and re.search(r'id="leechers">1<', dom), dom[:2000]
        assert re.search(r'id="swarms">1<', dom) and re.search(r'id="completed">1<', dom)
        assert "updated" in dom


if __name__ == "__main__":
    if not os.path.exists(CHROMIUM):
        print("chromium is not installed: skipped")
        sys.exit(77)
    main([test_dashboard_shows_a_live_swarm])
