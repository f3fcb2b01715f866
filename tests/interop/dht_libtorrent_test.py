"""The Mainline DHT between sta and python3-libtorrent over loopback
(BEP 5): a libtorrent seeder announces a torrent only in the DHT and
`sta get` of a magnet link with nothing but the info-hash finds it there
(again after a restart, from its saved routing table alone);
a torrent only `sta serve` announces in the DHT is found by libtorrent.
Every DHT node is bootstrapped from a libtorrent node on loopback, and
sta's saved routing table holds loopback nodes only. A flood of junk and
a storm of pings from one address are answered within the limits and
counted in the API and /metrics. Run with Debian's /usr/bin/python3."""
import filecmp
import http.client
import json
import os
import random
import socket
import sys

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_flush, lt_session, wait_until  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 120


def dht_session(iface, bootstrap):
    """A libtorrent session with its DHT on, bootstrapped from `bootstrap`
    only, and its one-node-per-IP-range rules off (every node here is on
    127.0.0.0/8)."""
    return lt_session(iface, enable_dht=True, dht_bootstrap_nodes=bootstrap, dht_restrict_routing_ips=False,
                      dht_restrict_search_ips=False, dht_enforce_node_id=False,
                      alert_mask=lt.alert.category_t.status_notification | lt.alert.category_t.error_notification
                      | lt.alert.category_t.dht_notification)


def router(iface):
    """A plain libtorrent DHT node that the others bootstrap from; it
    bootstraps from nothing (a closed port on its own address)."""
    s = dht_session(iface, f"{iface}:9")
    return s, f"{iface}:{s.listen_port()}"


def make_torrent(binary, d, size, seed):
    random_file(f"{d}/seed/payload.bin", size, seed)
    assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-p", "64KiB").code == 0
    info = json.loads(sta(binary, "info", f"{d}/t.torrent", "--json").out)
    return f"{d}/t.torrent", info["info_hash"]


def saved_nodes(state_dir):
    """The addresses in sta's dht.dat (compact IPv4 nodes)."""
    data = open(f"{state_dir}/dht.dat", "rb").read()
    key = b"5:nodes"
    at = data.index(key) + len(key)
    colon = data.index(b":", at)
    n = int(data[at:colon])
    nodes = data[colon + 1:colon + 1 + n]
    return [".".join(str(b) for b in nodes[i + 20:i + 24]) for i in range(0, len(nodes), 26)]


def test_sta_finds_a_libtorrent_seeder_through_the_dht(binary):
    with TempDir() as d:
        torrent, info_hash = make_torrent(binary, d, 3 * 1024 * 1024 + 5, 61)
        r, bootstrap = router("127.0.0.24")
        s = dht_session("127.0.0.25", bootstrap)
        h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": f"{d}/seed"})
        wait_until(s, lambda: h.status().is_seeding, "libtorrent to check its data")
        h.force_dht_announce()
        magnet = f"magnet:?xt=urn:btih:{info_hash}"
        with StaPeer(binary, "get", magnet, "-o", f"{d}/down", "--listen", "127.0.0.26:0", "-e",
                     "--dht-bootstrap", bootstrap) as get:
            assert get.wait(DEADLINE_S) == 0, get.stderr
            assert any(e.get("event") == "metadata" for e in get.events), get.events
            last = get.events[-1]
            assert last["event"] == "complete", last
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)
        dht = [e["dht"] for e in get.events if "dht" in e][-1]
        assert dht["enabled"] and dht["queries_out"]["get_peers"] >= 1 and dht["peers_found"] >= 1, dht
        assert all(s.startswith("127.0.0.26:") for s in dht["sockets"]), dht
        # Its table was saved, and holds the loopback nodes it met only.
        nodes = saved_nodes(f"{d}/down/.sta")
        assert nodes and all(n.startswith("127.") for n in nodes), nodes
        assert "127.0.0.24" in nodes, nodes
        # A restart joins through the saved table: with its one bootstrap
        # address dead, the same state directory still finds the seeder.
        with StaPeer(binary, "get", magnet, "-o", f"{d}/again", "--state-dir", f"{d}/down/.sta", "--listen",
                     "127.0.0.26:0", "-e", "--dht-bootstrap", "127.0.0.26:9") as again:
            assert again.wait(DEADLINE_S) == 0, again.stderr
            assert again.events[-1]["event"] == "complete", again.events[-1]
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/again/payload.bin", shallow=False)


