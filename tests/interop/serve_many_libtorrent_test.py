"""One `sta serve --watch` node seeds 100 torrents; python3-libtorrent
downloads several of them at once from it, byte-exact, then one dropped into
the directory while it runs. Run with Debian's /usr/bin/python3."""
import filecmp
import os
import shutil
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_alerts, lt_flush, lt_session, wait_until  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 120
COUNT = 100


def test_libtorrent_downloads_several_of_100_torrents_one_node_seeds(binary):
    with TempDir() as d:
        os.makedirs(f"{d}/watch")
        for i in range(COUNT + 1):
            random_file(f"{d}/data/f{i}.bin", 64 * 1024 + 37 * i, 500 + i)
            target = f"{d}/watch" if i < COUNT else d
            assert sta(binary, "create", f"{d}/data/f{i}.bin", "-p", "16KiB", "-o", f"{target}/f{i}.torrent").code == 0
        with StaPeer(binary, "serve", "--watch", f"{d}/watch", "-o", f"{d}/data", "--no-tracker", "--listen",
                     "127.0.0.230:0") as serve:
            port = serve.listen_port()
            serve.wait_for(lambda e: e["event"] == "progress" and e.get("live") == COUNT, f"{COUNT} live", DEADLINE_S)
            s = lt_session("127.0.0.231")
            os.makedirs(f"{d}/down")
            picked = [0, 17, 42, 77, 99]
            handles = {}
            for i in picked:
                h = s.add_torrent({"ti": lt.torrent_info(f"{d}/watch/f{i}.torrent"), "save_path": f"{d}/down"})
                h.connect_peer(("127.0.0.230", port))
                handles[i] = h
            wait_until(s, lambda: all(h.status().is_seeding for h in handles.values()),
                       "libtorrent to download five torrents at once")
            # One more, dropped into the directory while the node runs.
            shutil.move(f"{d}/f{COUNT}.torrent", f"{d}/watch/f{COUNT}.torrent.part")
            os.rename(f"{d}/watch/f{COUNT}.torrent.part", f"{d}/watch/f{COUNT}.torrent")
            serve.wait_for(lambda e: e["event"] == "added" and e["name"] == f"f{COUNT}.bin", "the new one", 30)
            h = s.add_torrent({"ti": lt.torrent_info(f"{d}/watch/f{COUNT}.torrent"), "save_path": f"{d}/down"})
            deadline = time.monotonic() + DEADLINE_S
            # It is live within a second of being added; connect until it answers.
            while not h.status().is_seeding:
                assert time.monotonic() < deadline, "libtorrent did not get the dropped-in torrent"
                h.connect_peer(("127.0.0.230", port))
                lt_alerts(s, 0.5)
            handles[COUNT] = h
            for i, h in handles.items():
                lt_flush(s, h)
                assert filecmp.cmp(f"{d}/data/f{i}.bin", f"{d}/down/f{i}.bin", shallow=False), i
            assert serve.stop() == 0, serve.stderr
            del s


if __name__ == "__main__":
    main([test_libtorrent_downloads_several_of_100_torrents_one_node_seeds])
