"""The options of `sta get` / `sta serve` that decide where sta talks from, how
fast, and what it downloads: --listen addresses as the tracker sees them,
IPv6 beside IPv4, --tracker-ip, -d/-u rate limits (measured against
libtorrent peers, so interop with limits on is tested too),
--select/--exclude-glob, and the errors for bad values. Run with Debian's
/usr/bin/python3 (libtorrent)."""
import filecmp
import http.server
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_flush, lt_seed, lt_session, wait_until  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, expect_one_error_line, main, random_file, sta  # noqa: E402
from sta_tracker import Tracker  # noqa: E402

DEADLINE_S = 120
MIB = 1024 * 1024
RATE = 20 * MIB


def info_hash(torrent):
    return lt.torrent_info(torrent).info_hash().to_bytes()


def tracker_peers(announce_url, torrent):
    """The (ip, port) pairs `sta tracker` hands out for the torrent, asked
    by a third peer (port 1, which nobody can connect to; left out)."""
    query = urllib.parse.urlencode({"info_hash": info_hash(torrent), "peer_id": b"-PY0001-123456789012",
                                    "port": 1, "uploaded": 0, "downloaded": 0, "left": 1, "compact": 1})
    with urllib.request.urlopen(f"{announce_url}?{query}", timeout=10) as r:
        reply = lt.bdecode(r.read())
    raw = reply[b"peers"]
    peers = {(socket.inet_ntoa(raw[i:i + 4]), struct.unpack(">H", raw[i + 4:i + 6])[0])
             for i in range(0, len(raw), 6)}
    return peers - {("127.0.0.1", 1)}


def big_random_file(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for _ in range(size // (16 * MIB)):
            f.write(os.urandom(16 * MIB))


def rate_over_ten_seconds(peer, field):
    """Bytes/s of events[field] over at least 10 s of progress lines, starting
    1 s after the first byte moved."""
    first = peer.wait_for(lambda e: e[field] > 0, "the transfer to start")
    start = peer.wait_for(lambda e: e["elapsed"] >= first["elapsed"] + 1, "a second of transfer")
    end = peer.wait_for(lambda e: e["elapsed"] >= start["elapsed"] + 10, "ten more seconds")
    return (end[field] - start[field]) / (end["elapsed"] - start["elapsed"])


def test_tracker_sees_the_listen_addresses(binary):
    with TempDir() as d, Tracker(binary) as tracker:
        random_file(f"{d}/seed/payload.bin", 2 * MIB, 21)
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent",
                   "-a", tracker.announce_url).code == 0
        torrent = f"{d}/t.torrent"
        with StaPeer(binary, "serve", torrent, f"{d}/seed", "--listen", "127.0.0.11:0") as serve, \
                StaPeer(binary, "get", torrent, "-o", f"{d}/down", "--listen", "127.0.0.12:0") as get:
            want = {("127.0.0.11", serve.listen_port()), ("127.0.0.12", get.listen_port())}
            deadline = time.monotonic() + 30
            while (peers := tracker_peers(tracker.announce_url, torrent)) != want:
                assert time.monotonic() < deadline, f"tracker lists {peers}, expected {want}"
                get.next_event()  # a second passes; the peers announce at start
            # The two peers found each other through the tracker.
            get.wait_for(lambda e: e["progress"] == 1, "the download")
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)


def test_listen_on_ipv6_and_ipv4_at_once(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/payload.bin", 3 * MIB + 5, 25)
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-p", "256KiB").code == 0
        with StaPeer(binary, "serve", f"{d}/t.torrent", f"{d}/seed", "--no-tracker", "--listen", "[::1]:0",
                     "--listen", "127.0.0.13:0") as serve:
            first = serve.next_event()
            v6, v4 = first["listen"]
            assert v6.startswith("[::1]:") and v4.startswith("127.0.0.13:"), first["listen"]
            for out, peer, listen in [("six", v6, "[::1]:0"), ("four", v4, "127.0.0.23:0")]:
                with StaPeer(binary, "get", f"{d}/t.torrent", "-o", f"{d}/{out}", "--no-tracker", "--peer", peer,
                             "--listen", listen, "-e") as get:
                    assert get.wait(DEADLINE_S) == 0, peer
                assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/{out}/payload.bin", shallow=False), peer


class AnnounceRecorder(http.server.BaseHTTPRequestHandler):
    """A tracker that records each announce's query and client address."""
    seen = []

    def do_GET(self):
        AnnounceRecorder.seen.append((self.client_address[0], urllib.parse.urlparse(self.path).query))
        body = b"d8:intervali1800e5:peers0:e"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_tracker_ip_is_sent_and_announces_leave_from_the_listen_address(binary):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AnnounceRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with TempDir() as d:
            random_file(f"{d}/seed/payload.bin", 64 * 1024, 22)
            url = f"http://127.0.0.1:{server.server_address[1]}/announce"
            assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-a", url).code == 0
            with StaPeer(binary, "get", f"{d}/t.torrent", "-o", f"{d}/down", "--listen", "127.0.0.14:0",
                         "--tracker-ip", "203.0.113.7") as get:
                get.wait_for(lambda e: e.get("tracker", "").startswith("tracker ok"), "an announce")
        client, query = AnnounceRecorder.seen[0]
        assert client == "127.0.0.14", client
        assert urllib.parse.parse_qs(query)["ip"] == ["203.0.113.7"], query
    finally:
        server.shutdown()
        server.server_close()


def test_download_limit_from_a_libtorrent_seeder(binary):
    with TempDir() as d:
        size = 256 * MIB
        big_random_file(f"{d}/seed/payload.bin", size)
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-p", "1MiB").code == 0
        s, h = lt_seed(f"{d}/seed", "127.0.0.15", f"{d}/t.torrent")
        with StaPeer(binary, "get", f"{d}/t.torrent", "-o", f"{d}/down", "--no-tracker", "--listen",
                     "127.0.0.16:0", "--peer", f"127.0.0.15:{s.listen_port()}", "-d", "20MiB", "-u", "20MiB",
                     "-e") as get:
            rate = rate_over_ten_seconds(get, "downloaded")
            print(f"  -d 20MiB: downloaded at {rate / MIB:.2f} MiB/s over 10 s")
            assert abs(rate - RATE) <= 0.1 * RATE, f"downloaded at {rate / MIB:.2f} MiB/s with -d 20MiB"
            assert get.wait(DEADLINE_S) == 0
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)
        del s


