"""A node with many small torrents (1,000 by default), all seeding from the
same data, measured in one run for three programs on this machine:
`sta serve` (one process), python3-libtorrent's session, and
transmission-daemon. For each: the time from start until every torrent is
seeding, on a first start (the data is hashed) and a restart (resume
records), the peak RSS, and how long listing every torrent takes (sta:
GET /api/v1/torrents; libtorrent: session.get_torrent_status; Transmission:
RPC torrent-get of the fields a dashboard shows), as the median of 30; and
sta's dashboard in headless Chromium with every torrent on it (when
chromium is installed): time until every row shows, one poll's time, and
the page's main-thread load while it polls. Prints a table and, with
--json, one object.
Usage: /usr/bin/python3 bench/node_many_torrents.py STA [--count 1000] [--json]"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PIECE = 16 * 1024


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode())
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


def make_torrents(work, count):
    os.makedirs(f"{work}/data")
    os.makedirs(f"{work}/torrents")
    paths = []
    for i in range(count):
        data = hashlib.sha256(b"%d" % i).digest() * ((32 * 1024 + 97 * i % 4096) // 32)
        name = f"f{i:04d}.bin"
        with open(f"{work}/data/{name}", "wb") as f:
            f.write(data)
        pieces = b"".join(hashlib.sha1(data[o:o + PIECE]).digest() for o in range(0, len(data), PIECE))
        info = {"name": name, "length": len(data), "piece length": PIECE, "pieces": pieces}
        path = f"{work}/torrents/{name}.torrent"
        with open(path, "wb") as f:
            f.write(bencode({"info": info}))
        paths.append(path)
    return paths


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def median_ms(fn, n=30):
    times = []
    for _ in range(n):
        t = time.monotonic()
        fn()
        times.append((time.monotonic() - t) * 1000)
    return statistics.median(times)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# sta ---------------------------------------------------------------------

def sta_start(sta, work, args, count):
    start = time.monotonic()
    p = subprocess.Popen([sta, "serve", *args, "-o", f"{work}/data", "--no-tracker", "--listen", "127.0.0.250:0",
                          "--web", "127.0.0.1:0", "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    first = json.loads(p.stdout.readline())
    # Asked of the API every 20 ms (the progress lines come once a second).
    # stdout is left to a thread that reads it, so sta never blocks on it.
    threading.Thread(target=p.stdout.read, daemon=True).start()
    host, port = first["web"].split("//")[1].rstrip("/").rsplit(":", 1)
    while True:
        if p.poll() is not None:
            raise SystemExit("sta serve ended early")
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        c.request("GET", "/api/v1/node")
        live = json.loads(c.getresponse().read())["totals"]["live"]
        c.close()
        if live == count:
            return p, time.monotonic() - start, first["web"]
        time.sleep(0.02)


def sta_list(url):
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)

    def get():
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        c.request("GET", "/api/v1/torrents")
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 200 and body.startswith(b"[")
    return get


def page_metrics(url, count):
    """The dashboard with every torrent, in headless Chromium: how long until
    it shows them all, how long one poll takes (a delta, and a full update
    of every row), and how busy the page's main thread is while it polls."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "support"))
    from cdp import CHROMIUM, Browser
    if not os.path.exists(CHROMIUM):
        return None
    rows = "document.querySelectorAll('#torrents tr').length"
    timed_poll = ("(async () => { const t = performance.now(); await poll(); "
                  "return performance.now() - t; })()")
    with Browser() as b:
        b.call("Performance.enable")
        start = time.monotonic()
        b.call("Page.navigate", url=url)
        while b.evaluate(f"{rows} === {count}") is not True:
            if time.monotonic() - start > 120:
                raise SystemExit("the dashboard never showed every torrent")
            time.sleep(0.02)
        shown_ms = (time.monotonic() - start) * 1000

        def evaluate_async(expression):
            r = b.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
            return r["result"]["value"]
        delta = statistics.median(evaluate_async(timed_poll) for _ in range(10))
        full = statistics.median(evaluate_async("rid = 0, " + timed_poll) for _ in range(10))

        def task_seconds():
            return {m["name"]: m["value"] for m in b.call("Performance.getMetrics")["metrics"]}["TaskDuration"]
        t0, w0 = task_seconds(), time.monotonic()
        time.sleep(10)
        busy = (task_seconds() - t0) / (time.monotonic() - w0)
    return {"shown_ms": shown_ms, "poll_ms": delta, "full_poll_ms": full, "busy_pct": busy * 100}


