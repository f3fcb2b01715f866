"""`sta get` and `sta serve` against hostile or broken surroundings: files in
SAVE_DIR that are not the torrent's, a torrent named like sta's own state
directory, a state directory that cannot be written or is a planted
symlink, names with control characters, and a process short of file
descriptors. Each gets one clear `sta:` line and the exit code the README
gives (1 failure, 2 usage or input), and nothing is lost or overwritten.
Run with the sta binary as the only argument."""
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_peer import StaPeer  # noqa: E402
from sta_test import TempDir, expect_one_error_line, main, random_file, sta  # noqa: E402

DEADLINE_S = 120
NO_PEER = ["--no-tracker", "--peer", "127.0.0.1:9"]


def digest(path):
    return hashlib.sha1(open(path, "rb").read()).hexdigest()


def make_seed(binary, d, size=256 * 1024, seed=1, name="payload.bin"):
    random_file(f"{d}/seed/{name}", size, seed)
    assert sta(binary, "create", f"{d}/seed/{name}", "-p", "64KiB", "-o", f"{d}/t.torrent").code == 0
    return f"{d}/t.torrent"


def get_from_seed(binary, d, torrent, out, listen, *extra):
    """sta serve from d/seed on 127.0.0.(listen) and sta get -e into `out`."""
    with StaPeer(binary, "serve", torrent, f"{d}/seed", "--no-tracker", "--listen", f"127.0.0.{listen}:0") as serve:
        port = serve.listen_port()
        proc = subprocess.run([binary, "get", torrent, "-o", out, "--no-tracker", "-e", "--listen",
                               f"127.0.0.{listen + 1}:0", "--peer", f"127.0.0.{listen}:{port}", *extra],
                              capture_output=True, timeout=DEADLINE_S)
    return proc


def test_larger_existing_file_is_not_truncated_unless_asked(binary):
    with TempDir() as d:
        torrent = make_seed(binary, d)
        random_file(f"{d}/down/payload.bin", 512 * 1024, 99)  # not the torrent's data
        before = digest(f"{d}/down/payload.bin")
        run = sta(binary, "get", torrent, "-o", f"{d}/down", *NO_PEER)
        expect_one_error_line(run, 1, "--allow-truncate")
        assert "payload.bin" in run.err.decode()
        assert digest(f"{d}/down/payload.bin") == before, "the file was changed"
        proc = get_from_seed(binary, d, torrent, f"{d}/down", 141, "--allow-truncate")
        assert proc.returncode == 0, proc.stderr
        assert digest(f"{d}/down/payload.bin") == digest(f"{d}/seed/payload.bin")


def test_larger_file_that_holds_the_torrent_is_cut_to_size(binary):
    with TempDir() as d:
        torrent = make_seed(binary, d)
        os.makedirs(f"{d}/down")
        with open(f"{d}/down/payload.bin", "wb") as f:
            f.write(open(f"{d}/seed/payload.bin", "rb").read() + b"tail" * 1000)
        proc = get_from_seed(binary, d, torrent, f"{d}/down", 143)
        assert proc.returncode == 0, proc.stderr
        assert digest(f"{d}/down/payload.bin") == digest(f"{d}/seed/payload.bin")


def test_torrent_named_like_the_state_directory_is_refused(binary):
    with TempDir() as d:
        torrent = make_seed(binary, d, name=".sta")
        expect_one_error_line(sta(binary, "get", torrent, "-o", f"{d}/down", *NO_PEER), 2, ".sta")
        expect_one_error_line(sta(binary, "serve", torrent, f"{d}/seed", "--no-tracker"), 2, ".sta")


def test_resume_record_that_cannot_be_saved_is_reported(binary):
    with TempDir() as d:
        torrent = make_seed(binary, d)
        os.makedirs(f"{d}/down")
        open(f"{d}/down/.sta", "w").close()  # a file where the state directory goes
        proc = get_from_seed(binary, d, torrent, f"{d}/down", 145)
        lines = [line for line in proc.stderr.decode().splitlines() if line.startswith("sta: ")]
        assert proc.returncode == 1, proc.stderr
        assert len(lines) == 1 and lines[0].startswith("sta: cannot save the resume record"), lines
        assert digest(f"{d}/down/payload.bin") == digest(f"{d}/seed/payload.bin")


