"""Helpers shared by the Python tests that drive the sta binary.

Each test script takes the path of `sta` as its first argument, makes its
own temporary directory and removes it (and any process it started) when it
ends. A failed check raises AssertionError; the script exits non-zero.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile


class Run:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def text(self):
        return self.out.decode("utf-8", "replace")


def loopback_only(args):
    """The arguments of a `sta get`/`sta serve` run with the DHT off unless
    the test bootstraps it itself: its default, the public routers, is for
    users, and tests never send a packet off loopback."""
    args = [str(a) for a in args]
    if args and args[0] in ("get", "serve") and not {"--no-dht", "--dht-bootstrap", "--help"} & set(args):
        args.append("--no-dht")
    return args


def sta(binary, *args, stdin=None):
    proc = subprocess.run([binary, *loopback_only(args)], input=stdin, capture_output=True, timeout=120)
    return Run(proc)


def expect_one_error_line(run, code, contains=""):
    """sta failed with one 'sta: ...' line on stderr and nothing worse."""
    err = run.err.decode("utf-8", "replace")
    assert run.code == code, f"exit {run.code}, want {code}; stderr: {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sta: "), f"stderr: {err!r}"
    assert contains in lines[0], f"{contains!r} not in {lines[0]!r}"


def random_file(path, size, seed):
    rng = random.Random(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))


def pack_torrent(binary, d, files, piece="64KiB"):
    """A multi-file torrent d/pack.torrent of d/data/pack/NAME for each
    NAME: (size, seed) in `files`, in that order; its path."""
    for name, (size, seed) in files.items():
        random_file(f"{d}/data/pack/{name}", size, seed)
    assert sta(binary, "create", f"{d}/data/pack", "-p", piece, "-o", f"{d}/pack.torrent").code == 0
    return f"{d}/pack.torrent"


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="sta-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def main(tests):
    """Runs each test function with the sta path; prints a summary line. A
    test that cannot run here returns the reason as a string (SKIP)."""
    binary = os.path.abspath(sys.argv[1])
    failed = 0
    for t in tests:
        try:
            skipped = t(binary)
            print(f"SKIP {t.__name__}: {skipped}" if isinstance(skipped, str) else f"PASS {t.__name__}")
        except Exception as e:  # report every failing test, not just the first
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
