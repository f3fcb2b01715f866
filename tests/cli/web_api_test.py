"""`sta serve --web` and `sta get --web`: every endpoint of the JSON API
(/api/v1/...), /metrics, and the guards: the Host check against DNS
rebinding, the access token (bearer or cookie), the CSRF header and Origin
check on requests that change state, and bad input (unknown or malformed
info-hash, a malformed or oversized .torrent) answered with a 4xx and a JSON
error while the node goes on. Run with the sta binary as the only argument."""
import http.client
import json
import os
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, pack_torrent, random_file, sta  # noqa: E402

DEADLINE_S = 120


class Web:
    """Requests to the node's web server; each returns (status, headers, body)."""

    def __init__(self, url):
        hostport = url.split("//", 1)[1].rstrip("/")
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.hostport = hostport

    def request(self, method, path, body=None, headers=None, host=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        h = {"Host": host or self.hostport}
        if method not in ("GET", "HEAD"):
            h["X-Sta-Request"] = "1"
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def json(self, method, path, body=None, headers=None, want=200):
        status, _, data = self.request(method, path, body, headers)
        assert status == want, (method, path, status, data)
        return json.loads(data)


def make(binary, d, name, size, seed, *extra):
    random_file(f"{d}/data/{name}", size, seed)
    assert sta(binary, "create", f"{d}/data/{name}", "-p", "16KiB", "-o", f"{d}/{name}.torrent", *extra).code == 0
    return f"{d}/{name}.torrent"


def serve_with_web(binary, d, torrents, ip, *extra):
    return StaPeer(binary, "serve", *torrents, "-o", f"{d}/data", "--no-tracker", "--listen", f"{ip}:0", "--web",
                   "127.0.0.1:0", *extra)


def first_line(peer):
    return peer.events[0] if peer.events else peer.next_event()


def test_every_endpoint(binary):
    with TempDir() as d:
        a = make(binary, d, 'we"ird\\name.bin', 300 * 1024, 1, "-a", "http://127.0.0.1:9/announce")
        b = make(binary, d, "b.bin", 2 * 1024 * 1024, 2)
        with serve_with_web(binary, d, [a, b], "127.0.0.232") as serve:
            web = Web(first_line(serve)["web"])
            port = int(first_line(serve)["listen"][0].rsplit(":", 1)[1])
            serve.wait_for(lambda e: e["event"] == "progress" and e.get("live") == 2, "both live", DEADLINE_S)
            node = web.json("GET", "/api/v1/node")
            assert node["totals"]["torrents"] == 2 and node["listen"] == [f"127.0.0.232:{port}"], node
            listed = web.json("GET", "/api/v1/torrents")
            by_name = {t["name"]: t for t in listed}
            assert set(by_name) == {'we"ird\\name.bin', "b.bin"}, listed
            ha, hb = by_name['we"ird\\name.bin']["info_hash"], by_name["b.bin"]["info_hash"]
            one = web.json("GET", f"/api/v1/torrents/{hb}")
            assert one["state"] == "live" and one["complete"] and one["progress"] == 1, one
            files = web.json("GET", f"/api/v1/torrents/{hb}/files")
            assert files == [{"index": 0, "path": "b.bin", "size": 2 * 1024 * 1024, "verified": 2 * 1024 * 1024,
                              "selected": True}], files
            # A seeded torrent serves every file: no selection.
            assert "download mode" in web.json("POST", f"/api/v1/torrents/{hb}/files", json.dumps({"selected": [0]}),
                                               want=400)["error"]
            pieces = web.json("GET", f"/api/v1/torrents/{hb}/pieces")
            assert pieces["count"] == 128 and pieces["state"] == "2" * 128 and len(pieces["availability"]) == 128
            trackers = web.json("GET", f"/api/v1/torrents/{ha}/trackers")
            assert trackers == [{"url": "http://127.0.0.1:9/announce", "tier": 0, "last": "not used (--no-tracker)",
                                 "peers": 0}], trackers
            # A slow downloader is a peer of b for a while.
            with StaPeer(binary, "get", b, "-o", f"{d}/down", "--no-tracker", "--listen", "127.0.0.233:0", "--peer",
                         f"127.0.0.232:{port}", "-d", "64k") as get:
                get.wait_for(lambda e: e.get("downloaded", 0) > 0, "the download to start", DEADLINE_S)
                peers = web.json("GET", f"/api/v1/torrents/{hb}/peers")
                assert len(peers) == 1 and peers[0]["address"].startswith("127.0.0.233:"), peers
                assert peers[0]["client"] == "sta/0.1.0" and not peers[0]["outgoing"], peers
            # Sync: a full update, then only what changed.
            full = web.json("GET", "/api/v1/sync?rid=0")
            assert full["full_update"] and set(full["torrents"]) == {ha, hb}, full
            delta = web.json("GET", f"/api/v1/sync?rid={full['rid']}")
            assert not delta["full_update"] and delta["rid"] > full["rid"], delta
            assert all("name" not in t for t in delta["torrents"].values()), delta
            # Pause, a second pause (refused with the state), resume.
            assert web.json("POST", f"/api/v1/torrents/{ha}/pause")["state"] == "paused"
            refused = web.json("POST", f"/api/v1/torrents/{ha}/pause", want=409)
            assert refused["state"] == "paused", refused
            assert web.json("GET", f"/api/v1/sync?rid={delta['rid']}")["torrents"][ha]["state"] == "paused"
            assert web.json("POST", f"/api/v1/torrents/{ha}/resume")["state"] in ("queued", "live")
            # Its own rate limits, set while it runs; a field left out keeps its value.
            t = web.json("POST", f"/api/v1/torrents/{hb}/limits", json.dumps({"upload_rate": 65536}))
            assert t["upload_limit"] == 65536 and t["download_limit"] == 0, t
            t = web.json("POST", f"/api/v1/torrents/{hb}/limits", json.dumps({"download_rate": 1 << 20}))
            assert t["upload_limit"] == 65536 and t["download_limit"] == 1 << 20, t
            assert web.json("GET", f"/api/v1/torrents/{hb}")["upload_limit"] == 65536
            for bad in ("[1]", "{", json.dumps({"upload_rate": -1}), json.dumps({"upload_rate": "fast"}),
                        json.dumps({"max_peers": 0}), json.dumps({"max_peers": 70000})):
                assert "error" in web.json("POST", f"/api/v1/torrents/{hb}/limits", bad, want=400)
            # Its peer cap too.
            assert one["max_peers"] == 200, one
            t = web.json("POST", f"/api/v1/torrents/{hb}/limits", json.dumps({"max_peers": 7}))
            assert t["max_peers"] == 7 and t["upload_limit"] == 65536, t
            # Add from bytes; twice is a conflict.
            c = make(binary, d, "c.bin", 100 * 1024, 3)
            body = open(c, "rb").read()
            added = web.json("POST", "/api/v1/torrents", body, want=201)
            assert added["name"] == "c.bin", added
            hc = added["info_hash"]
            assert "already" in web.json("POST", "/api/v1/torrents", body, want=409)["error"]
            serve.wait_for(lambda e: e["event"] == "added" and e["name"] == "c.bin", "the CLI to see it", DEADLINE_S)
            # Remove with its data.
            assert web.json("DELETE", f"/api/v1/torrents/{hc}?with_data=1") == {"removed": hc}
            serve.wait_for(lambda e: e["event"] == "removed" and e["name"] == "c.bin", "removed", DEADLINE_S)
            assert not os.path.exists(f"{d}/data/c.bin")
            assert web.json("GET", f"/api/v1/torrents/{hc}", want=404)["error"]
            # Metrics: per-torrent series with the name escaped.
            status, headers, text = web.request("GET", "/metrics")
            text = text.decode()
            assert status == 200 and headers["Content-Type"].startswith("text/plain"), headers
            assert 'sta_torrents{state="live"} 2' in text, text
            assert 'name="we\\"ird\\\\name.bin"' in text, text
            assert f'sta_torrent_uploaded_bytes_total{{info_hash="{hb}",name="b.bin"}}' in text
            # Disk and reactors: the download read b's blocks from disk, every read was timed.
            read = re.search(r"^sta_disk_read_bytes_total (\d+)$", text, re.M)
            assert read and int(read.group(1)) > 0, text
            count = re.search(r"^sta_disk_read_seconds_count (\d+)$", text, re.M)
            assert count and int(count.group(1)) > 0, text
            assert f'sta_disk_read_seconds_bucket{{le="+Inf"}} {count.group(1)}' in text, text
            assert re.search(r'^sta_reactor_cpu_seconds_total\{reactor="0"\} [0-9.e-]+$', text, re.M), text
            # Registered memory: this node only serves, so it wrote nothing and pinned nothing.
            assert re.search(r"^sta_disk_fixed_ops_total 0$", text, re.M), text
            assert re.search(r"^sta_registered_bytes 0$", text, re.M), text
            assert re.search(f'^sta_torrent_disk_read_bytes_total{{info_hash="{hb}",name="b.bin"}} [1-9]', text, re.M)
            # The dashboard page itself.
            status, headers, page = web.request("GET", "/")
            assert status == 200 and b"<canvas id=\"graph\"" in page and b"http" not in page.split(b"<script>")[0][-200:]
            assert serve.stop() == 0, serve.stderr


def test_bad_input_is_a_4xx_with_a_json_error_and_the_node_goes_on(binary):
    with TempDir() as d:
        a = make(binary, d, "a.bin", 64 * 1024, 4)
        with serve_with_web(binary, d, [a], "127.0.0.234") as serve:
            web = Web(first_line(serve)["web"])
            cases = [
                ("GET", "/api/v1/torrents/" + "ab" * 20, None, 404),
                ("GET", "/api/v1/torrents/xyz", None, 400),
                ("DELETE", "/api/v1/torrents/" + "cd" * 20, None, 404),
                ("POST", "/api/v1/torrents", b"not bencode", 400),
                ("POST", "/api/v1/torrents", b"d4:infod4:name1:xee", 400),
                ("GET", "/api/v1/nothing", None, 404),
                ("PUT", "/api/v1/node", b"{}", 405),
            ]
            for method, path, body, want in cases:
                status, headers, data = web.request(method, path, body)
                assert status == want, (method, path, status, data[:200])
                assert "error" in json.loads(data), data[:200]
            # An oversized body is refused from its Content-Length, before it is sent.
            with socket.create_connection((web.host, web.port), timeout=10) as s:
                s.sendall(f"POST /api/v1/torrents HTTP/1.1\r\nHost: {web.hostport}\r\nX-Sta-Request: 1\r\n"
                          f"Content-Length: {17 * 1024 * 1024}\r\n\r\n".encode())
                answer = b""
                while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 413"), answer
            assert b'"error"' in answer, answer
            assert web.json("GET", "/api/v1/node")["totals"]["torrents"] == 1
            assert serve.stop() == 0


def test_host_csrf_and_token_guards(binary):
    with TempDir() as d:
        a = make(binary, d, "a.bin", 64 * 1024, 5)
        with serve_with_web(binary, d, [a], "127.0.0.235") as serve:
            web = Web(first_line(serve)["web"])
            h = web.json("GET", "/api/v1/torrents")[0]["info_hash"]
            # DNS rebinding: a name that is not this server.
            status, _, _ = web.request("GET", "/api/v1/node", host=f"evil.example:{web.port}")
            assert status == 403
            assert web.request("GET", "/api/v1/node", host=f"localhost:{web.port}")[0] == 200
            # CSRF: no X-Sta-Request header, or another site's Origin.
            c = http.client.HTTPConnection(web.host, web.port, timeout=10)
            c.request("POST", f"/api/v1/torrents/{h}/pause", headers={"Host": web.hostport})
            assert c.getresponse().status == 403
            status, _, _ = web.request("POST", f"/api/v1/torrents/{h}/pause", headers={"Origin": "http://evil.example"})
            assert status == 403
            assert web.json("GET", f"/api/v1/torrents/{h}")["state"] == "live"
            status, _, _ = web.request("POST", f"/api/v1/torrents/{h}/pause", headers={"Origin": f"http://{web.hostport}"})
            assert status == 200
            assert serve.stop() == 0
        token = "k3y-" + "9" * 28
        with open(f"{d}/token", "w") as f:
            f.write(token + "\n")
        with serve_with_web(binary, d, [a], "127.0.0.236", "--web-token", f"{d}/token") as serve:
            web = Web(first_line(serve)["web"])
            assert web.request("GET", "/api/v1/node")[0] == 401
            assert web.request("GET", "/api/v1/node", headers={"Authorization": "Bearer wrong-" + "0" * 27})[0] == 401
            assert web.request("GET", "/api/v1/node", headers={"Authorization": f"Bearer {token}"})[0] == 200
            status, headers, _ = web.request("GET", f"/?token={token}")
            assert status == 303 and headers["Location"] == "/", (status, headers)
            cookie = headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
            assert web.request("GET", "/api/v1/node", headers={"Cookie": cookie.split(";")[0]})[0] == 200
            assert web.request("GET", "/")[0] == 401
            assert serve.stop() == 0
        with open(f"{d}/short", "w") as f:
            f.write("short\n")
        run = sta(binary, "serve", a, "-o", f"{d}/data", "--no-tracker", "--web", "127.0.0.1:0", "--web-token",
                  f"{d}/short")
        assert run.code == 2 and b"at least 16" in run.err, run.err


def test_file_selection_changes_while_it_runs(binary):
    with TempDir() as d:
        pack = pack_torrent(binary, d, {"one.bin": (300 * 1024 + 5, 7), "two.bin": (200 * 1024 + 9, 8)})
        with StaPeer(binary, "serve", pack, "-o", f"{d}/data", "--no-tracker", "--listen", "127.0.0.209:0") as serve:
            port = serve.listen_port()
            with StaPeer(binary, "get", pack, "-o", f"{d}/down", "--no-tracker", "--listen",
                         "127.0.0.210:0", "--peer", f"127.0.0.209:{port}", "--select", "0", "--web",
                         "127.0.0.1:0") as get:
                web = Web(first_line(get)["web"])
                get.wait_for(lambda e: e["event"] == "complete", "one.bin complete", DEADLINE_S)
                h = web.json("GET", "/api/v1/torrents")[0]["info_hash"]
                files = web.json("GET", f"/api/v1/torrents/{h}/files")
                assert [(f["index"], f["selected"]) for f in files] == [(0, True), (1, False)], files
                assert not os.path.exists(f"{d}/down/pack/two.bin")
                for bad, why in ((json.dumps({"selected": [2]}), "indices"), (json.dumps({"selected": []}), "no file"),
                                 ("{}", "selected"), ("[0]", "selected")):
                    assert why in web.json("POST", f"/api/v1/torrents/{h}/files", bad, want=400)["error"]
                t = web.json("POST", f"/api/v1/torrents/{h}/files", json.dumps({"selected": [0, 1]}))
                assert t["selected_total"] == t["total"], t
                get.wait_for(lambda e: e.get("event") == "progress" and e.get("complete") and
                             e.get("selected_total") == e.get("total") and e.get("state") == "live",
                             "both files complete", DEADLINE_S)
                assert open(f"{d}/down/pack/two.bin", "rb").read() == open(f"{d}/data/pack/two.bin", "rb").read()
                assert open(f"{d}/down/pack/one.bin", "rb").read() == open(f"{d}/data/pack/one.bin", "rb").read()
                # Every byte once: the piece the files share was moved, not fetched again.
                t = web.json("GET", f"/api/v1/torrents/{h}")
                assert t["downloaded"] == t["total"], t
                assert [f["selected"] for f in web.json("GET", f"/api/v1/torrents/{h}/files")] == [True, True]
                assert get.stop() == 0, get.stderr
            assert serve.stop() == 0


def read_stderr_line(peer, starts, timeout_s=30):
    """The first line of the process's stderr that starts with `starts`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([peer.proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = peer.proc.stderr.readline()
        if not line:
            break
        if line.startswith(starts):
            return line.strip()
    raise AssertionError(f"no stderr line starting with {starts!r}")


def test_a_non_loopback_web_address_gets_a_generated_token(binary):
    with TempDir() as d:
        a = make(binary, d, "a.bin", 64 * 1024, 9)
        # The wildcard address is not loopback: a token is generated and
        # printed once; the test still talks to it over 127.0.0.1 only.
        with StaPeer(binary, "serve", a, "-o", f"{d}/data", "--no-tracker", "--listen", "127.0.0.211:0", "--web",
                     "0.0.0.0:0", "--web-host", "127.0.0.1") as serve:
            line = read_stderr_line(serve, "web: ")
            assert "?token=" in line and "shown only now" in line, line
            url, token = line.split()[1].split("?token=")
            port = int(url.rstrip("/").rsplit(":", 1)[1])
            assert len(token) == 64 and all(c in "0123456789abcdef" for c in token), token
            assert first_line(serve)["web"] == url, first_line(serve)
            web = Web(f"http://127.0.0.1:{port}/")
            assert web.request("GET", "/api/v1/node")[0] == 401
            assert web.request("GET", "/")[0] == 401
            assert web.request("GET", "/api/v1/node", headers={"Authorization": f"Bearer {token}"})[0] == 200
            status, headers, _ = web.request("GET", f"/?token={token}")
            assert status == 303, status
            assert web.request("GET", "/", headers={"Cookie": headers["Set-Cookie"].split(";")[0]})[0] == 200
            assert serve.stop() == 0


def test_get_has_the_web_too(binary):
    with TempDir() as d:
        a = make(binary, d, "a.bin", 512 * 1024, 6)
        with StaPeer(binary, "serve", a, "-o", f"{d}/data", "--no-tracker", "--listen", "127.0.0.237:0") as serve:
            port = serve.listen_port()
            with StaPeer(binary, "get", a, "-o", f"{d}/down", "--no-tracker", "--listen", "127.0.0.238:0", "--peer",
                         f"127.0.0.237:{port}", "--web", "127.0.0.1:0") as get:
                web = Web(first_line(get)["web"])
                get.wait_for(lambda e: e["event"] == "complete", "complete", DEADLINE_S)
                t = web.json("GET", "/api/v1/torrents")[0]
                assert t["complete"] and t["downloaded"] == 512 * 1024, t
                assert get.stop() == 0


if __name__ == "__main__":
    main([
        test_every_endpoint,
        test_bad_input_is_a_4xx_with_a_json_error_and_the_node_goes_on,
        test_host_csrf_and_token_guards,
        test_file_selection_changes_while_it_runs,
        test_a_non_loopback_web_address_gets_a_generated_token,
        test_get_has_the_web_too,
    ])
