"""One `sta serve` node with many torrents: several given at once, one of
which cannot be served while the others are; `sta get` of several torrents
at once; a restart with nothing but SAVE_DIR brings every torrent back
without reading the data again; --watch follows a directory (a torrent
dropped in is served within seconds, one removed stops being served); a
state directory of its own (--state-dir) instead of SAVE_DIR/.sta.
Run with the sta binary as the only argument."""
import filecmp
import json
import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 120


def make_torrents(binary, d, count, size=96 * 1024, first=0):
    """count data files in d/data and their torrents in d/t; the paths."""
    paths = []
    for i in range(first, first + count):
        random_file(f"{d}/data/f{i}.bin", size + i, 100 + i)
        os.makedirs(f"{d}/t", exist_ok=True)
        assert sta(binary, "create", f"{d}/data/f{i}.bin", "-p", "16KiB", "-o", f"{d}/t/f{i}.torrent").code == 0
        paths.append(f"{d}/t/f{i}.torrent")
    return paths


def info_hash(binary, torrent):
    return json.loads(sta(binary, "info", torrent, "--json").out)["info_hash"]


def handshake_answered(address, port, info_hash_hex):
    """Whether the node answers our handshake for this info-hash."""
    with socket.create_connection((address, port), timeout=5, source_address=("127.0.0.229", 0)) as s:
        s.sendall(b"\x13BitTorrent protocol" + bytes(8) + bytes.fromhex(info_hash_hex) + b"-XX0001-node-serve00")
        try:
            got = s.recv(68)
        except (ConnectionResetError, socket.timeout):
            return False
        return len(got) > 0


def rchar(pid):
    """Bytes the process has read with read() and friends so far."""
    for line in open(f"/proc/{pid}/io"):
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def wait_live(serve, count):
    return serve.wait_for(lambda e: e["event"] == "progress" and e.get("live") == count, f"{count} torrents live",
                          DEADLINE_S)


def test_several_torrents_one_of_which_cannot_be_served(binary):
    with TempDir() as d:
        good = make_torrents(binary, d, 2)
        random_file(f"{d}/other/missing.bin", 50_000, 7)
        assert sta(binary, "create", f"{d}/other/missing.bin", "-o", f"{d}/t/missing.torrent").code == 0
        with StaPeer(binary, "serve", *good, f"{d}/t/missing.torrent", "-o", f"{d}/data", "--no-tracker",
                     "--listen", "127.0.0.220:0") as serve:
            port = serve.listen_port()
            err = serve.wait_for(lambda e: e["event"] == "error", "the error of the torrent without data", DEADLINE_S)
            assert err["name"] == "missing.bin" and "missing.bin" in err["detail"], err
            wait_live(serve, 2)
            # The other two are served: one `sta get` downloads both at once.
            got = sta(binary, "get", *good, "-o", f"{d}/down", "-e", "--no-tracker", "--listen", "127.0.0.221:0",
                      "--peer", f"127.0.0.220:{port}", "--json")
            assert got.code == 0, got.err
            done = [line for line in got.text().splitlines() if '"complete"' in line and '"name"' in line]
            assert len(done) == 2, got.text()
            for i in range(2):
                assert filecmp.cmp(f"{d}/data/f{i}.bin", f"{d}/down/f{i}.bin", shallow=False)
            assert serve.stop() == 0, serve.stderr


def test_get_of_several_torrents_fails_when_one_fails(binary):
    with TempDir() as d:
        good = make_torrents(binary, d, 1)
        with StaPeer(binary, "serve", *good, "-o", f"{d}/data", "--no-tracker", "--listen", "127.0.0.222:0") as serve:
            port = serve.listen_port()
            os.makedirs(f"{d}/down")
            # A larger file in the way of the second torrent: refused, reported by name.
            random_file(f"{d}/other/f9.bin", 60_000, 9)
            assert sta(binary, "create", f"{d}/other/f9.bin", "-o", f"{d}/t/f9.torrent").code == 0
            random_file(f"{d}/down/f9.bin", 70_000, 10)
            got = sta(binary, "get", *good, f"{d}/t/f9.torrent", "-o", f"{d}/down", "-e", "--no-tracker",
                      "--listen", "127.0.0.223:0", "--peer", f"127.0.0.222:{port}")
            assert got.code == 1, (got.code, got.err)
            assert b"error: f9.bin" in got.err, got.err
            assert filecmp.cmp(f"{d}/data/f0.bin", f"{d}/down/f0.bin", shallow=False)
            assert os.path.getsize(f"{d}/down/f9.bin") == 70_000


