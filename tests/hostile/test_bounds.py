"""What one candidate (or one script) can cost is bounded: offers, chat, exports and registrations over HTTP;
data-channel messages, H.264 re-encodes and failed connections in the media engine itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from kernel.clock import clock
from kernel.db import db
from proctoring.engine import MediaEngine, TranscodeFull
from proctoring.sessions import DiscardSink
from tests.accounts.test_registration import GOOD
from tests.conftest import login, start_exam
from tests.proctoring.conftest import PatternTrack, aiortc_offer


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Small limits, so that a test reaches each one quickly; one trusted proxy (nginx) in front."""
    return {"MEDIA_OFFERS_PER_MINUTE": 3, "CHAT_MESSAGES_PER_MINUTE": 3, "EXPORTS_PER_DAY": 2,
            "REGISTRATIONS_PER_HOUR": 2, "TRUSTED_PROXIES": 1,
            "MEDIA_HOST_ADDRESSES": ["127.0.0.1"]}


@pytest.fixture
def candidate_in_exam(app, make_user, make_exam):
    exam = make_exam(identity_check_required=False, proctoring_required=False)
    cand = make_user("candidate", exam.institution)
    client = app.test_client()
    login(client, cand)
    return client, cand, start_exam(client, exam.id)


def test_offers_per_attempt_per_minute(candidate_in_exam):
    client, _cand, attempt_id = candidate_in_exam
    answers = [client.post(f"/api/attempts/{attempt_id}/media/offer", json={"type": "offer", "sdp": "v=0 junk"})
               for _ in range(4)]
    assert [r.status_code for r in answers] == [400, 400, 400, 429]
    assert "Zu viele Verbindungsversuche" in answers[-1].get_json()["error"]["message"]  # in the person's language
    english = client.post(f"/api/attempts/{attempt_id}/media/offer", json={"sdp": "v=0"},
                          headers={"Accept-Language": "en"})
    assert "Too many connection attempts" in english.get_json()["error"]["message"]


def test_chat_messages_per_minute(candidate_in_exam):
    from proctoring import chat

    client, _cand, attempt_id = candidate_in_exam
    sent = [client.post(f"/api/attempts/{attempt_id}/chat", json={"text": f"Frage {i}"}) for i in range(5)]
    assert [r.status_code for r in sent] == [200, 200, 200, 429, 429]
    assert "sehr schnell" in sent[-1].get_json()["error"]["message"]
    from exams.models import Attempt

    assert len(chat.messages(db.session.get(Attempt, attempt_id))) == 3  # nothing stored beyond the limit


def test_data_exports_per_person_per_day(app, make_user):
    from privacy.models import DataExport

    cand = make_user("candidate")
    client = app.test_client()
    login(client, cand)
    codes = [client.post("/account/privacy/export").status_code for _ in range(3)]
    assert codes[:2] != [429, 429] and codes[2] == 429

    def made() -> int:
        return db.session.scalar(select(func.count()).select_from(DataExport).where(DataExport.user_id == cand.id))

    assert made() == 2
    page = client.post("/account/privacy/export", headers={"Accept": "application/json"})
    assert page.status_code == 429 and "heute 2 Kopien" in page.get_data(as_text=True)
    clock.advance(dt.timedelta(hours=25))
    assert client.post("/account/privacy/export").status_code != 429  # a day later, one more
    assert made() == 3


def test_open_registration_per_client_address(app, make_institution):
    make_institution(slug="offen")

    def register(n: int, address: str) -> int:
        data = {**GOOD, "email": f"person{n}@example.org"}
        return app.test_client().post("/register/offen", data=data,
                                      headers={"X-Forwarded-For": address}).status_code

    assert [register(n, "203.0.113.5") for n in range(3)] == [200, 200, 429]
    assert register(9, "198.51.100.7") == 200  # another address is not held up
    from accounts.models import User

    assert db.session.scalar(select(func.count()).select_from(User).where(User.email.like("person%"))) == 3


# ---------------------------------------------------------------------------------------------- the engine


