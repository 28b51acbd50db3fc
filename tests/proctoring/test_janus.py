"""The Janus media plane: its API is closed to others, nothing plain reaches a disk, snapshots still come."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import urllib3

from proctoring.janus import JanusServer, WebmBlocks
from proctoring.media import media
from tests.browser import live_server  # noqa: F401
from tests.conftest import login
from tests.proctoring.conftest import aiortc_offer, connect, probe, recordings, use_plane, wait_parts_closed, watch_live
from tests.proctoring.test_recording import live  # noqa: F401


def _post(url: str, body: dict) -> dict:
    resp = urllib3.request("POST", url, body=json.dumps({**body, "transaction": "t"}).encode(),
                           headers={"Content-Type": "application/json"})
    return json.loads(resp.data)


def test_janus_api_is_on_loopback_and_wants_its_secret_and_admin_key(app):
    use_plane(app, "janus")
    server = JanusServer()
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        refused = _post(server.url, {"janus": "create"})  # no API secret
        assert refused["janus"] == "error" and refused["error"]["code"] == 403, refused
        session = _post(server.url, {"janus": "create", "apisecret": server.secret})["data"]["id"]
        handle = _post(f"{server.url}/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom",
                                                   "apisecret": server.secret})["data"]["id"]
        ask = lambda body: _post(f"{server.url}/{session}/{handle}",  # noqa: E731
                                 {"janus": "message", "body": body, "apisecret": server.secret})
        no_key = ask({"request": "create", "room": "x", "record": True})
        assert "error" in no_key["plugindata"]["data"], no_key  # rooms only with the admin key
        made = ask({"request": "create", "room": "y", "admin_key": server.admin_key, "record": False,
                    "lock_record": True})
        assert made["plugindata"]["data"]["videoroom"] == "created", made
        forward = ask({"request": "rtp_forward", "room": "y", "publisher_id": "z", "host": "127.0.0.1",
                       "streams": []})
        assert "error" in forward["plugindata"]["data"], forward  # RTP forwarders only with the admin key
        config = Path(server.folder or "") / "janus.jcfg"
        assert config.stat().st_mode & 0o077 == 0  # the secrets are readable by Janus's user only
        # The only other transport Janus could open is off: the WebSocket one and the admin API are disabled.
        assert "libjanus_websockets.so" in config.read_text()
    finally:
        server.stop()


def test_recorded_on_janus_with_snapshots_and_nothing_plain_on_disk(app, live):  # noqa: F811
    use_plane(app, "janus")
    app.config["PROCTORING_FACE_FLAGS"] = False  # snapshots still come: they feed the grid
    client, attempt_id = live["client"], live["attempt_id"]

    async def stream() -> tuple[bytes | None, list[str], list[str]]:
        pc, _channel = await aiortc_offer()
        await connect(client, attempt_id, pc)
        await asyncio.sleep(3.0)
        eng = app.extensions["aufsicht.media"]
        janus_files = sorted(p.name for p in Path(eng.server.folder).iterdir())
        written = []
        for pid in eng.pids():  # Janus and the recorder: no file of theirs is open but their configuration
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("/") and not target.startswith(("/dev/", "/proc/")) \
                        and not target.startswith(eng.server.folder):
                    written.append(target)
        jpeg = media(app).snapshot(attempt_id)
        await pc.close()
        return jpeg, janus_files, written

    jpeg, janus_files, written = asyncio.run(stream())
    wait_parts_closed(attempt_id)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"  # a keyframe decoded for the proctor's grid
    assert janus_files == ["janus.jcfg", "janus.log", "janus.plugin.videoroom.jcfg", "janus.transport.http.jcfg"]
    assert written == [], written
    from storage import vault

    blobs = recordings(attempt_id)
    assert len(blobs) == 1
    assert vault.backend().read_range(blobs[0].key, 0, 4) != b"\x1a\x45\xdf\xa3"  # encrypted at rest
    info = probe(vault.read(blobs[0]))
    assert info["streams"] == [("audio", "opus"), ("video", "vp8")] and info["decoded_frames"] >= 60, info


def _colour_track(bgr: tuple[int, int, int]) -> Any:
    """A 320x240 video track of one colour."""
    import av
    import numpy as np
    from aiortc.mediastreams import VideoStreamTrack

    class _Track(VideoStreamTrack):
        async def recv(self) -> Any:
            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), bgr, np.uint8), format="bgr24")
            frame.pts, frame.time_base = pts, time_base
            return frame

    return _Track()


def test_a_proctor_watches_only_the_candidates_they_supervise_on_janus(app, make_institution, make_user, make_exam):
    """Each session's publisher sits in a room of its own, and the engine picks the feed from the session the web
    app named after its check: a proctor of one attempt gets that candidate's picture, even naming another room or
    feed in the body, and cannot watch (or answer for) an attempt they do not supervise."""
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    from kernel.db import db
    from proctoring.engine import NotLive
    from proctoring.models import SystemCheck
    from proctoring.sessions import session_id
    from tests.conftest import login, start_exam

    use_plane(app, "janus")
    inst = make_institution()
    mine, other = (make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                             questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
                   for _ in range(2))
    attempts, clients = [], []
    for exam in (mine, other):
        cand = make_user("candidate", inst)
        db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
        db.session.commit()
        client = app.test_client()
        login(client, cand)
        attempts.append(start_exam(client, exam.id))
        clients.append(client)
    proctor = make_user("proctor", inst)
    mine.proctors.append(proctor)
    db.session.commit()
    watcher = app.test_client()
    login(watcher, proctor)
    got: dict[str, Any] = {}

    async def run() -> None:
        peers = []
        for client, aid, colour in zip(clients, attempts, [(200, 40, 40), (40, 40, 200)], strict=True):  # blue, red
            pc = RTCPeerConnection()
            pc.addTrack(_colour_track(colour))
            pc.addTrack(AudioStreamTrack())
            pc.createDataChannel("events")
            await pc.setLocalDescription(await pc.createOffer())
            await connect(client, aid, pc)
            peers.append(pc)
        engine = app.extensions["aufsicht.media"]
        theirs = engine._sessions[session_id(attempts[1])]
        engine.WATCH_ANSWER_WITHIN = 0.3  # a viewer that never answers: its subscriber goes
        assert media(app).watch(session_id(attempts[0]), "viewer-gone", "v=0\r\n")["type"] == "offer"
        assert engine.watchers(session_id(attempts[0])) == {"viewer-gone": False}
        await asyncio.sleep(1.0)
        got["unanswered"] = engine.watchers(session_id(attempts[0]))
        del engine.WATCH_ANSWER_WITHIN
        got["refused"] = watcher.post(f"/api/proctor/attempts/{attempts[1]}/live/offer",
                                      json={"sdp": "v=0\r\n"}).status_code
        got["answer_refused"] = watcher.post(f"/api/proctor/attempts/{attempts[1]}/live/answer",
                                             json={"sdp": "v=0\r\n"}).status_code
        tracks: list[Any] = []
        viewer = await watch_live(watcher, f"/api/proctor/attempts/{attempts[0]}/live/offer", ["video", "audio"],
                                  tracks.append, extra={"room": session_id(attempts[1]), "feed": theirs.publisher,
                                                        "streams": [{"feed": theirs.publisher, "mid": "0"}]})
        for _ in range(50):
            if tracks:
                break
            await asyncio.sleep(0.1)
        frame = await asyncio.wait_for(tracks[0].recv(), timeout=15)
        for _ in range(5):  # past the first frames, which may still be grey
            frame = await asyncio.wait_for(tracks[0].recv(), timeout=5)
        got["colour"] = frame.to_ndarray(format="bgr24").mean(axis=(0, 1))
        got["watchers"] = app.extensions["aufsicht.media"].watchers(session_id(attempts[0]))
        with pytest.raises(NotLive):  # an answer finds only its own viewer's subscriber of that very session
            media(app).watch_answer(session_id(attempts[1]), f"viewer-{proctor.id}", "v=0\r\n")
        await viewer.close()
        for pc in peers:
            await pc.close()

    asyncio.run(run())
    assert got["refused"] == 404 and got["answer_refused"] == 404
    blue, _green, red = got["colour"]
    assert blue > 120 and red < 90, got["colour"]  # the supervised candidate's picture, not the other's
    assert got["watchers"] == {f"viewer-{proctor.id}": True} and got["unanswered"] == {}
    for aid in attempts:
        wait_parts_closed(aid)


def test_the_live_view_through_an_engine_of_its_own_on_janus(app, live_server, live, make_user):  # noqa: F811
    """A web worker and an engine apart (``MEDIA_ENGINES``, ``flask media serve``; here one app over HTTP plays both):
    the candidate's offer, the proctor's watch and the answer each go to the engine with a grant of their own; a
    "watch" grant for another session does not take this session's answer."""
    from proctoring import grants
    from proctoring.sessions import session_id

    use_plane(app, "janus")
    seed = bytes(range(32))
    app.config.update(MEDIA_ENGINES=[live_server], MEDIA_ENGINE_API=True, MEDIA_ENGINE_URL=live_server,
                      MEDIA_GRANT_KEY=base64.b64encode(seed).decode())
    aid, session = live["attempt_id"], session_id(live["attempt_id"])
    proctor = make_user("proctor", live["inst"])
    live["exam"].proctors.append(proctor)
    from kernel.db import db

    db.session.commit()
    watcher = app.test_client()
    login(watcher, proctor)
    got: dict[str, Any] = {}

    async def run() -> None:
        loop = asyncio.get_running_loop()
        pc = (await aiortc_offer())[0]
        await connect(live["client"], aid, pc)
        other = grants.Grant("watch", "attempt-999999", attempt=999999, viewer=f"viewer-{proctor.id}")
        data = json.dumps({"sdp": "v=0\r\n"}).encode()
        token = grants.sign(grants.private_key(seed), other, engine=live_server, body=data)
        got["other"] = (await loop.run_in_executor(None, lambda: urllib3.request(
            "POST", f"{live_server}/engine/sessions/{session}/watch/answer", body=data,
            headers={"Content-Type": "application/json", "Authorization": f"Grant {token}"}))).status
        tracks: list[Any] = []
        viewer = await watch_live(watcher, f"/api/proctor/attempts/{aid}/live/offer", ["video", "audio"],
                                  tracks.append)
        for _ in range(50):
            if tracks:
                break
            await asyncio.sleep(0.1)
        frame = await asyncio.wait_for(tracks[0].recv(), timeout=15)
        got["size"] = (frame.width, frame.height)
        await viewer.close()
        await pc.close()

    asyncio.run(run())
    assert got == {"other": 403, "size": (640, 480)}, got
    from proctoring.models import MediaAssignment

    assert db.session.get(MediaAssignment, session).engine_url == live_server  # it went through the engine's API
    wait_parts_closed(aid)


