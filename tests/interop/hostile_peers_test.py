"""Hostile peers against sta, over loopback. Raw-socket peers written here
send an oversized message, request beyond the torrent, flood requests,
send corrupted blocks, or never answer; sta drops or bans them and still
completes from honest peers (python3-libtorrent, rate-limited so the liars
get a share of the requests, or `sta serve`). Run with /usr/bin/python3."""
import hashlib
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from lt_peer import lt_seed  # noqa: E402
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, main, random_file, sta  # noqa: E402

DEADLINE_S = 120
PIECE = 64 * 1024


def info_hash(torrent):
    data = open(torrent, "rb").read()
    start = data.index(b"4:infod") + 6
    return hashlib.sha1(data[start:-1]).digest()


def make_torrent(binary, d, size, seed):
    random_file(f"{d}/seed/payload.bin", size, seed)
    assert sta(binary, "create", f"{d}/seed/payload.bin", "-p", "64KiB", "-o", f"{d}/t.torrent").code == 0
    return f"{d}/t.torrent"


def frame(msg_id, body=b""):
    return struct.pack(">IB", 1 + len(body), msg_id) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_frame(s):
    (length,) = struct.unpack(">I", recv_exact(s, 4))
    body = recv_exact(s, length) if length else b""
    return (body[0] if body else None), body[1:]


def handshake(s, ih, fast=False):
    reserved = bytearray(8)
    if fast:
        reserved[7] |= 0x04
    s.sendall(b"\x13BitTorrent protocol" + bytes(reserved) + ih + b"-XX0001-hostilepeer!")
    theirs = recv_exact(s, 68)
    assert theirs[28:48] == ih


def closed_by_peer(s, timeout_s=30):
    """True when the other side closes the connection (reads drain first)."""
    s.settimeout(timeout_s)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def connect_to_serve(port, ih, fast=False):
    s = socket.create_connection(("127.0.0.121", port), timeout=10)
    handshake(s, ih, fast)
    return s


def wait_unchoke(s):
    s.sendall(frame(2))  # interested
    while True:
        msg_id, _ = read_frame(s)
        if msg_id == 1:
            return


