"""Starts `sta tracker` on a free loopback port for a test and stops it."""
import re
import subprocess


class Tracker:
    def __init__(self, binary, *extra):
        self.proc = subprocess.Popen([binary, "tracker", "--listen", "127.0.0.1:0", "--threads", "2", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"announce (http://\S+/announce), (?:(udp://\S+/announce), )?dashboard (http://\S+/)", line)
        if not m:
            self.stop()
            raise AssertionError(f"tracker did not start: {line!r} {self.proc.stderr.read()!r}")
        self.announce_url = m.group(1)
        self.udp_url = m.group(2)  # None with --no-udp
        self.base_url = m.group(3)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