def test_webm_blocks_are_counted_across_any_cut_of_the_stream():
    import io

    import av
    import numpy as np

    # A small WebM of 10 VP8 frames (the first a keyframe), made with PyAV in memory.

    out = io.BytesIO()
    with av.open(out, "w", format="webm") as c:
        v = c.add_stream("libvpx", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            for pkt in v.encode(frame):
                c.mux(pkt)
        for pkt in v.encode():
            c.mux(pkt)
    data = out.getvalue()
    keys: list[bytes] = []
    blocks = WebmBlocks(keys.append)
    for i in range(0, len(data), 7):  # cut anywhere: elements arrive in pieces
        blocks.feed(data[i:i + 7])
    assert blocks.video_frames == 10 and blocks.audio_frames == 0
    assert blocks.keyframes >= 1 and keys[0][3:6] == b"\x9d\x01\x2a"  # a VP8 keyframe's start code


def test_the_liveness_tap_times_vp8_frames_at_arrival_and_waits_for_a_keyframe_after_a_loss():
    # What Janus forwards during a liveness capture, sent as aiortc's VP8 packetizer sends it: the tap puts the
    # frames together, gives up the one that lost a packet and those after it until the next keyframe (asking for
    # one), and what it keeps decodes.
    import fractions
    import socket
    import threading
    import time

    import av
    import numpy as np
    from aiortc.codecs.vpx import Vp8Encoder
    from aiortc.rtp import RtpPacket

    from proctoring.janus_capture import LivenessTap, decode

    enc = Vp8Encoder()
    texture = np.random.default_rng(3).integers(0, 255, (480, 640, 3), np.uint8)
    frames: list[list[bytes]] = []
    seq = 0
    for i in range(16):
        img = texture.copy()
        img[100:380, i * 30:i * 30 + 40] = (40, 200, 90)
        picture = av.VideoFrame.from_ndarray(img, format="bgr24")
        picture.pts, picture.time_base = i * 3000, fractions.Fraction(1, 90000)
        payloads, ts = enc.encode(picture, force_keyframe=i == 8)
        packets = []
        for j, payload in enumerate(payloads):
            packets.append(RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, ssrc=7,
                                     marker=int(j == len(payloads) - 1), payload=payload).serialize())
            seq += 1
        frames.append(packets)
    assert len(frames[3]) >= 2  # frame 3 loses a packet but still ends with its marker
    asked: list[float] = []
    tap = LivenessTap(time.time() + 2.0, 1000.0, lambda: asked.append(time.monotonic()))
    sent: list[float] = []

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            time.sleep(0.3)
            for i, packets in enumerate(frames):
                for j, packet in enumerate(packets):
                    if (i, j) != (3, 0):
                        out.sendto(packet, ("127.0.0.1", tap.port))
                sent.append(time.time())
                time.sleep(0.02)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        got = tap.run()
    finally:
        sender.join()
        tap.close()
    assert len(got) == 3 + 8  # frames 0-2, then from the keyframe 8 on
    assert [not data[0] & 1 for _t, data, _k in got] == [True, False, False, True] + [False] * 7  # keyframes
    arrived = [t for t, _d, _k in got]
    expected = sent[:3] + sent[8:]
    assert all(abs(a / 1000 - s) < 0.25 for a, s in zip(arrived, expected, strict=True)), (arrived, expected)
    assert len(asked) >= 2  # at the start, and again after the loss
    pictures = decode(got)
    assert len(pictures) == 11 and pictures[0][1].width == 640 and pictures[-1][1].height == 480


def test_an_engine_killed_leaves_no_janus_and_no_recorder_behind(app):
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    from tests.conftest import REPO

    use_plane(app, "janus")
    script = textwrap.dedent("""
        import sys, time
        from proctoring.janus import JanusServer, RtpRecorder
        from proctoring.sessions import DiscardSink
        server = JanusServer()
        server.start()
        rec = RtpRecorder(DiscardSink)
        rec.start()
        time.sleep(0.5)
        print(server.pid(), *rec.pids(), flush=True)
        time.sleep(120)
    """)
    engine = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in engine.stdout.readline().split()]
        assert len(pids) == 2, pids  # Janus and the recorder
        assert all(Path(f"/proc/{p}").exists() for p in pids)
        engine.send_signal(signal.SIGKILL)
        engine.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.1)
        left = [p for p in pids if Path(f"/proc/{p}").exists()
                and Path(f"/proc/{p}/stat").read_text().split(") ")[1][0] != "Z"]
        assert left == [], left
    finally:
        engine.kill()
        engine.wait(10)
        engine.stdout.close()