def test_restart_with_only_save_dir_brings_every_torrent_back_without_rehashing(binary):
    with TempDir() as d:
        torrents = make_torrents(binary, d, 20, size=512 * 1024)
        total = sum(os.path.getsize(f"{d}/data/f{i}.bin") for i in range(20))
        with StaPeer(binary, "serve", *torrents, "-o", f"{d}/data", "--no-tracker", "--listen",
                     "127.0.0.224:0") as serve:
            wait_live(serve, 20)
            # The first start read every byte to check it...
            assert rchar(serve.proc.pid) >= total
            assert serve.stop() == 0, serve.stderr
        shutil.rmtree(f"{d}/t")
        with StaPeer(binary, "serve", "-o", f"{d}/data", "--no-tracker", "--listen", "127.0.0.224:0") as serve:
            added = serve.wait_for(lambda e: e["event"] == "progress" and e.get("live") == 20, "20 live", DEADLINE_S)
            assert added["torrents"] == 20
            # ...the second trusts the resume records and reads almost nothing.
            assert rchar(serve.proc.pid) < total // 10, (rchar(serve.proc.pid), total)
            assert sum(1 for e in serve.events if e["event"] == "added") == 20
            assert serve.stop() == 0


def test_watch_directory_is_followed(binary):
    with TempDir() as d:
        torrents = make_torrents(binary, d, 3)
        os.makedirs(f"{d}/watch")
        for t in torrents[:2]:
            shutil.copy(t, f"{d}/watch/")
        with StaPeer(binary, "serve", "--watch", f"{d}/watch", "-o", f"{d}/data", "--no-tracker", "--listen",
                     "127.0.0.225:0") as serve:
            port = serve.listen_port()
            wait_live(serve, 2)
            # Dropped in (written elsewhere, then renamed in, as a copy should be).
            shutil.copy(torrents[2], f"{d}/f2.tmp")
            os.rename(f"{d}/f2.tmp", f"{d}/watch/f2.torrent")
            start = time.monotonic()
            serve.wait_for(lambda e: e["event"] == "added" and e["name"] == "f2.bin", "f2 added", DEADLINE_S)
            wait_live(serve, 3)
            assert time.monotonic() - start < 10
            h2 = info_hash(binary, torrents[2])
            assert handshake_answered("127.0.0.225", port, h2)
            # A file in the directory that is not a torrent: one warning, the rest goes on.
            with open(f"{d}/watch/junk.torrent", "wb") as f:
                f.write(b"not bencode")
            # Removed: no longer served, data kept.
            os.remove(f"{d}/watch/f0.torrent")
            serve.wait_for(lambda e: e["event"] == "removed" and e["name"] == "f0.bin", "f0 removed", DEADLINE_S)
            wait_live(serve, 2)
            assert not handshake_answered("127.0.0.225", port, info_hash(binary, torrents[0]))
            assert os.path.exists(f"{d}/data/f0.bin")
            assert serve.stop() == 0
            assert serve.stderr.count("junk.torrent") == 1, serve.stderr
            # The removed one is forgotten; the others are recorded for the next start.
            listed = sorted(n for n in os.listdir(f"{d}/data/.sta") if n.endswith(".torrent"))
            assert len(listed) == 2 and f"{info_hash(binary, torrents[0])}.torrent" not in listed, listed


