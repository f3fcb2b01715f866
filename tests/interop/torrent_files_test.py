"""Interop with python3-libtorrent on .torrent files and magnets.

libtorrent loads what `sta create` makes and finds the data complete; sta
reads what libtorrent makes; both agree on every info-hash. Run with
Debian's /usr/bin/python3, which has the libtorrent module.
"""
import json
import os
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_alerts  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

CHECK_TIMEOUT_S = 60


def quiet_session():
    """A session that talks to nobody: no DHT, LSD, UPnP or NAT-PMP."""
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
    })


def libtorrent_checks_complete(torrent_path, save_path):
    """Adds the torrent to libtorrent, waits for its check, returns progress."""
    ses = quiet_session()
    ti = lt.torrent_info(torrent_path)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    deadline = time.monotonic() + CHECK_TIMEOUT_S
    while time.monotonic() < deadline:
        for a in lt_alerts(ses):
            if isinstance(a, lt.torrent_checked_alert):
                return h.status().progress, ti
            if isinstance(a, lt.torrent_error_alert):
                raise AssertionError(f"libtorrent error: {a.message()}")
    raise AssertionError("libtorrent did not finish checking in time")


def sta_info(binary, path):
    r = sta(binary, "info", "--json", path)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_libtorrent_loads_single_file_from_sta(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/single.bin", 3_000_000, 1)
        assert sta(binary, "create", f"{d}/seed/single.bin", "-p", "256KiB", "-o", f"{d}/t.torrent").code == 0
        progress, ti = libtorrent_checks_complete(f"{d}/t.torrent", f"{d}/seed")
        info = sta_info(binary, f"{d}/t.torrent")
        assert str(ti.info_hashes().v1) == info["info_hash"]
        assert ti.total_size() == info["total_size"] and ti.num_pieces() == info["piece_count"]
        assert progress == 1.0, progress


def test_libtorrent_loads_multi_file_from_sta(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/tree/a.bin", 700_000, 2)
        random_file(f"{d}/seed/tree/nested/deeper/b.bin", 1_234_567, 3)
        random_file(f"{d}/seed/tree/nested/c.bin", 10, 4)
        random_file(f"{d}/seed/tree/zero", 0, 5)
        assert sta(binary, "create", f"{d}/seed/tree", "-p", "64KiB", "-o", f"{d}/t.torrent").code == 0
        progress, ti = libtorrent_checks_complete(f"{d}/t.torrent", f"{d}/seed")
        info = sta_info(binary, f"{d}/t.torrent")
        assert str(ti.info_hashes().v1) == info["info_hash"]
        fs = ti.files()
        lt_files = [(fs.file_path(i).split(os.sep, 1)[1].replace(os.sep, "/"), fs.file_size(i))
                    for i in range(fs.num_files())]
        assert lt_files == [(f["path"], f["size"]) for f in info["files"]], (lt_files, info["files"])
        assert ("zero", 0) in lt_files
        assert progress == 1.0, progress


def libtorrent_make(path, piece_size, flags):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, piece_size, flags=flags)
    ct.add_tracker("http://127.0.0.1:1/announce", 0)
    ct.add_tracker("http://127.0.0.2:1/announce", 1)
    lt.set_piece_hashes(ct, os.path.dirname(path))
    return lt.bencode(ct.generate())


def test_sta_reads_libtorrent_v1_torrents(binary):
    with TempDir() as d:
        random_file(f"{d}/data/dir/x.bin", 500_000, 6)
        random_file(f"{d}/data/dir/sub/y.bin", 90_000, 7)
        with open(f"{d}/lt.torrent", "wb") as f:
            f.write(libtorrent_make(f"{d}/data/dir", 32768, lt.create_torrent.v1_only))
        ti = lt.torrent_info(f"{d}/lt.torrent")
        info = sta_info(binary, f"{d}/lt.torrent")
        assert info["info_hash"] == str(ti.info_hashes().v1)
        assert info["name"] == "dir" and info["total_size"] == 590_000
        assert info["piece_length"] == 32768 and info["piece_count"] == ti.num_pieces()
        assert sorted(f["path"] for f in info["files"]) == ["sub/y.bin", "x.bin"]
        assert info["trackers"] == [["http://127.0.0.1:1/announce"], ["http://127.0.0.2:1/announce"]]
        v = sta(binary, "verify", f"{d}/lt.torrent", f"{d}/data")
        assert v.code == 0, v.text()


def test_sta_reads_and_verifies_libtorrent_hybrid_with_padding(binary):
    with TempDir() as d:
        random_file(f"{d}/data/hybrid/one.bin", 400_000, 8)
        random_file(f"{d}/data/hybrid/two.bin", 100_000, 10)
        with open(f"{d}/hybrid.torrent", "wb") as f:
            f.write(libtorrent_make(f"{d}/data/hybrid", 65536, 0))
        ti = lt.torrent_info(f"{d}/hybrid.torrent")
        info = sta_info(binary, f"{d}/hybrid.torrent")
        assert info["info_hash"] == str(ti.info_hashes().v1)
        assert any(f.get("pad") for f in info["files"]), info["files"]
        v = sta(binary, "verify", f"{d}/hybrid.torrent", f"{d}/data")
        assert v.code == 0, v.text()


def test_libtorrent_parses_sta_magnet(binary):
    with TempDir() as d:
        random_file(f"{d}/a b+c.bin", 100_000, 9)
        assert sta(binary, "create", f"{d}/a b+c.bin", "-a", "http://127.0.0.1:6969/announce?k=a+b&x=1",
                   "-o", f"{d}/t.torrent").code == 0
        uri = sta(binary, "magnet", f"{d}/t.torrent").text().strip()
        params = lt.parse_magnet_uri(uri)
        assert str(params.info_hashes.v1) == sta_info(binary, f"{d}/t.torrent")["info_hash"]
        assert params.name == "a b+c.bin", params.name
        assert params.trackers == ["http://127.0.0.1:6969/announce?k=a+b&x=1"], params.trackers


if __name__ == "__main__":
    main([
        test_libtorrent_loads_single_file_from_sta,
        test_libtorrent_loads_multi_file_from_sta,
        test_sta_reads_libtorrent_v1_torrents,
        test_sta_reads_and_verifies_libtorrent_hybrid_with_padding,
        test_libtorrent_parses_sta_magnet,
    ])
