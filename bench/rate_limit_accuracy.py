"""How close `sta get -d RATE` and `sta serve -u RATE` stay to RATE over
10 s of a loopback transfer between two sta processes, for several rates.
Prints one JSON object per rate and direction: the rate asked for, the rate
measured from sta's own progress lines (payload bytes over >= 10 s, starting
1 s after the first byte), and their ratio. A rate the machine cannot reach
shows as a ratio well below 1: that is the machine's limit, not the limiter's.
Usage: python3 bench/rate_limit_accuracy.py STA [--rates 1MiB,20MiB,100MiB]"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

MIB = 1024 * 1024
UNITS = {"KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB}


def parse_rate(text):
    for unit, scale in UNITS.items():
        if text.endswith(unit):
            return int(float(text[:-len(unit)]) * scale)
    return int(text)


def start(sta, *args):
    return subprocess.Popen([sta, *args, "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def measured(proc, field):
    first = start_line = None
    for line in proc.stdout:
        e = json.loads(line)
        if first is None:
            if e[field] > 0:
                first = e
        elif start_line is None:
            if e["elapsed"] >= first["elapsed"] + 1:
                start_line = e
        elif e["elapsed"] >= start_line["elapsed"] + 10:
            return (e[field] - start_line[field]) / (e["elapsed"] - start_line["elapsed"])
    raise SystemExit(f"sta ended before 11 s of {field}")


def one(sta, work, rate, direction):
    size_mib = max(16, rate * 13 // MIB)
    data = f"{work}/src/data.bin"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(f"{work}/src")
    with open(data, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(MIB))
    subprocess.run([sta, "create", data, "-o", f"{work}/t.torrent", "-p", "1MiB"], check=True, capture_output=True)
    limit_serve = ["-u", str(rate)] if direction == "upload" else []
    limit_get = ["-d", str(rate)] if direction == "download" else []
    serve = start(sta, "serve", f"{work}/t.torrent", f"{work}/src", "--no-tracker", "--listen", "127.0.0.121:0",
                  *limit_serve)
    try:
        port = json.loads(serve.stdout.readline())["listen"][0].rsplit(":", 1)[1]
        get = start(sta, "get", f"{work}/t.torrent", "-o", f"{work}/down", "--no-tracker", "--listen",
                    "127.0.0.122:0", "--peer", f"127.0.0.121:{port}", *limit_get)
        try:
            got = measured(serve if direction == "upload" else get, "uploaded" if direction == "upload" else "downloaded")
        finally:
            get.kill()
            get.wait()
    finally:
        serve.kill()
        serve.wait()
    return {"direction": direction, "limit": rate, "measured": round(got), "ratio": round(got / rate, 4)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sta")
    ap.add_argument("--rates", default="1MiB,20MiB,100MiB")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sta-rate-")
    try:
        for text in args.rates.split(","):
            for direction in ("download", "upload"):
                print(json.dumps(one(os.path.abspath(args.sta), f"{work}/run", parse_rate(text), direction)),
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
