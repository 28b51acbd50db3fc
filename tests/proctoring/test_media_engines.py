"""Several media-engine processes: sessions are assigned across them, recorded, watched, and survive one dying."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import urllib3

from kernel.db import db
from kernel.secrets import ensure_secret
from proctoring import grants
from proctoring.models import MediaAssignment, SystemCheck
from storage import vault
from tests.conftest import REPO, login, start_exam
from tests.proctoring.conftest import probe, recordings, send_for


def _probe_grant(instance_path: Path, engine: str) -> str:
    """A web worker's grant to ask ``engine`` whether it is up, good once (the key comes from the shared instance
    folder)."""
    seed = ensure_secret(instance_path, "media_grant_key")
    return grants.sign(grants.private_key(seed), grants.Grant("probe"), engine=engine, now=time.time() + 300)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def engines(database_url: str, instance_path: Path):
    """Two engine processes sharing the test database and instance folder (keys, local blobs, the media grant
    key); each takes one live session at most."""
    ensure_secret(instance_path, "media_grant_key")  # the key exists before two engines race to create it
    env = {**os.environ, "DATABASE_URL": database_url, "AUFSICHT_INSTANCE_PATH": str(instance_path),
           "AUFSICHT_MEDIA_HOST_ADDRESSES": '["127.0.0.1"]',
           "AUFSICHT_PROCTORING_FACE_FLAGS": "false", "AUFSICHT_SNAPSHOT_STORE_SECONDS": "3600",
           "AUFSICHT_MEDIA_ENGINE_MAX_SESSIONS": "1"}
    procs, urls = [], []
    for _ in range(2):
        port = _free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "media", "serve",
                                       "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env))
        urls.append(f"http://127.0.0.1:{port}")
    http = urllib3.PoolManager(retries=False, timeout=1.0)
    for url in urls:
        for _ in range(120):
            try:
                if http.request("GET", url + "/engine/healthz",
                                headers={"Authorization": f"Grant {_probe_grant(instance_path, url)}"}).status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.25)
        else:
            pytest.fail(f"media engine at {url} did not start")
    yield {"urls": urls, "procs": procs}
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.fixture
def app_config(engines):
    return {"MEDIA_ENGINES": engines["urls"], "MEDIA_HOST_ADDRESSES": ["127.0.0.1"]}


def _candidate(app, inst, exam, make_user):
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    return client, start_exam(client, exam.id)


def test_sessions_spread_over_engines_recorded_and_watched(app, engines, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    watcher = app.test_client()
    login(watcher, proctor)
    first, second = _candidate(app, inst, exam, make_user), _candidate(app, inst, exam, make_user)
    seen: dict[int, int] = {}

    def poll() -> None:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and len(seen) < 2:
            for tile in watcher.get("/api/proctor/live").get_json()["attempts"]:
                if tile["snapshot_age_ms"] is not None and tile["attempt_id"] not in seen:
                    snap = watcher.get(tile["snapshot_url"])
                    assert snap.status_code == 200 and snap.data[:2] == b"\xff\xd8"
                    seen[tile["attempt_id"]] = tile["snapshot_age_ms"]
            time.sleep(0.3)

    def stream(c, a) -> None:
        with app.app_context():
            send_for(c, a, 4.0)

    threads = [threading.Thread(target=stream, args=(c, a)) for c, a in (first, second)]
    for t in threads:
        t.start()
        time.sleep(1.0)  # the first is assigned before the second asks
    poll()
    for t in threads:
        t.join(60)
    assignments = {a.session_id: a.engine_url for a in db.session.scalars(db.select(MediaAssignment))}
    assert set(assignments.values()) == set(engines["urls"])  # one session on each engine
    assert set(seen) == {first[1], second[1]} and max(seen.values()) <= 2000  # the grid sees both, fresh
    for _client, attempt_id in (first, second):
        info = probe(vault.read(recordings(attempt_id)[0]))
        assert ("video", "vp8") in info["streams"] and ("audio", "opus") in info["streams"]


def test_when_every_engine_is_full_a_new_session_waits(app, engines, make_institution, make_user, make_exam):
    from tests.proctoring.conftest import aiortc_offer, connect

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    (a, a_id), (b, b_id), (c, c_id) = (_candidate(app, inst, exam, make_user) for _ in range(3))

    async def third_while_two_are_live():
        pcs = []
        try:
            for client, attempt_id in ((a, a_id), (b, b_id)):
                pcs.append((await aiortc_offer())[0])
                await connect(client, attempt_id, pcs[-1])  # one on each engine: both full
            pcs.append((await aiortc_offer())[0])
            return await asyncio.get_running_loop().run_in_executor(None, lambda: c.post(
                f"/api/attempts/{c_id}/media/offer", json={"type": "offer", "sdp": pcs[-1].localDescription.sdp},
                headers={"Accept-Language": "de"}))
        finally:
            for pc in pcs:
                await pc.close()

    refused = asyncio.run(third_while_two_are_live())
    assert refused.status_code == 503, refused.get_json()
    assert refused.get_json()["error"]["code"] == "media_full"
    assert "ausgelastet" in refused.get_json()["error"]["message"]  # said in the candidate's language
    assert len(set(db.session.scalars(db.select(MediaAssignment.engine_url)))) == 2
    for client, attempt_id in ((a, a_id), (b, b_id)):  # the two submit: their places are free again
        assert client.post(f"/candidate/attempts/{attempt_id}/submit").status_code == 302
    send_for(c, c_id, 1.0)  # the page's retry gets in


def test_a_bad_offer_gets_the_engines_reason(app, engines, make_institution, make_user, make_exam):
    from proctoring.sdp import BadOffer, check_offer

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    client, attempt_id = _candidate(app, inst, exam, make_user)
    sdp = "v=0\r\nm=audio 9 UDP 0\r\n"  # no camera
    with pytest.raises(BadOffer) as said:
        check_offer(sdp)
    resp = client.post(f"/api/attempts/{attempt_id}/media/offer", json={"type": "offer", "sdp": sdp})
    assert resp.status_code == 400 and resp.get_json()["error"] == {"code": "bad_sdp", "message": str(said.value)}


def test_a_dead_engine_is_replaced_on_reconnect_and_shown_unreachable(app, engines, make_institution, make_user,
                                                                     make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    client, attempt_id = _candidate(app, inst, exam, make_user)
    send_for(client, attempt_id, 1.0)
    old = db.session.get(MediaAssignment, f"attempt-{attempt_id}").engine_url
    victim = engines["urls"].index(old)
    engines["procs"][victim].kill()
    engines["procs"][victim].wait(10)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    watcher = app.test_client()
    login(watcher, proctor)
    tiles = watcher.get("/api/proctor/live").get_json()["attempts"]
    assert [t["connection"] for t in tiles if t["attempt_id"] == attempt_id] == ["unreachable"]
    send_for(client, attempt_id, 1.0)  # the browser reconnects: a live engine takes over, a new part
    db.session.expire_all()
    assert db.session.get(MediaAssignment, f"attempt-{attempt_id}").engine_url != old
    assert len(recordings(attempt_id)) == 2


def test_engine_api_needs_a_grant(engines, client, instance_path):
    http = urllib3.PoolManager(retries=False, timeout=2.0)
    alive = [u for u, p in zip(engines["urls"], engines["procs"], strict=True) if p.poll() is None]
    probe = _probe_grant(instance_path, alive[0])
    assert http.request("GET", alive[0] + "/engine/healthz").status == 403
    assert http.request("GET", alive[0] + "/engine/healthz", headers={"Authorization": "Bearer x"}).status == 403
    assert http.request("GET", alive[0] + "/engine/healthz", headers={"Authorization": f"Grant {probe}"}).status == 200
    assert http.request("GET", alive[0] + "/engine/healthz", headers={"Authorization": f"Grant {probe}"}).status == 403
    assert client.get("/engine/healthz", headers={"Authorization": f"Grant {probe}"}).status_code == 404  # web app
    # the engine's port serves the engine API only: no login page, no candidate route
    assert http.request("GET", alive[0] + "/login").status == 404
    assert http.request("GET", alive[0] + "/healthz").status == 404


def test_a_call_through_an_engine_process_says_where_each_side_receives(app, engines, make_institution, make_user,
                                                                         make_exam):
    """The proctor's call and the candidate's ask for the caller go to the session's engine with a grant; aiortc
    engines send each side the other on its own connection (no second offer: README "Media plane on Janus")."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    from tests.proctoring.conftest import PatternTrack, aiortc_offer, connect

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    staff = app.test_client()
    login(staff, proctor)
    client, attempt_id = _candidate(app, inst, exam, make_user)

    async def call() -> tuple[int, dict, int, dict]:
        cand = (await aiortc_offer())[0]
        proctor_pc = RTCPeerConnection()
        try:
            await connect(client, attempt_id, cand)
            proctor_pc.addTrack(PatternTrack())
            proctor_pc.addTrack(AudioStreamTrack())
            await proctor_pc.setLocalDescription(await proctor_pc.createOffer())
            loop = asyncio.get_running_loop()
            joined = await loop.run_in_executor(None, lambda: staff.post(
                f"/api/proctor/attempts/{attempt_id}/call/offer", json={"sdp": proctor_pc.localDescription.sdp}))
            if joined.status_code == 200:
                await proctor_pc.setRemoteDescription(RTCSessionDescription(type="answer",
                                                                            sdp=joined.get_json()["sdp"]))
            asked = await loop.run_in_executor(None, lambda: client.post(
                f"/api/attempts/{attempt_id}/media/receive", json={}))
            return joined.status_code, joined.get_json(), asked.status_code, asked.get_json()
        finally:
            await proctor_pc.close()
            await cand.close()

    joined_status, joined, asked_status, asked = asyncio.run(call())
    assert joined_status == 200 and joined["type"] == "answer" and "receive" not in joined, joined
    assert asked_status == 200 and asked == {"receive": False}, asked
