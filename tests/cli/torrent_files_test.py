"""Black-box tests of sta create, info, magnet and verify."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sta_test import TempDir, expect_one_error_line, main, random_file, sta  # noqa: E402


def test_create_info_verify_single_file(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/data.bin", 300_000, 1)
        r = sta(binary, "create", f"{d}/seed/data.bin", "-a", "http://127.0.0.1:1/announce",
                "-a", "http://a/,http://b/", "-p", "16KiB", "-c", "hello", "--private", "-o", f"{d}/t.torrent")
        assert r.code == 0 and r.err == b"", r.err
        info = json.loads(sta(binary, "info", "--json", f"{d}/t.torrent").out)
        assert info["name"] == "data.bin"
        assert info["total_size"] == 300_000
        assert info["piece_length"] == 16384
        assert info["piece_count"] == 19
        assert info["files"] == [{"path": "data.bin", "size": 300_000}]
        assert info["trackers"] == [["http://127.0.0.1:1/announce"], ["http://a/", "http://b/"]]
        assert info["private"] is True
        assert len(info["info_hash"]) == 40
        text = sta(binary, "info", f"{d}/t.torrent").text()
        assert info["info_hash"] in text and "private:       yes" in text
        magnet = sta(binary, "magnet", f"{d}/t.torrent").text().strip()
        assert magnet.startswith(f"magnet:?xt=urn:btih:{info['info_hash']}&dn=data.bin"), magnet
        assert magnet.count("&tr=") == 3
        v = sta(binary, "verify", f"{d}/t.torrent", f"{d}/seed")
        assert v.code == 0 and "19/19 verified, 0 bad" in v.text(), v.text()
        vj = json.loads(sta(binary, "verify", "--json", f"{d}/t.torrent", f"{d}/seed").out)
        assert vj["complete"] is True and vj["bad_pieces"] == 0


def test_output_to_stdout_matches_file(binary):
    with TempDir() as d:
        random_file(f"{d}/f", 50_000, 2)
        a = sta(binary, "create", f"{d}/f", "-o", f"{d}/a.torrent")
        assert a.code == 0
        b = sta(binary, "create", f"{d}/f", "-o", "-")
        assert b.code == 0
        with open(f"{d}/a.torrent", "rb") as f:
            on_disk = f.read()
        # Only the creation date may differ between the two runs.
        strip = lambda t: t[: t.find(b"13:creation date")] + t[t.find(b"e", t.find(b"13:creation date") + 17) + 1:]
        assert strip(on_disk) == strip(b.out)


def test_default_output_name(binary):
    with TempDir() as d:
        random_file(f"{d}/dir/x/y", 1000, 3)
        assert sta(binary, "create", f"{d}/dir").code == 0
        info = json.loads(sta(binary, "info", "--json", f"{d}/dir.torrent").out)
        assert info["name"] == "dir" and info["files"] == [{"path": "x/y", "size": 1000}]


def test_verify_detects_flipped_byte(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/data.bin", 200_000, 4)
        assert sta(binary, "create", f"{d}/seed/data.bin", "-p", "16KiB", "-o", f"{d}/t.torrent").code == 0
        with open(f"{d}/seed/data.bin", "r+b") as f:
            f.seek(123_456)
            b = f.read(1)
            f.seek(123_456)
            f.write(bytes([b[0] ^ 0x40]))
        v = sta(binary, "verify", f"{d}/t.torrent", f"{d}/seed")
        assert v.code == 1, v.code
        assert "12/13 verified, 1 bad" in v.text(), v.text()


def test_verify_detects_truncated_and_missing_files(binary):
    with TempDir() as d:
        random_file(f"{d}/seed/root/a", 40_000, 5)
        random_file(f"{d}/seed/root/sub/b", 40_000, 6)
        assert sta(binary, "create", f"{d}/seed/root", "-p", "16KiB", "-o", f"{d}/t.torrent").code == 0
        os.truncate(f"{d}/seed/root/a", 39_000)
        os.remove(f"{d}/seed/root/sub/b")
        v = sta(binary, "verify", "--json", f"{d}/t.torrent", f"{d}/seed")
        assert v.code == 1
        j = json.loads(v.out)
        assert j["missing_files"] == ["root/sub/b"], j
        assert j["wrong_size_files"] == [{"path": "root/a", "size": 39_000, "expected": 40_000}], j
        assert j["bad_pieces"] == j["piece_count"]


def test_verify_usage_errors_exit_2(binary):
    with TempDir() as d:
        random_file(f"{d}/f", 100, 7)
        assert sta(binary, "create", f"{d}/f", "-o", f"{d}/t.torrent").code == 0
        expect_one_error_line(sta(binary, "verify", f"{d}/t.torrent", f"{d}/nope"), 2, "nope")
        expect_one_error_line(sta(binary, "verify", f"{d}/missing.torrent", d), 2, "missing.torrent")
        expect_one_error_line(sta(binary, "verify", f"{d}/t.torrent"), 2)


def hostile_torrents():
    def info(extra=b""):
        return b"d4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:" + b"x" * 20 + extra + b"ee"
    traversal = (b"d4:infod5:filesld6:lengthi5e4:pathl2:..6:escapeeee4:name1:d"
                 b"12:piece lengthi16384e6:pieces20:" + b"x" * 20 + b"ee")
    return {
        "empty": (b"", "torrent"),
        "garbage": (bytes(range(256)) * 4, "torrent"),
        "truncated": (info()[:-7], "torrent"),
        "deep": (b"l" * 100_000, "torrent"),
        "traversal": (traversal, "info.files[0].path[0]"),
        "bad pieces": (info().replace(b"6:pieces20:" + b"x" * 20, b"6:pieces19:" + b"x" * 19), "info.pieces"),
        "huge integer": (info().replace(b"i5e", b"i99999999999999999999e"), "torrent"),
        "negative length": (info().replace(b"i5e", b"i-5e"), "info.length"),
    }


def test_malformed_torrents_give_one_line_and_exit_2(binary):
    with TempDir() as d:
        for name, (data, field) in hostile_torrents().items():
            path = f"{d}/{name.replace(' ', '_')}.torrent"
            with open(path, "wb") as f:
                f.write(data)
            runs = {
                "info": [path], "info --json": [path, "--json"], "magnet": [path], "verify": [path, d],
                # A torrent whose names escape SAVE_DIR never reaches the disk.
                "get": [path, "-o", f"{d}/down", "--no-tracker", "--peer", "127.0.0.1:9"],
                "serve": [path, d, "--no-tracker"],
            }
            for cmd, rest in runs.items():
                args = [cmd.split()[0], *rest]
                expect_one_error_line(sta(binary, *args), 2, field)


def test_create_errors(binary):
    with TempDir() as d:
        expect_one_error_line(sta(binary, "create", f"{d}/missing"), 1, "missing")
        os.mkdir(f"{d}/empty")
        expect_one_error_line(sta(binary, "create", f"{d}/empty"), 2, "no files")
        random_file(f"{d}/f", 10, 8)
        expect_one_error_line(sta(binary, "create", f"{d}/f", "-p", "1000"), 2, "piece length")
        expect_one_error_line(sta(binary, "create", f"{d}/f", "-p", "fast"), 2, "piece-length")
        expect_one_error_line(sta(binary, "create", f"{d}/f", "-o", f"{d}/no/such/dir/x.torrent"), 1, "x.torrent")


def test_usage(binary):
    expect_one_error_line(sta(binary), 2)
    expect_one_error_line(sta(binary, "frobnicate"), 2)
    expect_one_error_line(sta(binary, "info", "--bogus", "x"), 2)
    h = sta(binary, "--help")
    assert h.code == 0 and b"create" in h.out and b"verify" in h.out
    h = sta(binary, "create", "--help")
    assert h.code == 0 and b"--piece-length" in h.out


if __name__ == "__main__":
    main([
        test_create_info_verify_single_file,
        test_output_to_stdout_matches_file,
        test_default_output_name,
        test_verify_detects_flipped_byte,
        test_verify_detects_truncated_and_missing_files,
        test_verify_usage_errors_exit_2,
        test_malformed_torrents_give_one_line_and_exit_2,
        test_create_errors,
        test_usage,
    ])