def test_planted_state_directory_symlink_is_not_followed(binary):
    with TempDir() as d:
        torrent = make_seed(binary, d)
        os.makedirs(f"{d}/down")
        os.makedirs(f"{d}/outside")
        os.symlink(f"{d}/outside", f"{d}/down/.sta")
        proc = get_from_seed(binary, d, torrent, f"{d}/down", 147)
        assert proc.returncode == 1 and b"resume record" in proc.stderr, proc.stderr
        assert os.listdir(f"{d}/outside") == [], os.listdir(f"{d}/outside")
        assert digest(f"{d}/down/payload.bin") == digest(f"{d}/seed/payload.bin")


def test_failures_exit_1_and_bad_input_exits_2(binary):
    with TempDir() as d:
        torrent = make_seed(binary, d)
        os.makedirs(f"{d}/empty")
        expect_one_error_line(sta(binary, "serve", torrent, f"{d}/empty", "--no-tracker"), 1, "payload.bin")
        with open(f"{d}/seed/payload.bin", "r+b") as f:
            f.write(b"X")
        expect_one_error_line(sta(binary, "serve", torrent, f"{d}/seed", "--no-tracker"), 1, "does not verify")
        busy = socket.create_server(("127.0.0.149", 0))
        port = busy.getsockname()[1]
        try:
            run = sta(binary, "get", torrent, "-o", f"{d}/down", "--listen", f"127.0.0.149:{port}", *NO_PEER)
            expect_one_error_line(run, 1, f"127.0.0.149:{port}")
        finally:
            busy.close()
        expect_one_error_line(sta(binary, "get", f"{d}/seed/payload.bin", "-o", f"{d}/down", *NO_PEER), 2)


def test_names_and_comments_are_printed_with_control_characters_escaped(binary):
    with TempDir() as d:
        name = "evil\x1b[2J\x07name.bin"
        random_file(f"{d}/{name}", 1000, 3)
        assert sta(binary, "create", f"{d}/{name}", "-c", "ring\x07\x9bbell", "-o", f"{d}/t.torrent").code == 0
        info = sta(binary, "info", f"{d}/t.torrent")
        assert info.code == 0
        text = info.out.decode("utf-8", "replace")
        assert "evil\\x1b[2J\\x07name.bin" in text, text
        assert "ring\\x07\\xc2\\x9bbell" in text, text
        assert all(c == "\n" or ord(c) >= 0x20 for c in text), repr(text)
        # The same name in an error line.
        os.makedirs(f"{d}/empty")
        run = sta(binary, "serve", f"{d}/t.torrent", f"{d}/empty", "--no-tracker")
        assert run.code == 1 and b"\x1b" not in run.err and b"\\x1b" in run.err, run.err


def limit_descriptors(n, hard=None):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n if hard is None else hard))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def handshake(ih, host, port, peer_id):
    s = socket.socket()
    s.settimeout(10)
    s.bind((host, 0))
    s.connect(("127.0.0.151", port))
    s.sendall(b"\x13BitTorrent protocol" + bytes(8) + ih + peer_id)
    return s


def sanitized(binary):
    """Whether `binary` was built with ASan or TSan: their runtimes need
    descriptors of their own (a pipe to test memory), so they misreport
    once the process has none left."""
    data = open(binary, "rb").read()
    return b"__asan_init" in data or b"__tsan_init" in data