def test_libtorrent_finds_a_torrent_only_sta_serve_announces(binary):
    with TempDir() as d:
        torrent, info_hash = make_torrent(binary, d, 2 * 1024 * 1024 + 7, 62)
        r, bootstrap = router("127.0.0.27")
        with StaPeer(binary, "serve", torrent, "-o", f"{d}/seed", "--listen", "127.0.0.28:0",
                     "--dht-bootstrap", bootstrap) as serve:
            serve.wait_for(lambda e: e.get("dht", {}).get("queries_out", {}).get("announce_peer", 0) >= 1,
                           "sta to announce in the DHT")
            s = dht_session("127.0.0.29", bootstrap)
            params = lt.parse_magnet_uri(f"magnet:?xt=urn:btih:{info_hash}")
            params.save_path = f"{d}/down"
            h = s.add_torrent(params)
            wait_until(s, lambda: h.status().is_seeding, "libtorrent to download from sta")
            lt_flush(s, h)
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def http_get(host, port, path):
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request("GET", path, headers={"Host": f"{host}:{port}"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (path, r.status, body)
    return body


def metric(text, name):
    """The value of one sample of Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name}")


def answers(sock):
    """Every datagram waiting on sock (it has a short timeout)."""
    got = []
    while True:
        try:
            got.append(sock.recv(65536))
        except socket.timeout:
            return got


def test_a_flood_from_one_address_is_answered_within_its_limits(binary):
    with TempDir() as d:
        torrent, _ = make_torrent(binary, d, 100 * 1024, 63)
        with StaPeer(binary, "serve", torrent, "-o", f"{d}/seed", "--listen", "127.0.0.37:0",
                     "--dht-bootstrap", "127.0.0.38:9", "--web", "127.0.0.37:0") as serve:
            port = serve.listen_port()
            before = rss_kib(serve.proc.pid)
            attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            attacker.bind(("127.0.0.39", 0))
            attacker.settimeout(0.5)
            rng = random.Random(7)
            ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"
            for i in range(20000):
                kind = i % 4
                if kind == 0:
                    packet = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 1400)))
                elif kind == 1:
                    packet = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q" + b"x" * 9000 + b"e"
                elif kind == 2:
                    packet = b"d1:ad2:id3:abce1:q9:find_node1:t2:aa1:y1:qe"
                else:
                    packet = ping
                attacker.sendto(packet, ("127.0.0.37", port))
            replies = answers(attacker)
            # Only well-formed pings get answers, a few a second (and the
            # node may ping the stranger once, to see whether it is real).
            responses = [r for r in replies if b"1:y1:r" in r]
            assert all(b"1:y1:r" in r or b"4:ping" in r for r in replies), replies[:3]
            assert 1 <= len(responses) <= 4 * 60, len(responses)
            # The node still answers someone else, and its memory did not grow
            # with the flood.
            other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            other.bind(("127.0.0.40", 0))
            other.settimeout(5)
            other.sendto(ping.replace(b"abcdefghij", b"0123456789"), ("127.0.0.37", port))
            reply = other.recv(65536)
            if b"4:ping" in reply and b"1:y1:q" in reply:  # the node checks the stranger first
                reply = other.recv(65536)
            assert b"1:y1:r" in reply and b"2:ip6:" in reply, reply
            assert rss_kib(serve.proc.pid) - before < 16 * 1024, (before, rss_kib(serve.proc.pid))
            # What the kernel did not drop was read and counted (a UDP flood
            # overflows the socket's buffer; how much does is not ours).
            serve.wait_for(lambda e: e.get("dht", {}).get("malformed", 0) >= 100 and
                           e["dht"]["rate_limited"] >= 10, "the flood to be counted")
            assert serve.proc.poll() is None
            # The API and /metrics show what the node counted.
            web = (serve.events[0] if serve.events else serve.next_event())["web"]
            host, web_port = web.split("//", 1)[1].rstrip("/").rsplit(":", 1)
            dht = json.loads(http_get(host, int(web_port), "/api/v1/dht"))
            assert dht["enabled"] and dht["queries_in"]["ping"] >= 1 and dht["responses_out"] >= 1, dht
            assert dht["malformed"] >= 100 and dht["rate_limited"] >= 10 and dht["sockets"] == [f"127.0.0.37:{port}"], dht
            node = json.loads(http_get(host, int(web_port), "/api/v1/node"))
            assert node["dht"]["enabled"] and node["dht"]["malformed"] >= 100, node["dht"]
            metrics = http_get(host, int(web_port), "/metrics").decode()
            assert metric(metrics, 'sta_dht_queries_total{direction="in",method="ping"}') >= 1, metrics
            assert metric(metrics, 'sta_dht_errors_total{kind="malformed"}') >= 100, metrics
            assert metric(metrics, 'sta_dht_errors_total{kind="rate_limited"}') >= 10, metrics
            assert metric(metrics, 'sta_dht_responses_total{direction="out"}') >= 1, metrics
            attacker.close()
            other.close()


if __name__ == "__main__":
    main([test_sta_finds_a_libtorrent_seeder_through_the_dht,
          test_libtorrent_finds_a_torrent_only_sta_serve_announces,
          test_a_flood_from_one_address_is_answered_within_its_limits])