def test_a_state_directory_of_its_own(binary):
    with TempDir() as d:
        # Large enough that the sanitizer runtimes' own reads stay well under a tenth.
        torrents = make_torrents(binary, d, 3, size=2 * 1024 * 1024)
        total = sum(os.path.getsize(f"{d}/data/f{i}.bin") for i in range(3))
        with StaPeer(binary, "serve", *torrents, "-o", f"{d}/data", "--state-dir", f"{d}/state", "--no-tracker",
                     "--listen", "127.0.0.206:0") as serve:
            port = serve.listen_port()
            wait_live(serve, 3)
            # A download of two files with a selection keeps its parts file there too.
            os.makedirs(f"{d}/pack")
            random_file(f"{d}/pack/x.bin", 40_000, 11)
            random_file(f"{d}/pack/y.bin", 30_000, 12)
            assert sta(binary, "create", f"{d}/pack", "-p", "16KiB", "-o", f"{d}/pack.torrent").code == 0
            assert serve.stop() == 0, serve.stderr
        assert not os.path.exists(f"{d}/data/.sta")
        kept = sorted(os.listdir(f"{d}/state"))
        assert len([n for n in kept if n.endswith(".torrent")]) == 3, kept
        assert len([n for n in kept if n.endswith(".resume")]) == 3, kept
        # Back with SAVE_DIR and the same state directory, without reading the data.
        with StaPeer(binary, "serve", "-o", f"{d}/data", "--state-dir", f"{d}/state", "--no-tracker", "--listen",
                     "127.0.0.206:0") as serve:
            wait_live(serve, 3)
            assert rchar(serve.proc.pid) < total // 10, (rchar(serve.proc.pid), total)
            assert serve.stop() == 0
        # Without it, SAVE_DIR/.sta lists nothing.
        run = sta(binary, "serve", "-o", f"{d}/data", "--no-tracker")
        assert run.code == 2 and b"nothing to serve" in run.err, run.err
        # A download with a selection: resume record and parts file in the state directory.
        with StaPeer(binary, "serve", f"{d}/pack.torrent", "-o", d, "--no-tracker", "--listen",
                     "127.0.0.207:0") as serve:
            port = serve.listen_port()
            got = sta(binary, "get", f"{d}/pack.torrent", "-o", f"{d}/down", "--state-dir", f"{d}/dstate", "-e",
                      "--select", "1", "--no-tracker", "--listen", "127.0.0.208:0", "--peer", f"127.0.0.207:{port}")
            assert got.code == 0, got.err
            assert serve.stop() == 0
        names = os.listdir(f"{d}/dstate")
        assert any(n.endswith(".parts") for n in names) and any(n.endswith(".resume") for n in names), names
        assert not os.path.exists(f"{d}/down/.sta") and not os.path.exists(f"{d}/down/pack/x.bin")
        assert filecmp.cmp(f"{d}/pack/y.bin", f"{d}/down/pack/y.bin", shallow=False)
        # One that cannot be made (its parent is missing) is said at once, in one line.
        run = sta(binary, "serve", torrents[0], "-o", f"{d}/data", "--state-dir", f"{d}/no/such/state",
                  "--no-tracker", "--listen", "127.0.0.206:0")
        assert run.code == 2 and run.err.count(b"\n") == 1 and b"no/such/state" in run.err, run.err


def test_serve_with_nothing_to_serve_is_a_usage_error(binary):
    with TempDir() as d:
        os.makedirs(f"{d}/empty")
        run = sta(binary, "serve", "-o", f"{d}/empty", "--no-tracker")
        assert run.code == 2 and b"nothing to serve" in run.err, run.err
        run = sta(binary, "serve", "--no-tracker")
        assert run.code == 2 and b"-o SAVE_DIR" in run.err, run.err


if __name__ == "__main__":
    main([
        test_several_torrents_one_of_which_cannot_be_served,
        test_get_of_several_torrents_fails_when_one_fails,
        test_restart_with_only_save_dir_brings_every_torrent_back_without_rehashing,
        test_watch_directory_is_followed,
        test_a_state_directory_of_its_own,
        test_serve_with_nothing_to_serve_is_a_usage_error,
    ])
