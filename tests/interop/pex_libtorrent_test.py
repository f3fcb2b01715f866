"""Peer exchange (BEP 11) between sta and libtorrent in swarms of three on
loopback, where the third peer can only be learnt by PEX: sta learns a
libtorrent seeder from another libtorrent peer , and a libtorrent peer learns another from `sta serve`. Run with Debian's
/usr/bin/python3."""
import os
import sys

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_seed, lt_session, wait_until  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 150


def make_torrent(binary, d, size, seed):
    random_file(f"{d}/seed/payload.bin", size, seed)
    assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-p", "64KiB").code == 0
    return f"{d}/t.torrent"


def peer_ips(handle):
    return {p.ip[0] for p in handle.get_peer_info()}


def test_sta_learns_a_seeder_by_pex_from_libtorrent(binary):
    with TempDir() as d:
        torrent = make_torrent(binary, d, 6 * 1024 * 1024, 41)
        # A slow seeder, so that the peer between it and sta never has it all.
        seed_s, seed_h = lt_seed(f"{d}/seed", "127.0.0.41", torrent, upload_limit=48 * 1024)
        mid = lt_session("127.0.0.42", outgoing_interfaces="127.0.0.42")
        os.mkdir(f"{d}/mid")
        mid_h = mid.add_torrent({"ti": lt.torrent_info(torrent), "save_path": f"{d}/mid"})
        mid_h.connect_peer(("127.0.0.41", seed_s.listen_port()))
        wait_until(mid, lambda: "127.0.0.41" in peer_ips(mid_h), "the libtorrent peer to reach the seeder")
        # sta is told of the middle peer only.
        with StaPeer(binary, "get", torrent, "-o", f"{d}/down", "--no-tracker", "--peer",
                     f"127.0.0.42:{mid.listen_port()}", "--listen", "127.0.0.43:0") as get:
            get.next_event()
            wait_until(seed_s, lambda: "127.0.0.43" in peer_ips(seed_h), "sta to connect to the seeder it learnt by PEX")
            # Interrupted before completion: 128 + SIGTERM.
            assert get.stop() == 143, get.stderr
        del seed_s, mid


def test_libtorrent_learns_a_peer_by_pex_from_sta(binary):
    with TempDir() as d:
        torrent = make_torrent(binary, d, 8 * 1024 * 1024, 42)
        # Slow enough that both downloaders are still at it when they meet.
        with StaPeer(binary, "serve", torrent, "-o", f"{d}/seed", "--no-tracker", "--listen", "127.0.0.44:0",
                     "-u", "1MiB") as serve:
            port = serve.listen_port()
            # Each connects out from its own address too, so the address sta
            # sees is the one it listens on.
            a = lt_session("127.0.0.45", outgoing_interfaces="127.0.0.45")
            b = lt_session("127.0.0.46", outgoing_interfaces="127.0.0.46")
            handles = []
            for name, s in (("a", a), ("b", b)):
                os.mkdir(f"{d}/{name}")
                h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": f"{d}/{name}"})
                h.connect_peer(("127.0.0.44", port))
                handles.append(h)
            # Neither was told of the other: only sta's PEX names them.
            wait_until(a, lambda: "127.0.0.46" in peer_ips(handles[0]) or "127.0.0.45" in peer_ips(handles[1]),
                       "the libtorrent peers to find each other by sta's PEX")
            assert serve.stop() == 0
        del a, b


if __name__ == "__main__":
    main([test_sta_learns_a_seeder_by_pex_from_libtorrent,
          test_libtorrent_learns_a_peer_by_pex_from_sta])
