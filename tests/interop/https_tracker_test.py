"""HTTPS trackers: a test tracker behind TLS with a self-signed certificate
(made here with openssl) names a `sta serve` seeder. `sta get` refuses the
certificate by default (the tracker's status says why) and downloads
through it with --tracker-no-verify. Run with Debian's /usr/bin/python3."""
import filecmp
import http.server
import os
import ssl
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 120
TRACKER_IP = "127.0.0.56"


class TlsTracker:
    """Answers every announce with one peer, over TLS."""

    def __init__(self, d, peer_ip, peer_port):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        f"/CN={TRACKER_IP}", "-addext", f"subjectAltName=IP:{TRACKER_IP}", "-keyout", f"{d}/key.pem",
                        "-out", f"{d}/cert.pem"], check=True, capture_output=True)
        peers = bytes(int(x) for x in peer_ip.split(".")) + struct.pack(">H", peer_port)
        body = b"d8:intervali60e5:peers6:" + peers + b"e"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((TRACKER_IP, 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{d}/cert.pem", f"{d}/key.pem")
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://{TRACKER_IP}:{self.server.server_address[1]}/announce"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_a_self_signed_https_tracker_only_with_the_flag(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/payload.bin", 2 * 1024 * 1024 + 9, 56)
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/plain.torrent").code == 0
        with StaPeer(binary, "serve", f"{d}/plain.torrent", "-o", f"{d}/seed", "--no-tracker",
                     "--listen", "127.0.0.57:0") as serve:
            with TlsTracker(d, "127.0.0.57", serve.listen_port()) as tracker:
                assert sta(binary, "create", f"{d}/seed/payload.bin", "-o", f"{d}/t.torrent", "-a", tracker.url).code == 0
                args = ["get", f"{d}/t.torrent", "-o", f"{d}/down", "--listen", "127.0.0.58:0"]
                with StaPeer(binary, *args) as refused:
                    e = refused.wait_for(lambda e: "certificate" in e.get("tracker", ""), "the certificate to be refused")
                    assert e["downloaded"] == 0, e
                    refused.stop()
                with StaPeer(binary, *args, "--tracker-no-verify", "-e") as get:
                    assert get.wait(DEADLINE_S) == 0, get.stderr
                    assert get.events[-1]["event"] == "complete"
            serve.stop()
        assert filecmp.cmp(f"{d}/seed/payload.bin", f"{d}/down/payload.bin", shallow=False)


if __name__ == "__main__":
    main([test_a_self_signed_https_tracker_only_with_the_flag])
