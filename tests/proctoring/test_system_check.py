"""The system check: passes only when the engine really receives camera and microphone; gates the exam."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from kernel.db import db
from proctoring.models import SystemCheck
from tests.conftest import login
from tests.proctoring.conftest import aiortc_offer


def test_system_check_needs_a_real_stream_and_gates_the_start(app, make_institution, make_user, make_exam):
    from aiortc import RTCSessionDescription

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True)
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    assert "check-start" in client.get(f"/candidate/exams/{exam.id}/system-check").get_data(as_text=True)
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 409
    # claiming success without a stream does not work
    assert client.post(f"/api/exams/{exam.id}/system-check/confirm").status_code == 409
    assert client.post(f"/api/exams/{exam.id}/system-check/offer", json={"sdp": "v=0"}).status_code == 400

    async def run() -> int:
        pc, _channel = await aiortc_offer()
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: client.post(
            f"/api/exams/{exam.id}/system-check/offer", json={"sdp": pc.localDescription.sdp}))
        await pc.setRemoteDescription(RTCSessionDescription(**resp.get_json()))
        status = 409
        for _ in range(60):
            await asyncio.sleep(0.25)
            status = (await loop.run_in_executor(
                None, lambda: client.post(f"/api/exams/{exam.id}/system-check/confirm"))).status_code
            if status == 200:
                break
        await pc.close()
        return status

    assert asyncio.run(run()) == 200
    assert db.session.scalar(select(SystemCheck).where(SystemCheck.user_id == cand.id)) is not None
    assert client.post(f"/candidate/exams/{exam.id}/start").status_code == 302
