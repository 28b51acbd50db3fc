"""Serving a 300 MB recording streams it segment by segment: the server's memory grows by less than 50 MB.

The part is written through the real storage layer (encrypted, 256 KiB segments) and served by the app in
a server process of its own, whose resident memory is read from /proc while a browser-like client downloads
the whole part (no Range, and ``bytes=0-``, the two requests that used to decrypt the whole part into memory).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.cookiejar
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kernel.db import db
from storage import vault
from tests.conftest import PASSWORD, REPO, login, start_exam, totp_code

SIZE = 300 * 1024 * 1024
LIMIT = 50 * 1024 * 1024

SERVER = textwrap.dedent("""
    import logging, sys
    logging.basicConfig(level=logging.WARNING)
    from werkzeug.serving import make_server
    from app import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "INSTANCE_PATH": sys.argv[2], "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "SERVER_NAME": None, "PROPAGATE_EXCEPTIONS": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()
""")


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


@pytest.fixture
def big_part(app, make_institution, make_user, make_exam):
    """An ended attempt whose recording part holds 300 MB (random bytes: content does not matter here)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs Linux /proc to read a process's memory")
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    aid = start_exam(client, exam.id)
    assert client.post(f"/api/attempts/{aid}/submit").status_code == 200
    chunk = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    writer = vault.open_writer("recording", content_type="video/webm", attempt_id=aid, user_id=cand.id,
                               institution_id=inst.id)
    for i in range(SIZE // len(chunk)):
        piece = i.to_bytes(8, "big") + chunk[8:]  # no two segments alike
        writer.write(piece)
        digest.update(piece)
    writer.close()
    staff = make_user("staff", inst)
    db.session.commit()
    yield {"attempt_id": aid, "blob_id": writer.blob_id, "sha256": digest.hexdigest(), "staff": staff}


def test_a_300_mb_recording_streams_in_bounded_memory(app, database_url, instance_path, big_part):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, database_url, str(instance_path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        staff = big_part["staff"]
        for path, form in (("/login", {"email": staff.email, "password": PASSWORD}),
                           ("/login/second-factor", {"code": totp_code(staff)})):
            with opener.open(base + path, urllib.parse.urlencode(form).encode(), timeout=30) as resp:
                assert resp.status == 200
        url = f"{base}/proctor/attempts/{big_part['attempt_id']}/recordings/{big_part['blob_id']}"
        warm = urllib.request.Request(url, headers={"Range": "bytes=0-1023"})  # noqa: S310 - our loopback server
        with opener.open(warm, timeout=30) as resp:
            assert resp.status == 206 and len(resp.read()) == 1024  # imports and connections made before measuring

        for headers in ({}, {"Range": "bytes=0-"}):
            baseline = _status(proc.pid, "VmRSS")
            with contextlib.suppress(OSError):  # reset the peak to now (Linux >= 4.0), so it measures this request
                Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
            peak = [baseline]
            done = threading.Event()

            def sample(done: threading.Event = done, peak: list[int] = peak) -> None:
                while not done.is_set():
                    with contextlib.suppress(OSError, AssertionError):
                        peak.append(_status(proc.pid, "VmRSS"))
                    time.sleep(0.05)

            watcher = threading.Thread(target=sample, daemon=True)
            watcher.start()
            digest, total = hashlib.sha256(), 0
            with opener.open(urllib.request.Request(url, headers=headers), timeout=120) as resp:  # noqa: S310
                assert resp.status == (206 if headers else 200)
                assert int(resp.headers["Content-Length"]) == SIZE
                while block := resp.read(1024 * 1024):
                    digest.update(block)
                    total += len(block)
            done.set()
            watcher.join(5)
            peak.append(_status(proc.pid, "VmHWM"))
            assert total == SIZE and digest.hexdigest() == big_part["sha256"]  # all of it, and the right bytes
            growth = max(peak) - baseline
            assert growth < LIMIT, f"{headers or 'no Range'}: the server grew by {growth / 2**20:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
