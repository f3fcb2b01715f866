"""sta installs like a server program: `cmake --install` into a temporary
prefix puts sta, sta-bench, the systemd units (naming the installed binary,
with a dedicated user, a state directory and hardening) and the defaults
file in place, and the installed sta runs; `cpack -G DEB` builds a package
with the same files under /usr, /etc/default/sta as a conffile and its
library dependencies. Run with the build directory as the only argument."""
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.path.abspath(sys.argv[1])


def run(*cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert p.returncode == 0, (cmd, p.stdout[-2000:], p.stderr[-2000:])
    return p.stdout


def check_unit(text, binary):
    for line in (f"ExecStart={binary} ", "DynamicUser=yes", "StateDirectory=", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "CapabilityBoundingSet=", "LimitNOFILE="):
        assert line in text, (line, text)


def test_install_into_a_prefix():
    prefix = tempfile.mkdtemp(prefix="sta-install-")
    try:
        run("cmake", "--install", BUILD, "--prefix", prefix)
        for f in ("bin/sta", "bin/sta-bench", "lib/systemd/system/sta-serve.service",
                  "lib/systemd/system/sta-tracker.service", "etc/default/sta", "share/doc/sta/README.md"):
            assert os.path.exists(f"{prefix}/{f}"), f
        serve = open(f"{prefix}/lib/systemd/system/sta-serve.service").read()
        check_unit(serve, f"{prefix}/bin/sta")
        assert "serve --watch /var/lib/sta/watch -o /var/lib/sta/data --state-dir /var/lib/sta/state" in serve
        check_unit(open(f"{prefix}/lib/systemd/system/sta-tracker.service").read(), f"{prefix}/bin/sta")
        assert run(f"{prefix}/bin/sta", "--version").startswith("sta ")
        assert "serve" in run(f"{prefix}/bin/sta", "serve", "--help")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def test_debian_package():
    out = tempfile.mkdtemp(prefix="sta-deb-")
    try:
        run("cpack", "-G", "DEB", "-B", out, "--config", f"{BUILD}/CPackConfig.cmake")
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        assert len(debs) == 1, os.listdir(out)
        deb = f"{out}/{debs[0]}"
        files = run("dpkg-deb", "-c", deb)
        for f in ("./usr/bin/sta", "./usr/bin/sta-bench", "./usr/lib/systemd/system/sta-serve.service",
                  "./usr/lib/systemd/system/sta-tracker.service", "./etc/default/sta"):
            assert f in files, (f, files)
        info = run("dpkg-deb", "-I", deb)
        # Dependencies come from the binaries (shlibdeps); liburing is
        # vendored and linked in (third_party/README.md), so not among them.
        assert "Package: sta" in info and "libssl3" in info and "liburing" not in info, info
        assert "/etc/default/sta" in run("dpkg-deb", "-I", deb, "conffiles")
        unpacked = f"{out}/root"
        run("dpkg-deb", "-x", deb, unpacked)
        check_unit(open(f"{unpacked}/usr/lib/systemd/system/sta-serve.service").read(), "/usr/bin/sta")
        # Stripped for the package: far smaller than the build's binary.
        assert os.path.getsize(f"{unpacked}/usr/bin/sta") < os.path.getsize(f"{BUILD}/tools/sta") / 2
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    failed = 0
    for t in (test_install_into_a_prefix, test_debian_package):
        try:
            t()
            print(f"PASS {t.__name__}")
        except Exception as e:
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}")
    print(f"{2 - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
