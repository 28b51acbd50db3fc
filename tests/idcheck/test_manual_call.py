"""Talking to the candidate in the check by a proctor (issue 29): the proctor opens a call from the check's page
and asks for the ID document next to the face; both see and hear each other through the media engine; nothing is
recorded; a decided check takes no call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from sqlalchemy import func, select

from kernel.db import db
from storage.models import Blob
from tests.idcheck.test_manual_check import waiting  # noqa: F401
from tests.proctoring.conftest import PLANES, PatternTrack, use_plane
from tests.proctoring.test_oral import _frames, candidate_receives, receive_offered


async def _signal(client: Any, url: str, pc: Any, answered: dict[str, Any] | None = None) -> int:
    loop = asyncio.get_running_loop()
    resp = await loop.run_in_executor(None, lambda: client.post(url, json={"sdp": pc.localDescription.sdp}))
    if resp.status_code != 200:
        return resp.status_code
    body = resp.get_json()
    if answered is not None:
        answered.update(body)
    await pc.setRemoteDescription(RTCSessionDescription(type=body["type"], sdp=body["sdp"]))
    for _ in range(50):
        if pc.connectionState == "connected":
            break
        await asyncio.sleep(0.1)
    assert pc.connectionState == "connected"
    return 200


def _pc() -> tuple[Any, dict[str, Any]]:
    pc = RTCPeerConnection()
    pc.addTrack(PatternTrack())
    pc.addTrack(AudioStreamTrack())
    got: dict[str, Any] = {}
    pc.on("track", lambda t: got.__setitem__(t.kind, t))
    return pc, got


@pytest.mark.parametrize("plane", PLANES)
def test_the_proctor_talks_to_the_waiting_candidate_and_nothing_is_recorded(app, waiting, plane):  # noqa: F811
    use_plane(app, plane)
    exam, _cand, client, _proctor, p, check = waiting
    got: dict[str, Any] = {}

    async def run() -> None:
        cand, from_proctor = _pc()
        await cand.setLocalDescription(await cand.createOffer())
        assert await _signal(client, f"/api/identity/{exam.id}/live/offer", cand) == 200
        await asyncio.sleep(0.5)
        proctor_pc, from_candidate = _pc()
        await proctor_pc.setLocalDescription(await proctor_pc.createOffer())
        joined: dict[str, Any] = {}
        assert await _signal(p, f"/api/proctor/identity/{check.id}/call/offer", proctor_pc, joined) == 200
        receivers: list[Any] = []  # on Janus each side receives the other on a connection of its own
        await receive_offered(p, f"/api/proctor/identity/{check.id}/call/receive", joined.get("receive"),
                              from_candidate, receivers)
        await candidate_receives(client, f"/api/identity/{exam.id}/live/receive", from_proctor, receivers)
        for _ in range(50):
            if all(pc.connectionState == "connected" for pc in receivers):
                break
            await asyncio.sleep(0.1)
        got["candidate_sees"], got["proctor_sees"], got["candidate_hears"], got["proctor_hears"] = \
            await asyncio.gather(_frames(from_proctor["video"], 30), _frames(from_candidate["video"], 30),
                                 _frames(from_proctor["audio"], 50), _frames(from_candidate["audio"], 50))
        await proctor_pc.close()
        for pc in receivers:
            await pc.close()
        await cand.close()

    asyncio.run(run())
    assert got["candidate_sees"] >= 30 and got["proctor_sees"] >= 30, got
    assert got["candidate_hears"] >= 50 and got["proctor_hears"] >= 50, got
    assert db.session.scalar(select(func.count()).select_from(Blob)) == 0  # nothing of the check is recorded
    page = p.get(f"/proctor/identity/{check.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'id="oral-join"' in page and "Mit dem Prüfling sprechen" in page


def test_a_decided_check_or_another_proctor_gets_no_call(app, waiting, make_user):  # noqa: F811
    from tests.conftest import login

    exam, _cand, _client, _proctor, p, check = waiting
    other = app.test_client()
    login(other, make_user("proctor", exam.institution))  # same institution, not assigned
    assert other.post(f"/api/proctor/identity/{check.id}/call/offer", json={"sdp": "v=0"}).status_code == 404
    p.post(f"/proctor/identity/{check.id}/decide", data={"confirmed": "yes", "reason": "Ausweis passt"})
    resp = p.post(f"/api/proctor/identity/{check.id}/call/offer", json={"sdp": "v=0"})
    assert resp.status_code == 404 and resp.get_json()["error"]["message"]