def test_out_of_descriptors_accept_backs_off_instead_of_spinning(binary):
    if sanitized(binary):
        return "a sanitizer build runs out of descriptors itself"
    with TempDir() as d:
        torrent = make_seed(binary, d)
        data = open(torrent, "rb").read()
        start = data.index(b"4:infod") + 6
        ih = hashlib.sha1(data[start:-1]).digest()
        proc = subprocess.Popen([binary, "serve", torrent, f"{d}/seed", "--no-tracker", "--listen", "127.0.0.151:0",
                                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=limit_descriptors(80))
        clients = []
        try:
            port = int(json.loads(proc.stdout.readline())["listen"][0].rsplit(":", 1)[1])
            # Connections from many addresses until the node has no descriptor
            # left; the rest wait in the listen backlog.
            for i in range(120):
                clients.append(handshake(ih, f"127.0.1.{i + 1}", port, b"-XX0001-fd%010d" % i))
            for c in clients[:10]:
                c.recv(68)
            before = cpu_seconds(proc.pid)
            time.sleep(2)  # an observation window, not a wait for anything
            spent = cpu_seconds(proc.pid) - before
            assert spent < 0.5, f"sta used {spent:.2f} s of CPU in 2 s while out of descriptors"
            for c in clients:
                c.close()
            clients.clear()
            # With descriptors back, new peers get in again.
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, f"sta exited {proc.returncode}: {proc.stderr.read()}"
                s = handshake(ih, "127.0.2.1", port, b"-XX0001-afterwards00")
                try:
                    if len(s.recv(68)) == 68:
                        break
                except OSError:
                    pass
                finally:
                    s.close()
                assert time.monotonic() < deadline, "no handshake after descriptors came back"
            assert proc.poll() is None, proc.stderr.read()
        finally:
            for c in clients:
                c.close()
            proc.kill()
            proc.wait()


def test_more_files_than_descriptors_is_one_clear_line(binary):
    with TempDir() as d:
        for i in range(100):
            random_file(f"{d}/seed/many/f{i:03}", 100, i)
        assert sta(binary, "create", f"{d}/seed/many", "-o", f"{d}/t.torrent").code == 0
        proc = subprocess.run([binary, "get", f"{d}/t.torrent", "-o", f"{d}/down", *NO_PEER], capture_output=True,
                              timeout=60, preexec_fn=limit_descriptors(64))
        lines = proc.stderr.decode().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert "more files than this process may keep open" in lines[0] and "ulimit -n" in lines[0], lines[0]


def test_soft_descriptor_limit_is_raised_to_the_hard_one(binary):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 1024:
        return f"the hard limit here is {hard}"
    with TempDir() as d:
        for i in range(100):
            random_file(f"{d}/seed/many/f{i:03}", 100, i)
        assert sta(binary, "create", f"{d}/seed/many", "-o", f"{d}/t.torrent").code == 0
        proc = subprocess.Popen([binary, "serve", f"{d}/t.torrent", f"{d}/seed", "--no-tracker", "--listen",
                                 "127.0.0.152:0", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=limit_descriptors(64, hard))
        try:
            first = proc.stdout.readline()
            assert first and json.loads(first)["progress"] == 1, proc.stderr.read()
        finally:
            proc.kill()
            proc.wait()


def test_read_error_while_seeding_is_one_line_and_seeding_goes_on(binary):
    with TempDir() as d:
        torrent = make_seed(binary, d, size=1024 * 1024)
        with StaPeer(binary, "serve", torrent, f"{d}/seed", "--no-tracker", "--listen", "127.0.0.153:0") as serve:
            port = serve.listen_port()
            os.truncate(f"{d}/seed/payload.bin", 512 * 1024)  # the second half is gone under sta's feet
            with StaPeer(binary, "get", torrent, "-o", f"{d}/down", "--no-tracker", "--listen", "127.0.0.154:0",
                         "--peer", f"127.0.0.153:{port}"):
                serve.wait_for(lambda e: e["read_errors"] >= 1, "a failed read", DEADLINE_S)
                assert serve.proc.poll() is None, "sta serve stopped"
            assert serve.stop() == 0
        lines = serve.stderr.splitlines()
        assert lines and all(line.startswith("sta: ") for line in lines), lines
        assert any(line.startswith("sta: cannot read piece") and "checking it again" in line for line in lines), lines


if __name__ == "__main__":
    main([
        test_larger_existing_file_is_not_truncated_unless_asked,
        test_larger_file_that_holds_the_torrent_is_cut_to_size,
        test_torrent_named_like_the_state_directory_is_refused,
        test_resume_record_that_cannot_be_saved_is_reported,
        test_planted_state_directory_symlink_is_not_followed,
        test_failures_exit_1_and_bad_input_exits_2,
        test_names_and_comments_are_printed_with_control_characters_escaped,
        test_out_of_descriptors_accept_backs_off_instead_of_spinning,
        test_more_files_than_descriptors_is_one_clear_line,
        test_soft_descriptor_limit_is_raised_to_the_hard_one,
        test_read_error_while_seeding_is_one_line_and_seeding_goes_on,
    ])