def run_sta(sta, work, torrents):
    out = {}
    p, out["first_start_s"], url = sta_start(sta, work, torrents, len(torrents))
    out["list_ms"] = median_ms(sta_list(url))
    out["page"] = page_metrics(url, len(torrents))
    out["peak_rss_mib"] = peak_rss_mib(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    p, out["restart_s"], url = sta_start(sta, work, [], len(torrents))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    return out


# libtorrent --------------------------------------------------------------

LT_CHILD = r'''
import json, os, sys, time
import libtorrent as lt
work, mode = sys.argv[1], sys.argv[2]
torrents = sorted(os.listdir(f"{work}/torrents"))
s = lt.session({"listen_interfaces": "127.0.0.251:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                "enable_incoming_utp": False, "active_limit": 100000, "active_seeds": 100000,
                "active_checking": 100000,
                "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.storage_notification})
start = time.monotonic()
handles = []
for t in torrents:
    if mode == "restart":
        p = lt.read_resume_data(open(f"{work}/lt-resume/{t}.resume", "rb").read())
        p.save_path = f"{work}/data"
    else:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(f"{work}/torrents/{t}")
        p.save_path = f"{work}/data"
    # Not queued behind libtorrent's auto-manager (a start every second).
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    s.async_add_torrent(p)
deadline = time.monotonic() + float(os.environ.get("LT_DEADLINE", "600"))
while True:
    # Polled: the binding's wait_for_alert can read freed memory under load.
    time.sleep(0.02)
    s.pop_alerts()
    st = s.get_torrent_status(lambda x: True)
    if len(st) == len(torrents) and all(x.is_seeding for x in st):
        break
    if time.monotonic() > deadline:
        states = sorted(set(str(x.state) + ("/paused" if x.paused else "") for x in st))
        sys.exit(f"libtorrent ({mode}): {len(st)} torrents, not all seeding: {states}")
elapsed = time.monotonic() - start
times = []
for _ in range(30):
    t = time.monotonic()
    s.get_torrent_status(lambda x: True)
    times.append((time.monotonic() - t) * 1000)
times.sort()
if mode == "first":
    os.makedirs(f"{work}/lt-resume", exist_ok=True)
    hs = s.get_torrents()
    for h in hs:
        h.save_resume_data(lt.save_resume_flags_t.save_info_dict)
    saved = 0
    while saved < len(hs):
        time.sleep(0.05)
        for a in s.pop_alerts():
            if isinstance(a, lt.save_resume_data_alert):
                name = a.params.ti.name() if a.params.ti else a.handle.torrent_file().name()
                open(f"{work}/lt-resume/{name}.torrent.resume", "wb").write(lt.write_resume_data_buf(a.params))
                saved += 1
rss = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        rss = int(line.split()[1]) / 1024
print(json.dumps({"start_s": elapsed, "list_ms": times[len(times) // 2], "peak_rss_mib": rss}))
'''


def run_libtorrent(work):
    base = subprocess.run(["/usr/bin/python3", "-c", "import libtorrent, sys\n"
                           "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"],
                          capture_output=True, text=True, check=True)
    def child(mode):
        r = subprocess.run(["/usr/bin/python3", "-c", LT_CHILD, work, mode], capture_output=True, text=True,
                           timeout=900)
        if r.returncode != 0:
            raise SystemExit(r.stderr[-2000:])
        return json.loads(r.stdout)
    first = child("first")
    again = child("restart")
    return {"first_start_s": first["start_s"], "restart_s": again["start_s"], "list_ms": first["list_ms"],
            "peak_rss_mib": first["peak_rss_mib"], "interpreter_rss_mib": int(base.stdout) / 1024}


# Transmission ------------------------------------------------------------

class TransmissionRpc:
    FIELDS = ["id", "name", "status", "percentDone", "totalSize", "rateDownload", "rateUpload", "peersConnected",
              "uploadRatio", "eta", "error", "errorString"]

    def __init__(self, port):
        self.port = port
        self.session = ""

    def call(self, method, **args):
        for _ in range(3):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            c.request("POST", "/transmission/rpc", json.dumps({"method": method, "arguments": args}),
                      {"X-Transmission-Session-Id": self.session, "Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
            c.close()
            if r.status == 409:
                self.session = r.getheader("X-Transmission-Session-Id")
                continue
            return json.loads(body)["arguments"]
        raise SystemExit("transmission RPC refused")


def transmission_start(work, rpc_port, torrents, count):
    start = time.monotonic()
    p = subprocess.Popen(["transmission-daemon", "-f", "-g", f"{work}/tr-config", "-w", f"{work}/data"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rpc = TransmissionRpc(rpc_port)
    deadline = time.monotonic() + 120
    while True:
        try:
            rpc.call("session-get")
            break
        except (ConnectionRefusedError, OSError):
            if time.monotonic() > deadline:
                raise SystemExit("transmission-daemon did not start")
            time.sleep(0.05)
    for t in torrents:
        rpc.call("torrent-add", metainfo=base64.b64encode(open(t, "rb").read()).decode(), **{"download-dir": f"{work}/data"})
    deadline = time.monotonic() + float(os.environ.get("TR_DEADLINE", "600"))
    while True:
        got = rpc.call("torrent-get", fields=["status", "percentDone"])["torrents"]
        if len(got) == count and all(t["status"] == 6 and t["percentDone"] == 1 for t in got):
            return p, rpc, time.monotonic() - start
        if time.monotonic() > deadline:
            p.kill()
            raise SystemExit(f"transmission: not all seeding: {sorted(set((t['status'], t['percentDone']) for t in got))}")
        time.sleep(0.1)


def run_transmission(work, torrents):
    if not shutil.which("transmission-daemon"):
        return None
    rpc_port = free_port()
    os.makedirs(f"{work}/tr-config")
    with open(f"{work}/tr-config/settings.json", "w") as f:
        json.dump({"rpc-enabled": True, "rpc-bind-address": "127.0.0.1", "rpc-port": rpc_port,
                   "rpc-authentication-required": False, "rpc-whitelist-enabled": False,
                   "rpc-host-whitelist-enabled": False, "dht-enabled": False, "lpd-enabled": False,
                   "pex-enabled": False, "utp-enabled": False, "port-forwarding-enabled": False,
                   "peer-port": free_port(), "bind-address-ipv4": "127.0.0.252", "bind-address-ipv6": "::1",
                   "download-queue-enabled": False, "seed-queue-enabled": False, "queue-stalled-enabled": False,
                   "ratio-limit-enabled": False, "start-added-torrents": True,
                   "message-level": 0}, f)
    out = {}
    p, rpc, out["first_start_s"] = transmission_start(work, rpc_port, torrents, len(torrents))
    out["list_ms"] = median_ms(lambda: rpc.call("torrent-get", fields=TransmissionRpc.FIELDS))
    out["peak_rss_mib"] = peak_rss_mib(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    p, rpc, out["restart_s"] = transmission_start(work, rpc_port, [], len(torrents))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sta")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sta-bench-many-")
    try:
        torrents = make_torrents(work, args.count)
        results = {"count": args.count, "sta": run_sta(os.path.abspath(args.sta), work, torrents),
                   "libtorrent": run_libtorrent(work), "transmission": run_transmission(work, torrents)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
        return
    print(f"{args.count} torrents          first start   restart   peak RSS   list all (median of 30)")
    for name in ("sta", "libtorrent", "transmission"):
        r = results[name]
        if r is None:
            print(f"{name:22} (not installed)")
            continue
        print(f"{name:22} {r['first_start_s']:8.2f} s {r['restart_s']:8.2f} s {r['peak_rss_mib']:7.1f} MiB "
              f"{r['list_ms']:8.2f} ms")
    lt_base = results["libtorrent"]["interpreter_rss_mib"]
    print(f"(libtorrent's RSS includes its Python interpreter: {lt_base:.1f} MiB with the module loaded)")
    page = results["sta"]["page"]
    if page:
        print(f"sta's dashboard with {args.count} torrents (headless Chromium): every row shown "
              f"{page['shown_ms']:.0f} ms after navigating; one poll (fetch + update) {page['poll_ms']:.1f} ms, "
              f"a full update of every row {page['full_poll_ms']:.1f} ms; main thread busy "
              f"{page['busy_pct']:.1f}% while polling once a second")


if __name__ == "__main__":
    sys.exit(main())
