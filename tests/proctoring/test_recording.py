"""Recording through the real signalling endpoint into encrypted storage, without re-encoding."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

from exams.models import AttemptEvent
from kernel.db import db
from proctoring.models import Flag, SystemCheck
from proctoring.sdp import MAX_SDP_BYTES
from storage import vault
from storage.models import Blob, BlobState
from tests.conftest import REPO, login, start_exam
from tests.proctoring.conftest import PLANES, aiortc_offer, probe, recordings, send_for, use_plane


@pytest.fixture
def live(app, make_institution, make_user, make_exam):
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409  # system check first
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))  # passed (the real check: test_system_check)
    db.session.commit()
    attempt_id = start_exam(client, exam.id)
    return {"client": client, "attempt_id": attempt_id, "exam": exam, "inst": inst}


@pytest.mark.parametrize("plane", PLANES)
def test_recorded_without_reencoding_into_encrypted_storage(app, live, plane):
    use_plane(app, plane)
    send_for(live["client"], live["attempt_id"], 3.0, events=["tab_hidden"])
    blobs = recordings(live["attempt_id"])
    assert len(blobs) == 1
    db.session.refresh(blobs[0])
    assert blobs[0].state == BlobState.COMPLETE and blobs[0].content_type == "video/webm"
    raw = vault.backend().read_range(blobs[0].key, 0, 4)
    assert raw != b"\x1a\x45\xdf\xa3"  # what is on disk is not WebM: it is encrypted
    info = probe(vault.read(blobs[0]))
    assert info["streams"] == [("audio", "opus"), ("video", "vp8")]
    assert info["size"] == (640, 480) and info["decoded_size"] == (640, 480)
    assert 3.0 * 0.85 <= info["duration"] <= 3.5 * 1.1, info
    assert info["decoded_frames"] >= 60
    kinds = [e.kind for e in db.session.scalars(select(AttemptEvent).where(
        AttemptEvent.attempt_id == live["attempt_id"]))]
    assert "media_connected" in kinds
    if plane == "aiortc":
        assert "flag" in kinds  # tab_hidden arrived over the data channel
    else:  # Janus does not hand us the data channel (README): the page is told so and posts its events instead
        page = live["client"].get(f"/candidate/attempts/{live['attempt_id']}").get_data(as_text=True)
        assert 'data-events-channel="no"' in page and "flag" not in kinds
        resp = live["client"].post(f"/api/attempts/{live['attempt_id']}/events",
                                   json={"events": [{"type": "tab_hidden"}]})
        assert resp.status_code == 200 and resp.json == {"recorded": 1}
        flags = db.session.scalars(select(Flag).where(Flag.attempt_id == live["attempt_id"])).all()
        assert [f.kind.value for f in flags] == ["tab_hidden"]


@pytest.mark.parametrize("plane", PLANES)
def test_reconnect_continues_in_a_new_part(app, live, plane):
    use_plane(app, plane)
    send_for(live["client"], live["attempt_id"], 1.5)
    send_for(live["client"], live["attempt_id"], 1.5)
    blobs = recordings(live["attempt_id"])
    assert len(blobs) == 2
    for b in blobs:
        db.session.refresh(b)
        info = probe(vault.read(b))
        assert info["streams"] == [("audio", "opus"), ("video", "vp8")] and info["video_packets"] > 20


@pytest.mark.parametrize("sdp", ["", "hello", "v=0\r\n" + "a=x\r\n" * 10, "v=0\r\nm=audio 9 UDP 0\r\n",
                                 "v=0\r\n\x00\r\n", "v=0\r\n" + "a=" + "x" * MAX_SDP_BYTES + "\r\n"])
def test_malformed_and_oversized_sdp_get_400_and_engine_keeps_working(live, sdp):
    client, aid = live["client"], live["attempt_id"]
    resp = client.post(f"/api/attempts/{aid}/media/offer", json={"type": "offer", "sdp": sdp})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_sdp"
    assert client.post(f"/api/attempts/{aid}/media/offer", json=["x"]).status_code == 400
    send_for(client, aid, 0.5)
    assert len(recordings(aid)) == 1


def test_offer_without_video_is_refused(live):
    async def offer() -> str:
        pc, _ch = await aiortc_offer(with_video=False)
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    resp = live["client"].post(f"/api/attempts/{live['attempt_id']}/media/offer",
                               json={"sdp": asyncio.run(offer())})
    assert resp.status_code == 400 and "video" in resp.json["error"]["message"]


def test_an_offer_aiortc_rejects_does_not_echo_its_exception(live):
    async def offer() -> str:
        pc, _ch = await aiortc_offer()
        sdp = pc.localDescription.sdp
        await pc.close()
        # well-formed enough for our checks, but without ICE credentials: aiortc raises on it
        return "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith(("a=ice-ufrag",
                                                                                                 "a=ice-pwd")))

    resp = live["client"].post(f"/api/attempts/{live['attempt_id']}/media/offer",
                               json={"sdp": asyncio.run(offer())})
    assert resp.status_code == 400
    assert resp.json["error"]["message"] == "The offer could not be accepted."


def test_another_candidate_cannot_connect_to_my_attempt(app, live, make_user):
    other = app.test_client()
    login(other, make_user("candidate", live["inst"]))
    resp = other.post(f"/api/attempts/{live['attempt_id']}/media/offer", json={"sdp": "v=0"})
    assert resp.status_code == 404
    assert recordings(live["attempt_id"]) == []


def test_the_receiver_hook_still_exists():
    """Pins the aiortc internal we tap (RTCRtpReceiver's encoded-frame queue)."""
    from aiortc import RTCPeerConnection

    from proctoring.recorder import TapQueue, tap_receiver

    async def check() -> None:
        pc = RTCPeerConnection()
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        tap_receiver(receiver, lambda c, f: None, lambda: False)
        assert isinstance(receiver._RTCRtpReceiver__decoder_queue, TapQueue)
        await pc.close()

    asyncio.run(check())
    with pytest.raises(RuntimeError):
        tap_receiver(object(), lambda c, f: None, lambda: False)


def test_bandwidth_estimates_are_sent_at_most_four_times_a_second():
    """aiortc answers every packet with a REMB while it judges the link overused (a busy engine looks like
    a congested link); the engine lets one through every 250 ms, and every other RTCP packet at once."""
    from aiortc import RTCPeerConnection
    from aiortc.rtp import RTCP_PSFB_APP, RTCP_PSFB_PLI, RtcpPsfbPacket

    from proctoring.recorder import limit_remb

    async def check() -> list[int]:
        pc = RTCPeerConnection()
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        sent: list[int] = []
        send = receiver._send_rtcp  # the aiortc internal limit_remb wraps

        async def counting(packet) -> None:
            sent.append(packet.fmt)
            await send(packet)

        receiver._send_rtcp = counting
        limit_remb(receiver, interval=0.25)
        remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"REMB\x01\x00\x00\x01\x00\x00\x00\x01")
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=2)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while loop.time() - t0 < 1.0:  # 150 packets a second, as a stream at 30 fps has
            await receiver._send_rtcp(remb)
            await asyncio.sleep(1 / 150)
        await receiver._send_rtcp(pli)
        await pc.close()
        return sent

    sent = asyncio.run(check())
    assert 3 <= sent.count(RTCP_PSFB_APP) <= 5, sent
    assert sent[-1] == RTCP_PSFB_PLI  # a keyframe request is never held back


