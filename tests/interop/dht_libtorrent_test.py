"""The Mainline DHT between sta and python3-libtorrent over loopback
(BEP 5): a libtorrent seeder announces a torrent only in the DHT and
`sta get` of a magnet link with nothing but the info-hash finds it there;
a torrent only `sta serve` announces in the DHT is found by libtorrent.
Every DHT node is bootstrapped from a libtorrent node on loopback, and
sta's saved routing table holds loopback nodes only. Run with Debian's
/usr/bin/python3."""
import filecmp
import json
import os
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


if __name__ == "__main__":
    main([test_sta_finds_a_libtorrent_seeder_through_the_dht,
          test_libtorrent_finds_a_torrent_only_sta_serve_announces])
