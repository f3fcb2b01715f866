"""Magnet links between sta and libtorrent over loopback (BEP 9): sta
fetches the metadata from a libtorrent seeder that a magnet link names
only by its info-hash and an x.pe peer, downloads, and keeps the fetched
.torrent so a second run does not fetch it again; `--metadata-only`
writes it out; and libtorrent starts from a magnet link of a torrent
`sta serve` seeds. Run with Debian's /usr/bin/python3."""
import filecmp
import json
import os
import sys

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_flush, lt_seed, lt_session, wait_until  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 120


def make_torrent(binary, d, size, seed, *extra):
    random_file(f"{d}/seed/payload.bin", size, seed)
    assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", *extra).code == 0
    info = json.loads(sta(binary, "info", f"{d}/t.torrent", "--json").out)
    return f"{d}/t.torrent", info["info_hash"]


def test_sta_downloads_a_magnet_with_only_an_info_hash_and_a_peer(binary):
    with TempDir() as d:
        # 64 KiB pieces of 5 MiB: 80 hashes, so the metadata spans one short piece.
        torrent, info_hash = make_torrent(binary, d, 5 * 1024 * 1024 + 3, 31, "-p", "64KiB", "-a",
                                          "http://127.0.0.1:9/announce")
        s, h = lt_seed(f"{d}/seed", "127.0.0.31", torrent)
        magnet = f"magnet:?xt=urn:btih:{info_hash}&x.pe=127.0.0.31:{s.listen_port()}"
        with StaPeer(binary, "get", magnet, "-o", f"{d}/down", "--listen", "127.0.0.32:0", "-e") as get:
            assert get.wait(DEADLINE_S) == 0, get.stderr
            assert any(e.get("event") == "metadata" for e in get.events), get.events
            assert get.events[-1]["event"] == "complete"
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)
        saved = f"{d}/down/.sta/{info_hash}.fetched.torrent"
        info = json.loads(sta(binary, "info", saved, "--json").out)
        assert info["info_hash"] == info_hash and info["total_size"] == 5 * 1024 * 1024 + 3, info
        del s
        # The seeder is gone: the same command starts from the saved
        # metadata and the data on disk, and is complete at once.
        with StaPeer(binary, "get", magnet, "-o", f"{d}/down", "--listen", "127.0.0.32:0", "-e") as again:
            first = again.next_event()
            assert first["has_metadata"] is True, first
            assert again.wait(DEADLINE_S) == 0, again.stderr
            assert again.events[-1]["downloaded"] == 0


def test_metadata_only_writes_the_torrent(binary):
    with TempDir() as d:
        # 16 KiB of hashes and some: metadata of more than one piece.
        torrent, info_hash = make_torrent(binary, d, 1024 * 1024 * 13, 32, "-p", "16KiB")
        s, h = lt_seed(f"{d}/seed", "127.0.0.33", torrent)
        magnet = f"magnet:?xt=urn:btih:{info_hash}&dn=payload&x.pe=127.0.0.33:{s.listen_port()}"
        run = sta(binary, "get", magnet, "--metadata-only", "-o", f"{d}/fetched.torrent", "--listen", "127.0.0.34:0")
        assert run.code == 0, run.err
        info = json.loads(sta(binary, "info", f"{d}/fetched.torrent", "--json").out)
        assert info["info_hash"] == info_hash and info["piece_count"] == 13 * 64, info
        assert not os.path.exists(f"{d}/fetched.torrent/.sta")
        del s


def test_libtorrent_starts_from_a_magnet_of_what_sta_seeds(binary):
    with TempDir() as d:
        torrent, info_hash = make_torrent(binary, d, 3 * 1024 * 1024 + 5, 33, "-p", "32KiB")
        with StaPeer(binary, "serve", torrent, "-o", f"{d}/seed", "--no-tracker", "--listen", "127.0.0.35:0") as serve:
            port = serve.listen_port()
            s = lt_session("127.0.0.36")
            os.mkdir(f"{d}/down")
            params = lt.parse_magnet_uri(f"magnet:?xt=urn:btih:{info_hash}")
            params.save_path = f"{d}/down"
            h = s.add_torrent(params)
            h.connect_peer(("127.0.0.35", port))
            wait_until(s, lambda: h.status().has_metadata, "libtorrent to fetch the metadata from sta")
            assert str(h.status().info_hash) == info_hash
            wait_until(s, lambda: h.status().is_seeding, "libtorrent to download from sta")
            lt_flush(s, h)
            assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False), "data differs"
            assert serve.stop() == 0


if __name__ == "__main__":
    main([test_sta_downloads_a_magnet_with_only_an_info_hash_and_a_peer,
          test_metadata_only_writes_the_torrent,
          test_libtorrent_starts_from_a_magnet_of_what_sta_seeds])