def test_server_crash_mid_recording_leaves_a_playable_truncated_part(app, live, instance_path, database_url):
    """A recorder process killed with SIGKILL: the part reads back as truncated and plays up to the crash."""
    script = textwrap.dedent(f"""
        import os, signal, time, fractions, numpy as np, av
        from app import create_app
        from storage import vault
        from proctoring.recorder import WebmRecorder
        app = create_app({{"SQLALCHEMY_DATABASE_URI": {database_url!r}, "INSTANCE_PATH": {str(instance_path)!r}}})
        with app.app_context():
            writer = vault.open_writer("recording", content_type="video/webm", attempt_id={live["attempt_id"]})
        rec = WebmRecorder(writer)
        enc = av.CodecContext.create("libvpx", "w")
        enc.width, enc.height, enc.pix_fmt = 640, 480, "yuv420p"
        enc.time_base = fractions.Fraction(1, 30)
        enc.bit_rate = 1_500_000
        t0 = time.monotonic()
        for i in range(150):
            img = np.random.default_rng(i).integers(0, 255, (480, 640, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
            frame.pts = i
            for pkt in enc.encode(frame):
                rec.video(bytes(pkt), i * 3000, now=t0 + i / 30)
            if i % 30 == 29:
                writer.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    db.session.rollback()
    blob = db.session.scalar(select(Blob).where(Blob.attempt_id == live["attempt_id"]))
    assert blob.state == BlobState.WRITING  # the writer never closed
    reader = vault.open_reader(blob)
    assert reader.truncated
    data = reader.read()
    assert len(data) > 0, (reader.plaintext_size, vault.backend().size(blob.key))
    info = probe(data)
    assert info["streams"] == [("audio", "opus"), ("video", "vp8")]
    assert 2.0 <= info["duration"] <= 5.0 and info["decoded_frames"] >= 50


@pytest.mark.parametrize("workers", [1, 3])
def test_engine_pool_size_follows_the_configuration(app, workers):
    from proctoring.live import engine

    app.config["MEDIA_ENGINE_WORKERS"] = workers
    eng = engine(app)
    assert {eng._pool._max_workers, eng._analysis._max_workers, eng._transcoder._max_workers} == {workers}


def test_a_full_engine_refuses_new_sessions_but_takes_reconnects(app, live, make_user):
    from tests.proctoring.conftest import connect

    app.config["MEDIA_ENGINE_MAX_SESSIONS"] = 1
    other = make_user("candidate", live["inst"])
    client = app.test_client()
    login(client, other)
    db.session.add(SystemCheck(user_id=other.id, exam_id=live["exam"].id))
    db.session.commit()
    attempt_id = start_exam(client, live["exam"].id)

    async def second_while_first_is_live():
        first, _channel = await aiortc_offer()
        try:
            await connect(live["client"], live["attempt_id"], first)  # the one place, taken
            second, _channel = await aiortc_offer()
            try:
                refused = await asyncio.get_running_loop().run_in_executor(None, lambda: client.post(
                    f"/api/attempts/{attempt_id}/media/offer",
                    json={"type": "offer", "sdp": second.localDescription.sdp}))
            finally:
                await second.close()
            again, _channel = await aiortc_offer()
            try:
                await connect(live["client"], live["attempt_id"], again)  # a reconnect is still taken
            finally:
                await again.close()
            return refused
        finally:
            await first.close()

    refused = asyncio.run(second_while_first_is_live())
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "media_full"
