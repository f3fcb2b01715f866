"""Debian's chromium, headless and driven over the DevTools protocol, opens
the node's dashboard (`sta get --web`) during a live download from a
python3-libtorrent seeder: after its scripts ran it shows the torrent's
progress moving, the seeder in the peer table and a speed graph with
points; the page's pause button stops the transfer, which the API
confirms. A second page changes a torrent's file selection (ticking a file
the download had left out: it is then fetched) and its peer cap from the
torrent's page. Exits 77 (skipped) when chromium is not installed. Run with
Debian's /usr/bin/python3."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from cdp import CHROMIUM, Browser  # noqa: E402
from lt_peer import lt_seed  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, pack_torrent, random_file, sta  # noqa: E402

DEADLINE_S = 120


def api(url, path):
    with urllib.request.urlopen(url.rstrip("/") + path, timeout=10) as r:
        return json.load(r)


def test_dashboard_follows_a_live_download_and_pauses_it(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/big.bin", 48 * 1024 * 1024, 21)
        assert sta(binary, "create", f"{d}/seed/big.bin", "-p", "256KiB", "-o", f"{d}/t.torrent").code == 0
        s, h = lt_seed(f"{d}/seed", "127.0.0.241", f"{d}/t.torrent", upload_limit=3 * 1024 * 1024)
        port = s.listen_port()
        with StaPeer(binary, "get", f"{d}/t.torrent", "-o", f"{d}/down", "--no-tracker", "--peer",
                     f"127.0.0.241:{port}", "--listen", "127.0.0.242:0", "--web", "127.0.0.1:0") as get, Browser() as b:
            url = get.next_event()["web"]
            ih = api(url, "/api/v1/torrents")[0]["info_hash"]
            row = f'document.querySelector(\'tr[data-hash="{ih}"]\')'
            b.call("Page.navigate", url=url)
            first = b.wait_for(f"{row} && {row}.querySelector('.progress').textContent", "the torrent's row")
            later = b.wait_for(f"{row}.querySelector('.progress').textContent !== {json.dumps(first)} && "
                               f"{row}.querySelector('.progress').textContent", "the progress moving")
            assert float(later.rstrip("%")) > float(first.rstrip("%")), (first, later)
            # The torrent's page: the seeder in its peer table, its speed graph.
            b.evaluate(f"{row}.querySelector('a').click()")
            peers = b.wait_for("document.getElementById('peers').textContent.includes('127.0.0.241') && "
                               "document.getElementById('peers').textContent", "the seeder in the peer table")
            assert "libtorrent" in peers, peers
            assert int(b.wait_for("+document.getElementById('graph').dataset.points >= 2 && "
                                  "document.getElementById('graph').dataset.points", "the node's speed graph")) >= 2
            b.wait_for("+document.getElementById('d-pieces').dataset.pieces === 192", "the piece map")
            # Pause from the page: the API says paused, and the bytes stop.
            b.evaluate(f"{row}.querySelector('button.pause').click()")
            b.wait_for(f"{row}.querySelector('.state').textContent === 'paused'", "the paused state")
            t = api(url, f"/api/v1/torrents/{ih}")
            assert t["state"] == "paused" and not t["complete"], t
            get.wait_for(lambda e: e.get("peers") == 0 and e.get("down_rate") == 0, "the transfer to stop", DEADLINE_S)
            stopped_at = api(url, f"/api/v1/torrents/{ih}")["downloaded"]
            get.wait_for(lambda e: e.get("elapsed", 0) > 0, "another line", DEADLINE_S)
            get.wait_for(lambda e: e.get("elapsed", 0) > 0, "another line", DEADLINE_S)
            assert api(url, f"/api/v1/torrents/{ih}")["downloaded"] == stopped_at
            # Interrupted before completion: 128 + SIGTERM.
            assert get.stop() == 143, get.stderr
        del s


def test_the_page_changes_the_file_selection_and_the_peer_cap(binary):
    with TempDir() as d:
        pack = pack_torrent(binary, d, {"first.bin": (700 * 1024 + 3, 22), "second.bin": (500 * 1024 + 11, 23)})
        with StaPeer(binary, "serve", pack, "-o", f"{d}/data", "--no-tracker", "--listen", "127.0.0.204:0") as serve:
            port = serve.listen_port()
            with StaPeer(binary, "get", pack, "-o", f"{d}/down", "--no-tracker", "--peer",
                         f"127.0.0.204:{port}", "--listen", "127.0.0.205:0", "--select", "0", "--web",
                         "127.0.0.1:0") as get, Browser() as b:
                url = get.next_event()["web"]
                get.wait_for(lambda e: e["event"] == "complete", "first.bin complete", DEADLINE_S)
                ih = api(url, "/api/v1/torrents")[0]["info_hash"]
                row = f'document.querySelector(\'tr[data-hash="{ih}"]\')'
                b.call("Page.navigate", url=url)
                b.wait_for(f"{row} && {row}.querySelector('a').textContent", "the torrent's row")
                b.evaluate(f"{row}.querySelector('a').click()")
                boxes = "document.querySelectorAll('#files input[type=checkbox]')"
                b.wait_for(f"{boxes}.length === 2 && {boxes}[0].checked && !{boxes}[1].checked",
                           "the files with their selection")
                # The peer cap from the limits form.
                b.evaluate("document.getElementById('d-peers').value = 3; document.getElementById('d-limits').click()")
                b.wait_for("document.getElementById('d-limits-result').textContent.includes('at most 3 peers')",
                           "the cap set")
                assert api(url, f"/api/v1/torrents/{ih}")["max_peers"] == 3
                # second.bin ticked and applied: the node checks again and fetches it.
                b.evaluate(f"{boxes}[1].checked = true; document.getElementById('d-select').click()")
                b.wait_for("document.getElementById('d-select-result').textContent.startsWith('applied')",
                           "the selection applied")
                assert [f["selected"] for f in api(url, f"/api/v1/torrents/{ih}/files")] == [True, True]
                get.wait_for(lambda e: e.get("complete") and e.get("selected_total") == e.get("total") and
                             e.get("state") == "live", "both files complete", DEADLINE_S)
                for name in ("first.bin", "second.bin"):
                    with open(f"{d}/down/pack/{name}", "rb") as got, open(f"{d}/data/pack/{name}", "rb") as want:
                        assert got.read() == want.read(), name
                b.wait_for(f"{row}.querySelector('.progress').textContent === '100.0%'", "the row at 100%")
                assert get.stop() == 0, get.stderr
            assert serve.stop() == 0


if __name__ == "__main__":
    if not os.path.exists(CHROMIUM):
        print("chromium is not installed: skipped")
        sys.exit(77)
    main([test_dashboard_follows_a_live_download_and_pauses_it,
          test_the_page_changes_the_file_selection_and_the_peer_cap])
