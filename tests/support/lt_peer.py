"""python3-libtorrent peers for tests: a session on one loopback address
with everything but plain TCP switched off, and a seeder that has checked
its data (optionally rate-limited, local peers included)."""
import time

import libtorrent as lt

DEADLINE_S = 120


def lt_session(iface, **extra):
    settings = {
        "listen_interfaces": f"{iface}:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        # libtorrent blocks every request but /announce to a tracker on
        # localhost ("SSRF mitigation"), which would block scrapes.
        "ssrf_mitigation": False,
        "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification,
    }
    settings.update(extra)
    return lt.session(settings)


def lt_alerts(session, wait_s=0.05):
    """The session's alerts, after a short wait. Never session.wait_for_alert():
    its binding wraps the front alert of a queue that libtorrent's network
    thread may be growing meanwhile, and reads freed memory (Python died of
    SIGSEGV in wait_for_alert under load); pop_alerts() hands over a queue
    that no other thread writes any more."""
    time.sleep(wait_s)
    return session.pop_alerts()


def wait_until(session, cond, what):
    deadline = time.monotonic() + DEADLINE_S
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        lt_alerts(session)


def lt_seed(save_path, iface, torrent, upload_limit=0):
    """A libtorrent seeder of `torrent` whose data is in save_path; returns
    (session, handle) once it has checked the data."""
    s = lt_session(iface)
    if upload_limit:
        # libtorrent exempts local peers from rate limits through its peer
        # class filter; an empty filter puts every peer under the limits.
        s.set_peer_class_filter(lt.ip_filter())
    h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_path})
    if upload_limit:
        h.set_upload_limit(upload_limit)
    wait_until(s, lambda: h.status().is_seeding, "libtorrent to check its data")
    return s, h


def lt_flush(session, handle):
    """Returns once libtorrent has written everything it downloaded to disk
    (a resume-data save with flush_disk_cache), so the files can be compared."""
    handle.save_resume_data(lt.save_resume_flags_t.flush_disk_cache)
    deadline = time.monotonic() + DEADLINE_S
    while True:
        if time.monotonic() > deadline:
            raise AssertionError("libtorrent did not flush its disk cache")
        for a in lt_alerts(session):
            if isinstance(a, (lt.save_resume_data_alert, lt.save_resume_data_failed_alert)):
                return
