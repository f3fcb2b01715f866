"""`sta tracker` against clients that try to hurt other people's swarms:
removing or redirecting a peer from another address, one address filling a
swarm, a flood of random info-hashes from many addresses (real swarms stay
announceable, the swarm count stays at its cap and memory stays bounded),
and a client that holds more connections than it may. Every client binds
its own address in 127.0.3.0/24. Run with the sta binary as the only
argument."""
import hashlib
import http.client
import json
import os
import random
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_test import main  # noqa: E402
from sta_tracker import Tracker  # noqa: E402


class Client:
    """Keep-alive HTTP requests to the tracker from one local address."""

    def __init__(self, tracker, source):
        url = urllib.parse.urlparse(tracker.announce_url)
        self.host, self.port = url.hostname, url.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10, source_address=(source, 0))

    def get(self, path):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        return r.read()

    def announce(self, info_hash, peer_id, port=6881, left=100, event="", **extra):
        query = urllib.parse.urlencode({"info_hash": info_hash, "peer_id": peer_id, "port": port, "uploaded": 0,
                                        "downloaded": 0, "left": left, "event": event, **extra})
        return self.get(f"/announce?{query}")

    def close(self):
        self.conn.close()


def scrape(client, info_hash):
    body = client.get("/scrape?" + urllib.parse.urlencode({"info_hash": info_hash}))
    # d5:filesd20:<hash>d8:completei..e10:downloadedi..e10:incompletei..eeee
    def number(key):
        at = body.index(key) + len(key) + 1
        return int(body[at:body.index(b"e", at)])
    return number(b"8:complete"), number(b"10:incomplete")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_another_address_cannot_remove_or_redirect_a_peer(binary):
    with Tracker(binary) as tracker:
        ih = hashlib.sha1(b"victim").digest()
        victim = Client(tracker, "127.0.3.1")
        attacker = Client(tracker, "127.0.3.2")
        assert b"failure" not in victim.announce(ih, b"V" * 20, port=7001)
        assert b"failure" not in attacker.announce(ih, b"V" * 20, event="stopped")
        assert b"failure" not in attacker.announce(ih, b"V" * 20, port=9999, left=0)
        assert scrape(victim, ih) == (0, 1)
        # The peer list a third party gets still points at the victim.
        other = Client(tracker, "127.0.3.3")
        body = other.announce(ih, b"O" * 20, port=7003)
        assert b"\x7f\x00\x03\x01\x1b\x59" in body, body  # 127.0.3.1:7001, compact
        assert b"\x27\x0f" not in body, body  # port 9999 nowhere
        stats = json.loads(other.get("/api/stats"))
        assert stats["ignored"] == 2, stats
        # Peer ids are not handed out unless asked for.
        assert b"V" * 20 not in other.announce(ih, b"O" * 20, port=7003, compact=0)
        assert b"V" * 20 in other.announce(ih, b"O" * 20, port=7003, compact=0, no_peer_id=0)
        # Its own address removes it.
        assert b"failure" not in victim.announce(ih, b"V" * 20, event="stopped")
        assert scrape(victim, ih) == (0, 1)
        for c in (victim, attacker, other):
            c.close()


def test_one_address_cannot_fill_a_swarm(binary):
    with Tracker(binary, "--max-peers-per-ip", "4") as tracker:
        ih = hashlib.sha1(b"crowded").digest()
        c = Client(tracker, "127.0.3.4")
        for i in range(4):
            assert b"failure" not in c.announce(ih, b"%020d" % i)
        assert b"too many peers from your address" in c.announce(ih, b"%020d" % 4)
        assert b"failure" not in Client(tracker, "127.0.3.5").announce(ih, b"%020d" % 5)
        assert scrape(c, ih) == (0, 5)


def test_a_random_info_hash_flood_leaves_real_swarms_alone(binary):
    cap = 400
    with Tracker(binary, "--max-swarms", str(cap), "--max-new-swarms-per-ip", "30") as tracker:
        real = hashlib.sha1(b"real torrent").digest()
        seeder = Client(tracker, "127.0.3.6")
        assert b"failure" not in seeder.announce(real, b"S" * 20, left=0)
        before = rss_kib(tracker.proc.pid)
        rng = random.Random(5)
        refused = {b"too many new torrents": 0, b"tracker is full": 0}
        for a in range(40):  # 40 addresses x 50 random info-hashes
            flood = Client(tracker, f"127.0.3.{100 + a}")
            for _ in range(50):
                body = flood.announce(rng.randbytes(20), rng.randbytes(20))
                for reason in refused:
                    refused[reason] += reason in body
            flood.close()
        stats = json.loads(seeder.get("/api/stats"))
        assert stats["swarms"] == cap, stats
        # Each address may add 30 a minute (a minute that turns during the
        # flood gives one address 30 more); what got past that filled the
        # tracker and then was refused.
        assert refused[b"too many new torrents"] >= 40 * 20 - 30, refused
        assert 40 * 50 - sum(refused.values()) == cap - 1, refused
        assert refused[b"tracker is full"] > 0, refused
        # The real swarm goes on: its seeder announces, a leecher joins it.
        assert b"failure" not in seeder.announce(real, b"S" * 20, left=0)
        leecher = Client(tracker, "127.0.3.7")
        body = leecher.announce(real, b"L" * 20)
        assert b"failure" not in body and b"\x7f\x00\x03\x06" in body, body
        assert scrape(leecher, real) == (1, 1)
        assert rss_kib(tracker.proc.pid) - before < 8 * 1024, (before, rss_kib(tracker.proc.pid))


def test_connections_per_address_are_capped(binary):
    with Tracker(binary, "--max-connections-per-ip", "3") as tracker:
        held = [Client(tracker, "127.0.3.8") for _ in range(3)]
        for c in held:
            assert b"interval" in c.announce(hashlib.sha1(b"c").digest(), b"C" * 20)
        extra = Client(tracker, "127.0.3.8")
        try:
            extra.announce(hashlib.sha1(b"c").digest(), b"D" * 20)
            raise AssertionError("a fourth connection from one address was served")
        except (ConnectionError, http.client.HTTPException):
            pass
        assert b"interval" in Client(tracker, "127.0.3.9").announce(hashlib.sha1(b"c").digest(), b"E" * 20)
        metrics = Client(tracker, "127.0.3.9").get("/metrics").decode()
        assert "sta_tracker_connections_refused_total 1" in metrics, metrics
        for c in held:
            c.close()


if __name__ == "__main__":
    main([test_another_address_cannot_remove_or_redirect_a_peer, test_one_address_cannot_fill_a_swarm,
          test_a_random_info_hash_flood_leaves_real_swarms_alone, test_connections_per_address_are_capped])