def test_serve_drops_oversized_out_of_range_and_flooding_peers(binary):
    with TempDir() as d:
        torrent = make_torrent(binary, d, 8 * PIECE, 21)
        ih = info_hash(torrent)
        with StaPeer(binary, "serve", torrent, f"{d}/seed", "--no-tracker", "--listen", "127.0.0.121:0") as serve:
            port = serve.listen_port()
            s = connect_to_serve(port, ih)
            s.sendall(struct.pack(">I", 0x7FFFFFF0))
            assert closed_by_peer(s), "oversized message did not end the connection"

            s = connect_to_serve(port, ih)
            wait_unchoke(s)
            s.sendall(frame(6, struct.pack(">III", 8, 0, 16384)))  # piece 8 of 0..7
            assert closed_by_peer(s), "request beyond the torrent did not end the connection"

            s = connect_to_serve(port, ih)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            wait_unchoke(s)
            flood = b"".join(frame(6, struct.pack(">III", i % 8, (i // 8) % 4 * 16384, 16384)) for i in range(20000))
            try:
                s.sendall(flood)
            except (ConnectionResetError, BrokenPipeError):
                pass
            assert closed_by_peer(s), "a request flood did not end the connection"
            assert serve.proc.poll() is None, "sta serve died"


class FakeSeeder:
    """Listens, says it has everything, unchokes, and answers requests with
    garbage (liar), the real bytes of `data` (honest, with piece length
    `piece`) or not at all (silent). Counts connections."""

    def __init__(self, addr, ih, piece_count, mode, data=b"", piece=PIECE):
        self.ih, self.mode, self.piece_count = ih, mode, piece_count
        self.data, self.piece = data, piece
        self.listener = socket.create_server((addr, 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.closed_by_sta = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.listener.settimeout(DEADLINE_S)
        try:
            while True:
                conn, _ = self.listener.accept()
                self.connections += 1
                threading.Thread(target=self.serve, args=(conn,), daemon=True).start()
        except OSError:
            return

    def serve(self, conn):
        try:
            theirs = recv_exact(conn, 68)
            assert theirs[28:48] == self.ih
            peer_id = (b"-XX0001-" + self.mode.encode()).ljust(20, b"!")
            conn.sendall(b"\x13BitTorrent protocol" + bytes(8) + self.ih + peer_id)
            bits = bytearray((self.piece_count + 7) // 8)
            for i in range(self.piece_count):
                bits[i // 8] |= 0x80 >> (i % 8)
            conn.sendall(frame(5, bytes(bits)) + frame(1))
            while True:
                msg_id, body = read_frame(conn)
                if msg_id == 6 and self.mode != "silent":
                    piece, offset, length = struct.unpack(">III", body)
                    start = piece * self.piece + offset
                    block = os.urandom(length) if self.mode == "liar" else self.data[start:start + length]
                    conn.sendall(frame(7, struct.pack(">II", piece, offset) + block))
        except (ConnectionError, OSError):
            self.closed_by_sta.set()

    def close(self):
        self.listener.close()


def test_liar_is_banned_and_download_completes_from_honest_peer(binary):
    with TempDir() as d:
        size = 64 * PIECE
        torrent = make_torrent(binary, d, size, 22)
        liar = FakeSeeder("127.0.0.122", info_hash(torrent), 64, "liar")
        honest, _ = lt_seed(f"{d}/seed", "127.0.0.123", torrent, upload_limit=512 * 1024)
        try:
            with StaPeer(binary, "get", torrent, "-o", f"{d}/down", "--no-tracker", "-e", "--listen",
                         "127.0.0.124:0", "--peer", f"127.0.0.122:{liar.port}",
                         "--peer", f"127.0.0.123:{honest.listen_port()}") as get:
                assert get.wait(DEADLINE_S) == 0
                assert get.events[-1]["hash_failures"] >= 3, get.events[-1]
            assert open(f"{d}/down/payload.bin", "rb").read() == open(f"{d}/seed/payload.bin", "rb").read()
            assert liar.closed_by_sta.is_set(), "the liar was never disconnected"
            assert liar.connections == 1, f"a banned peer was reconnected ({liar.connections} connections)"
        finally:
            liar.close()
            del honest


def test_only_the_peer_that_sent_bad_blocks_is_struck(binary):
    """Pieces of 1 MiB are shared block by block between a liar and an
    honest peer at first, so many fail with blocks of both. Only the liar
    is struck (a failed piece is compared block by block with its later
    good copy); the honest peer is never banned and the download completes
    from it."""
    with TempDir() as d:
        random_file(f"{d}/seed/payload.bin", 16 << 20, 24)
        assert sta(binary, "create", f"{d}/seed/payload.bin", "-p", "1MiB", "-o", f"{d}/t.torrent").code == 0
        ih = info_hash(f"{d}/t.torrent")
        data = open(f"{d}/seed/payload.bin", "rb").read()
        liar = FakeSeeder("127.0.0.128", ih, 16, "liar", piece=1 << 20)
        honest = FakeSeeder("127.0.0.129", ih, 16, "honest", data, piece=1 << 20)
        try:
            with StaPeer(binary, "get", f"{d}/t.torrent", "-o", f"{d}/down", "--no-tracker", "-e", "--listen",
                         "127.0.0.130:0", "--peer", f"127.0.0.128:{liar.port}",
                         "--peer", f"127.0.0.129:{honest.port}") as get:
                assert get.wait(DEADLINE_S) == 0
                last = get.events[-1]
            assert open(f"{d}/down/payload.bin", "rb").read() == data
            assert last["hash_failures"] >= 1, last
            assert last["banned"] == 1, last
            assert honest.connections == 1 and liar.connections == 1
        finally:
            liar.close()
            honest.close()


def test_silent_peer_blocks_move_to_honest_peer(binary):
    with TempDir() as d:
        size = 32 * PIECE
        torrent = make_torrent(binary, d, size, 23)
        silent = FakeSeeder("127.0.0.125", info_hash(torrent), 32, "silent")
        try:
            with StaPeer(binary, "serve", torrent, f"{d}/seed", "--no-tracker", "--listen",
                         "127.0.0.126:0") as serve:
                port = serve.listen_port()
                with StaPeer(binary, "get", torrent, "-o", f"{d}/down", "--no-tracker", "-e", "--listen",
                             "127.0.0.127:0", "--peer", f"127.0.0.125:{silent.port}",
                             "--peer", f"127.0.0.126:{port}") as get:
                    assert get.wait(DEADLINE_S) == 0
            assert open(f"{d}/down/payload.bin", "rb").read() == open(f"{d}/seed/payload.bin", "rb").read()
            assert silent.connections >= 1
        finally:
            silent.close()


if __name__ == "__main__":
    main([test_serve_drops_oversized_out_of_range_and_flooding_peers,
          test_liar_is_banned_and_download_completes_from_honest_peer,
          test_only_the_peer_that_sent_bad_blocks_is_struck,
          test_silent_peer_blocks_move_to_honest_peer])
