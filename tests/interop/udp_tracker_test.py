"""UDP trackers (BEP 15) for real: `sta serve` and `sta get` meet through
Debian's opentracker over UDP only (it is started here, on loopback, with
the torrent in its whitelist), and the download completes byte-exact.
Skipped (77) where opentracker is not installed."""
import filecmp
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 120
TRACKER_IP = "127.0.0.53"


def free_port(ip):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        u.bind((ip, 0))
        port = u.getsockname()[1]
        t.bind((ip, port))
        return port


class OpenTracker:
    def __init__(self, d, info_hash):
        os.makedirs(f"{d}/ot", exist_ok=True)
        with open(f"{d}/ot/whitelist", "w") as f:
            f.write(info_hash + "\n")
        self.port = free_port(TRACKER_IP)
        args = ["opentracker", "-i", TRACKER_IP, "-p", str(self.port), "-P", str(self.port), "-w", "whitelist"]
        if os.getuid() == 0:
            args += ["-d", f"{d}/ot", "-u", "nobody"]
            os.chmod(f"{d}/ot", 0o755)
        self.proc = subprocess.Popen(args, cwd=f"{d}/ot", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:  # until it listens (its TCP port stands for both)
            try:
                socket.create_connection((TRACKER_IP, self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError("opentracker did not start")
                time.sleep(0.05)  # waiting for a server to listen, not synchronising a test

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def test_sta_get_finds_sta_serve_through_opentracker_over_udp(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/payload.bin", 4 * 1024 * 1024 + 3, 53)
        # The info-hash (for the whitelist) does not depend on the trackers.
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent").code == 0
        info_hash = json.loads(sta(binary, "info", f"{d}/t.torrent", "--json").out)["info_hash"]
        with OpenTracker(d, info_hash) as tracker:
            assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-a",
                       f"udp://{TRACKER_IP}:{tracker.port}/announce").code == 0
            with StaPeer(binary, "serve", f"{d}/t.torrent", "-o", f"{d}/seed", "--listen", "127.0.0.54:0") as serve:
                serve.wait_for(lambda e: e.get("tracker", "").startswith("tracker ok"), "the seeder's UDP announce")
                with StaPeer(binary, "get", f"{d}/t.torrent", "-o", f"{d}/down", "--listen", "127.0.0.55:0",
                             "-e") as get:
                    assert get.wait(DEADLINE_S) == 0, get.stderr
                    assert get.events[-1]["event"] == "complete"
                    assert any(e.get("tracker", "").startswith("tracker ok") for e in get.events), get.events
                    # Per tracker in every line: its URL, tier and last outcome.
                    t = get.events[-1]["trackers"]
                    assert len(t) == 1 and t[0]["url"].startswith("udp://") and t[0]["last"].startswith("ok"), t
                serve.stop()
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)


if __name__ == "__main__":
    if shutil.which("opentracker") is None:
        print("skipped: opentracker is not installed")
        sys.exit(77)
    main([test_sta_get_finds_sta_serve_through_opentracker_over_udp])