def test_upload_limit_to_a_libtorrent_downloader(binary):
    with TempDir() as d:
        size = 256 * MIB
        big_random_file(f"{d}/seed/payload.bin", size)
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-p", "1MiB").code == 0
        with StaPeer(binary, "serve", f"{d}/t.torrent", f"{d}/seed", "--no-tracker", "--listen", "127.0.0.17:0",
                     "-u", "20MiB", "-d", "20MiB") as serve:
            port = serve.listen_port()
            s = lt_session("127.0.0.18")
            os.mkdir(f"{d}/down")
            h = s.add_torrent({"ti": lt.torrent_info(f"{d}/t.torrent"), "save_path": f"{d}/down"})
            h.connect_peer(("127.0.0.17", port))
            rate = rate_over_ten_seconds(serve, "uploaded")
            print(f"  -u 20MiB: uploaded at {rate / MIB:.2f} MiB/s over 10 s")
            assert abs(rate - RATE) <= 0.1 * RATE, f"uploaded at {rate / MIB:.2f} MiB/s with -u 20MiB"
            wait_until(s, lambda: h.status().is_seeding, "libtorrent to finish downloading from sta")
            lt_flush(s, h)
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)
        del s


def test_select_and_exclude_glob_download_only_the_chosen_files(binary):
    with TempDir() as d:
        sizes = {"a.bin": 100 * 1024 + 7, "sub/b.bin": 300 * 1024 + 3, "c.iso": 200 * 1024 + 1}
        for i, (name, size) in enumerate(sizes.items()):
            random_file(f"{d}/seed/pack/{name}", size, 30 + i)
        assert sta(binary, "create", f"{d}/seed/pack", "-o", f"{d}/t.torrent", "-p", "64KiB").code == 0
        listed = sta(binary, "info", f"{d}/t.torrent").text()
        # `sta info` numbers the files; the indices below are its.
        assert "0  a.bin" in listed and "1  c.iso" in listed and "2  sub/b.bin" in listed, listed
        with StaPeer(binary, "serve", f"{d}/t.torrent", f"{d}/seed", "--no-tracker", "--listen",
                     "127.0.0.19:0") as serve:
            peer = f"127.0.0.19:{serve.listen_port()}"
            for out, choice, present in [("one", ["--select", "2"], ["sub/b.bin"]),
                                         ("two", ["--exclude-glob", "*.iso"], ["a.bin", "sub/b.bin"])]:
                with StaPeer(binary, "get", f"{d}/t.torrent", "-o", f"{d}/{out}", "--no-tracker", "--peer", peer,
                             "--listen", "127.0.0.20:0", "-e", *choice) as get:
                    assert get.wait(DEADLINE_S) == 0, choice
                    last = get.events[-1]
                    assert last["event"] == "complete", last
                    assert last["selected_total"] < last["total"] == sum(sizes.values()), last
                    assert last["verified"] == last["selected_total"], last
                for name in sizes:
                    path = f"{d}/{out}/pack/{name}"
                    if name in present:
                        assert filecmp.cmp(f"{d}/seed/pack/{name}", path, shallow=False), (choice, name)
                    else:
                        assert not os.path.exists(path), (choice, name)


def test_bad_option_values_are_one_error_line(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/pack/a.bin", 1000, 40)
        random_file(f"{d}/seed/pack/b.bin", 1000, 41)
        assert sta(binary, "create", f"{d}/seed/pack", "-o", f"{d}/t.torrent").code == 0
        get = ["get", f"{d}/t.torrent", "-o", f"{d}/down", "--no-tracker", "--peer", "127.0.0.1:1"]
        for extra, says in [(["--select", "99"], "2 files"), (["--select", "1-0"], "--select"),
                            (["--select", "x"], "--select"), (["-d", "fast"], "fast"),
                            (["-u", "-5"], "upload-limit"), (["--exclude-glob", "*"], "no file"),
                            (["--max-peers", "0"], "max-peers"), (["--tracker-ip", "a b"], "tracker-ip")]:
            expect_one_error_line(sta(binary, *get, *extra), 2, says)
        assert not os.path.exists(f"{d}/down"), "a refused command created its output directory"
        expect_one_error_line(sta(binary, "serve", f"{d}/t.torrent", f"{d}/seed", "-u", "1.5x"), 2, "1.5x")


if __name__ == "__main__":
    main([test_tracker_sees_the_listen_addresses,
          test_listen_on_ipv6_and_ipv4_at_once,
          test_tracker_ip_is_sent_and_announces_leave_from_the_listen_address,
          test_download_limit_from_a_libtorrent_seeder,
          test_upload_limit_to_a_libtorrent_downloader,
          test_select_and_exclude_glob_download_only_the_chosen_files,
          test_bad_option_values_are_one_error_line])
