"""sta and libtorrent exchange data both ways over loopback: libtorrent seeds
and `sta get` downloads (through `sta tracker`, and with --peer), and
`sta serve` seeds while libtorrent downloads. A `sta get` killed with
SIGKILL mid-download resumes without losing verified pieces. Run with
Debian's /usr/bin/python3, which has the libtorrent module."""
import filecmp
import os
import signal
import sys

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_flush, lt_seed, lt_session, wait_until  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402
from sta_tracker import Tracker  # noqa: E402

DEADLINE_S = 120


def make_torrent(binary, d, size, seed, *extra):
    random_file(f"{d}/seed/payload.bin", size, seed)
    assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", *extra).code == 0
    return f"{d}/t.torrent"


def test_sta_downloads_from_libtorrent_through_sta_tracker(binary):
    with TempDir() as d, Tracker(binary) as tracker:
        torrent = make_torrent(binary, d, 5 * 1024 * 1024 + 7, 11, "-a", tracker.announce_url, "-p", "256KiB")
        s, h = lt_seed(f"{d}/seed", "127.0.0.91", torrent)
        h.force_reannounce()
        with StaPeer(binary, "get", torrent, "-o", f"{d}/down", "--listen", "127.0.0.92:0", "-e") as get:
            assert get.wait(DEADLINE_S) == 0, get.proc.stderr.read() if get.proc.stderr else ""
            assert get.events[-1]["event"] == "complete"
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)
        del s


def test_sta_downloads_from_libtorrent_with_peer(binary):
    with TempDir() as d:
        torrent = make_torrent(binary, d, 3 * 1024 * 1024, 12, "-p", "64KiB")
        s, h = lt_seed(f"{d}/seed", "127.0.0.93", torrent)
        port = s.listen_port()
        with StaPeer(binary, "get", torrent, "-o", f"{d}/down", "--no-tracker", "--peer", f"127.0.0.93:{port}",
                     "--listen", "127.0.0.94:0", "-e") as get:
            assert get.wait(DEADLINE_S) == 0
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)
        del s


def test_libtorrent_downloads_from_sta_serve(binary):
    with TempDir() as d:
        torrent = make_torrent(binary, d, 4 * 1024 * 1024 + 99, 13, "-p", "128KiB")
        with StaPeer(binary, "serve", torrent, f"{d}/seed", "--no-tracker", "--listen", "127.0.0.95:0") as serve:
            port = serve.listen_port()
            s = lt_session("127.0.0.96")
            os.mkdir(f"{d}/down")
            h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": f"{d}/down"})
            h.connect_peer(("127.0.0.95", port))
            wait_until(s, lambda: h.status().is_seeding, "libtorrent to download from sta")
            lt_flush(s, h)
            assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False), "data differs"

            code = serve.stop()
            assert code == 0, f"sta serve exited {code}"
            assert serve.events[-1]["uploaded"] >= 4 * 1024 * 1024 + 99, serve.events[-1]


def test_killed_download_resumes_without_losing_verified_pieces(binary):
    with TempDir() as d:
        size = 24 * 1024 * 1024
        torrent = make_torrent(binary, d, size, 14, "-p", "256KiB")
        # A seeder slow enough that the download is still running when killed.
        s, h = lt_seed(f"{d}/seed", "127.0.0.97", torrent, upload_limit=4 * 1024 * 1024)
        port = s.listen_port()
        args = ["get", torrent, "-o", f"{d}/down", "--no-tracker", "--peer", f"127.0.0.97:{port}",
                "--listen", "127.0.0.98:0"]
        with StaPeer(binary, *args) as first:
            e = first.wait_for(lambda e: e["verified"] >= size // 4, "a quarter of the data")
            verified_before_kill = e["verified"]
            first.stop(signal.SIGKILL)
        assert verified_before_kill < size
        with StaPeer(binary, *args, "-e") as second:
            start = second.next_event()
            # Every piece reported verified before the kill is still verified.
            assert start["verified"] >= verified_before_kill, (start, verified_before_kill)
            assert second.wait(DEADLINE_S) == 0
            # Only what was missing was fetched again.
            assert second.events[-1]["downloaded"] <= size - start["verified"] + 256 * 1024
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)
        del s


if __name__ == "__main__":
    main([test_sta_downloads_from_libtorrent_through_sta_tracker,
          test_sta_downloads_from_libtorrent_with_peer,
          test_libtorrent_downloads_from_sta_serve,
          test_killed_download_resumes_without_losing_verified_pieces])