def _engine(**kw: Any) -> tuple[MediaEngine, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    eng = MediaEngine(host_addresses=["127.0.0.1"], decode_video=False, on_event=lambda _s, e: events.append(e),
                      **kw)
    eng.start()
    return eng, events


async def _connect(eng: MediaEngine, session: str, pc: Any) -> None:
    from aiortc import RTCSessionDescription

    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(None, lambda: eng.answer(session, pc.localDescription.sdp,
                                                                 lambda _s, _p: DiscardSink()))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    for _ in range(80):
        if pc.connectionState == "connected":
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no connection")


def test_data_channel_messages_per_session_are_bounded():
    eng, events = _engine(messages_per_minute=10)
    try:
        async def run() -> None:
            pc, channel = await aiortc_offer()
            await _connect(eng, "attempt-1", pc)
            for _ in range(40):
                if channel.readyState == "open":
                    break
                await asyncio.sleep(0.1)
            for i in range(200):
                channel.send(json.dumps({"type": "tab_hidden", "n": i}))
            await asyncio.sleep(2.0)
            await pc.close()

        asyncio.run(run())
        time.sleep(0.5)
        from_browser = [e for e in events if e.get("origin") == "browser"]
        assert len(from_browser) == 10, len(from_browser)
    finally:
        eng.stop()


def _h264_offer() -> Any:
    async def make() -> Any:
        from aiortc import RTCPeerConnection, RTCRtpSender
        from aiortc.mediastreams import AudioStreamTrack

        pc = RTCPeerConnection()
        video = pc.addTransceiver(PatternTrack(), direction="sendonly")
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                   if c.mimeType == "video/H264"])
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        return pc
    return make


def test_h264_sessions_that_need_re_encoding_are_capped_per_engine():
    from aiortc import RTCPeerConnection

    eng, _events = _engine(max_transcodes=1)
    try:
        async def run() -> None:
            first, second = await _h264_offer()(), await _h264_offer()()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: eng.answer("attempt-1", first.localDescription.sdp,
                                                                lambda _s, _p: DiscardSink()))
            with pytest.raises(TranscodeFull) as refused:
                await loop.run_in_executor(None, lambda: eng.answer("attempt-2", second.localDescription.sdp,
                                                                    lambda _s, _p: DiscardSink()))
            assert refused.value.status == 503 and "Chrome, Firefox or Edge" in refused.value.message
            assert "attempt-2" not in eng.sessions()
            # the same browser reconnecting keeps its place; a VP8 browser is not held up at all
            await loop.run_in_executor(None, lambda: eng.answer("attempt-1", first.localDescription.sdp,
                                                                lambda _s, _p: DiscardSink()))
            vp8, _channel = await aiortc_offer()
            await loop.run_in_executor(None, lambda: eng.answer("attempt-3", vp8.localDescription.sdp,
                                                                lambda _s, _p: DiscardSink()))
            for pc in (first, second, vp8):
                await pc.close()
            assert isinstance(first, RTCPeerConnection)

        asyncio.run(run())
    finally:
        eng.stop()


def test_a_failed_peer_connection_is_dropped_from_the_engine():
    eng, events = _engine()
    try:
        async def run() -> None:
            pc, _channel = await aiortc_offer()
            await _connect(eng, "attempt-1", pc)
            assert eng.stats("attempt-1")["state"] == "connected"
            await pc.close()  # the browser is gone

        asyncio.run(run())
        deadline = time.monotonic() + 45  # DTLS close at once, or the ICE consent timeout
        while time.monotonic() < deadline and "attempt-1" in eng.sessions():
            time.sleep(0.2)
        assert eng.sessions() == []
        assert any(e["type"] == "media_disconnected" for e in events)

        async def again() -> None:  # the browser comes back: the next part, with its gap
            pc, _channel = await aiortc_offer()
            await _connect(eng, "attempt-1", pc)
            await asyncio.sleep(0.3)
            await pc.close()

        asyncio.run(again())
        time.sleep(0.3)
        connected = [e for e in events if e["type"] == "media_connected"]
        assert [e["part"] for e in connected] == [1, 2] and connected[1]["gap_seconds"] is not None
    finally:
        eng.stop()


def test_liveness_camera_offers_per_check_per_minute(app, make_user, make_exam):
    """The identity check's liveness camera is bounded like the exam's and the system check's offers."""
    exam = make_exam(identity_check_required=True, proctoring_required=False)
    cand = make_user("candidate", exam.institution)
    client = app.test_client()
    login(client, cand)
    assert client.post(f"/candidate/exams/{exam.id}/identity/consent", data={"granted": "yes"}).status_code == 302
    too_large = client.post(f"/api/identity/{exam.id}/camera/offer", json={"sdp": "v=0\r\n" + "a=x\r\n" * 20000})
    assert too_large.status_code == 400 and "too large" in too_large.get_json()["error"]["message"]
    answers = [client.post(f"/api/identity/{exam.id}/camera/offer", json={"type": "offer", "sdp": "v=0 junk"})
               for _ in range(3)]
    assert [r.status_code for r in answers] == [400, 400, 429]  # the large one counted too
    assert "Zu viele Verbindungsversuche" in answers[-1].get_json()["error"]["message"]
