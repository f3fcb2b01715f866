"""Runs `sta get` or `sta serve` with --json for a test, reads its progress
lines, and stops it (SIGTERM, or SIGKILL for crash tests)."""
import json
import signal
import subprocess
import time

from sta_test import loopback_only


class StaPeer:
    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, *loopback_only(args), "--json"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events = []
        self.stderr = ""  # what it printed there, once it has ended

    def next_event(self, timeout_s=120):
        """The next JSON line; raises if the process ends or the bound passes."""
        deadline = time.monotonic() + timeout_s
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise AssertionError(f"sta exited {self.proc.returncode}: {self.proc.stderr.read()!r}")
        if time.monotonic() > deadline:
            raise AssertionError("no progress line in time")
        event = json.loads(line)
        self.events.append(event)
        return event

    def wait_for(self, predicate, what, timeout_s=120):
        deadline = time.monotonic() + timeout_s
        while True:
            e = self.next_event(timeout_s)
            if predicate(e):
                return e
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last: {e}")

    def listen_port(self):
        first = self.events[0] if self.events else self.next_event()
        return int(first["listen"][0].rsplit(":", 1)[1])

    def wait(self, timeout_s=120):
        """Exit code; the remaining progress lines are kept."""
        out, self.stderr = self.proc.communicate(timeout=timeout_s)
        self.events.extend(json.loads(line) for line in out.splitlines() if line.strip())
        return self.proc.returncode

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                out, self.stderr = self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, self.stderr = self.proc.communicate()
            self.events.extend(json.loads(line) for line in out.splitlines() if line.strip())
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop(signal.SIGKILL)
