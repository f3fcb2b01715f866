"""One seeder -> one downloader over loopback, the same torrent (1 GiB,
1 MiB pieces by default) moved twice in one run: `sta serve` -> `sta get`,
and a python3-libtorrent seeder -> a libtorrent downloader. Prints both
wall times and their ratio as JSON. Both downloads start from an empty
directory with the seed's data in the page cache.
Usage: /usr/bin/python3 bench/swarm_vs_libtorrent.py STA [--mib N] [--rounds R]"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import libtorrent as lt


def lt_session(iface):
    return lt.session({
        "listen_interfaces": f"{iface}:0", "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.status_notification,
    })


def wait(session, cond, what, limit=600):
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        session.wait_for_alert(50)
        session.pop_alerts()


def run_libtorrent(work, torrent):
    seeder, leecher = lt_session("127.0.0.111"), lt_session("127.0.0.112")
    hs = seeder.add_torrent({"ti": lt.torrent_info(torrent), "save_path": f"{work}/seed"})
    wait(seeder, lambda: hs.status().is_seeding, "the libtorrent seeder to check")
    down = f"{work}/lt-down"
    os.mkdir(down)
    start = time.monotonic()
    hl = leecher.add_torrent({"ti": lt.torrent_info(torrent), "save_path": down})
    hl.connect_peer(("127.0.0.111", seeder.listen_port()))
    wait(leecher, lambda: hl.status().is_seeding, "the libtorrent download")
    elapsed = time.monotonic() - start
    del seeder, leecher
    shutil.rmtree(down)
    return elapsed


def run_sta(sta, work, torrent):
    serve = subprocess.Popen([sta, "serve", torrent, f"{work}/seed", "--no-tracker", "--listen", "127.0.0.113:0",
                              "--json"], stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(serve.stdout.readline())
        port = first["listen"][0].rsplit(":", 1)[1]
        down = f"{work}/sta-down"
        start = time.monotonic()
        subprocess.run([sta, "get", torrent, "-o", down, "--no-tracker", "--peer", f"127.0.0.113:{port}",
                        "--listen", "127.0.0.114:0", "-e"], check=True, stdout=subprocess.DEVNULL)
        elapsed = time.monotonic() - start
        shutil.rmtree(down)
        return elapsed
    finally:
        serve.terminate()
        serve.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sta")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sta = os.path.abspath(args.sta)
    work = tempfile.mkdtemp(prefix="sta-bench-")
    try:
        os.mkdir(f"{work}/seed")
        with open(f"{work}/seed/data.bin", "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        torrent = f"{work}/t.torrent"
        subprocess.run([sta, "create", f"{work}/seed/data.bin", "-p", "1MiB", "-o", torrent], check=True)
        sta_times, lt_times = [], []
        for _ in range(args.rounds):  # alternate, so drift hits both alike
            sta_times.append(run_sta(sta, work, torrent))
            lt_times.append(run_libtorrent(work, torrent))
        sta_best, lt_best = min(sta_times), min(lt_times)
        size = args.mib << 20
        print(json.dumps({
            "bytes": size,
            "sta_seconds": sta_times, "libtorrent_seconds": lt_times,
            "sta_bytes_per_sec": size / sta_best, "libtorrent_bytes_per_sec": size / lt_best,
            "speedup_vs_libtorrent": lt_best / sta_best,
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
