"""The media engine's API as an attacker on the private network sees it: without a grant signed by the web app
for this session and purpose, nothing happens; a recording's owner comes from the grant, never the body; a grant
copied off the wire is good for nothing: it was used once, and it names one engine and one request body."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from flask import Flask

from exams.attempts import start_attempt
from kernel.clock import utcnow
from kernel.db import db
from proctoring import grants
from proctoring.grants import Grant
from storage import vault
from tests.proctoring.conftest import aiortc_offer, recordings, wait_parts_closed

SEED = bytes(range(32))
KEY = grants.private_key(SEED)
OTHER_KEY = grants.private_key(bytes(range(1, 33)))  # someone else's key: a forged grant
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ENGINE = "http://engine-1.internal:5101"  # this app's name as the web workers list it (MEDIA_ENGINES)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """This app plays the engine (``media serve``): its grant key is known to the test, the web worker."""
    return {"MEDIA_ENGINE_API": True, "MEDIA_ENGINE_URL": ENGINE, "MEDIA_GRANT_KEY": base64.b64encode(SEED).decode(),
            "MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": False}


@pytest.fixture(autouse=True)
def _stop_engine(app: Flask):
    yield
    eng = app.extensions.get("aufsicht.media")
    if eng is not None:
        eng.stop()


def _auth(grant: Grant, key: Any = KEY, now: float | None = None, body: bytes = b"",
          engine: str = ENGINE) -> dict[str, str]:
    return {"Authorization": "Grant " + grants.sign(key, grant, engine=engine, body=body, now=now)}


def _offer(client: Any, session: str, grant: Grant | None, key: Any = KEY, now: float | None = None,
           body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body or {"sdp": SDP}).encode()
    headers = _auth(grant, key, now, data) if grant is not None else {}
    return client.post(f"/engine/sessions/{session}/offer", data=data, content_type="application/json",
                       headers=headers)


def test_forged_expired_wrong_purpose_and_other_attempt_grants_are_refused(client):
    record = Grant("record", "attempt-5", attempt=5, user=7, institution=3)
    assert _offer(client, "attempt-5", None).status_code == 403
    assert client.post("/engine/sessions/attempt-5/offer", json={"sdp": SDP},
                       headers={"Authorization": "Bearer anything"}).status_code == 403
    refused = {
        "forged": _offer(client, "attempt-5", record, key=OTHER_KEY),
        "expired": _offer(client, "attempt-5", record, now=time.time() - 3600),
        "wrong purpose": _offer(client, "attempt-5", Grant("watch", "attempt-5", attempt=5, viewer="viewer-7")),
        "other attempt's grant": _offer(client, "attempt-5", Grant("record", "attempt-6", attempt=6, user=7,
                                                                   institution=3)),
        "session and attempt differ": _offer(client, "attempt-5", Grant("record", "attempt-5", attempt=6, user=7,
                                                                        institution=3)),
        "an exam's stream unrecorded": _offer(client, "attempt-5", Grant("check", "attempt-5")),
    }
    for what, resp in refused.items():
        assert resp.status_code == 403, what
        assert resp.get_json()["error"]["code"] == "grant_refused", what
    # a grant with its payload changed after signing (another attempt put in) is refused too
    token = grants.sign(KEY, Grant("snapshot", attempts=(6,)), engine=ENGINE)
    _body, sig = token.split(".")
    tampered = grants.sign(KEY, Grant("snapshot", attempts=(5,)), engine=ENGINE).split(".")[0] + "." + sig
    assert client.get("/engine/attempts/5/snapshot", headers={"Authorization": "Grant " + tampered}).status_code == 403
    assert client.get("/engine/attempts/5/snapshot", headers=_auth(Grant("snapshot", attempts=(6,)))).status_code == 403
    # the right grant passes the check (and there is simply no picture yet)
    assert client.get("/engine/attempts/5/snapshot", headers=_auth(Grant("snapshot", attempts=(5,)))).status_code == 404
    assert client.get("/engine/healthz", headers=_auth(Grant("control", "attempt-5"))).status_code == 403
    assert client.get("/engine/healthz", headers=_auth(Grant("probe"))).status_code == 200
    assert client.delete("/engine/sessions/attempt-5", headers=_auth(Grant("control", "attempt-6"))).status_code == 403
    watch = json.dumps({"sdp": SDP}).encode()
    assert client.post("/engine/sessions/attempt-5/watch", data=watch, content_type="application/json",
                       headers=_auth(Grant("watch", "attempt-6", viewer="viewer-1"), body=watch)).status_code == 403


def test_live_state_only_of_the_attempts_the_grant_names(client):
    got = client.get("/engine/live?attempts=5,6", headers=_auth(Grant("snapshot", attempts=(5,)))).get_json()
    assert set(got) == {"5"}


def test_the_recording_owner_comes_from_the_grant_only(app, client, make_institution, make_user, make_exam):
    inst, other_inst = make_institution(), make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False)
    victim_exam = make_exam(institution=other_inst, identity_check_required=False, proctoring_required=False)
    cand, victim = make_user("candidate", inst), make_user("candidate", other_inst)
    with app.test_request_context():
        attempt = start_attempt(cand, exam, utcnow())
        victim_attempt = start_attempt(victim, victim_exam, utcnow())
    grant = Grant("record", f"attempt-{attempt.id}", attempt=attempt.id, user=cand.id, institution=inst.id)

    async def run() -> None:
        from aiortc import RTCSessionDescription

        pc, _channel = await aiortc_offer()
        # the body names the victim's attempt as the owner: the engine must not listen
        body = {"sdp": pc.localDescription.sdp, "recording": [victim_attempt.id, victim.id, other_inst.id]}
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(None, lambda: _offer(client, f"attempt-{attempt.id}", grant, body=body))
        assert resp.status_code == 200, resp.get_json()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=resp.get_json()["sdp"], type="answer"))
        for _ in range(50):
            if pc.connectionState == "connected":
                break
            await asyncio.sleep(0.1)
        assert pc.connectionState == "connected"
        await asyncio.sleep(1.0)
        await pc.close()

    asyncio.run(run())
    wait_parts_closed(attempt.id)
    parts = recordings(attempt.id)
    assert len(parts) == 1
    assert (parts[0].user_id, parts[0].institution_id) == (cand.id, inst.id)
    assert recordings(victim_attempt.id) == []
    assert vault.blobs_of(user_id=victim.id, category="recording") == []
    db.session.rollback()


def test_a_refused_offer_does_not_echo_aiortc(client):
    async def offer() -> str:
        pc, _channel = await aiortc_offer()
        sdp = pc.localDescription.sdp
        await pc.close()
        # well-formed enough for our checks, but without ICE credentials: aiortc raises on it
        return "".join(line for line in sdp.splitlines(keepends=True)
                       if not line.startswith(("a=ice-ufrag", "a=ice-pwd")))

    resp = _offer(client, "check-1-2", Grant("check", "check-1-2"), body={"sdp": asyncio.run(offer())})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"] == "The offer could not be accepted."


def test_grant_key_prints_the_public_key_for_engine_hosts(runner):
    result = runner.invoke(args=["media", "grant-key"])
    assert result.exit_code == 0
    assert result.output.strip() == grants.public_key_text(SEED)
    assert base64.b64encode(SEED).decode() not in result.output  # never the private seed


def test_a_grant_is_used_once_for_one_engine_and_one_body(client):
    """A grant copied off the wire cannot be sent again within its minute, nor to another engine, nor with
    another request body (another offer): each was signed for one call."""
    probe = _auth(Grant("probe"))
    assert client.get("/engine/healthz", headers=probe).status_code == 200
    replayed = client.get("/engine/healthz", headers={**probe, "Accept": "application/json"})
    assert replayed.status_code == 403 and replayed.get_json()["error"]["code"] == "grant_refused"
    other_engine = client.get("/engine/healthz", headers=_auth(Grant("probe"), engine="http://engine-2.internal:5101"))
    assert other_engine.status_code == 403
    assert client.get("/engine/healthz", headers=_auth(Grant("probe"), engine=ENGINE + "/")).status_code == 200

    # an offer's grant with another offer's body: refused before anything is connected
    signed_for = json.dumps({"sdp": SDP}).encode()
    swapped = json.dumps({"sdp": SDP + "a=x-other\r\n"}).encode()
    check = Grant("check", "check-1-2")
    resp = client.post("/engine/sessions/check-1-2/offer", data=swapped, content_type="application/json",
                       headers=_auth(check, body=signed_for))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "grant_refused"
    # the same grant sent twice with its own body: the second is refused (the first gets as far as the SDP check)
    headers = _auth(check, body=signed_for)
    first = client.post("/engine/sessions/check-1-2/offer", data=signed_for, content_type="application/json",
                        headers=headers)
    again = client.post("/engine/sessions/check-1-2/offer", data=signed_for, content_type="application/json",
                        headers=headers)
    assert first.status_code == 400 and again.status_code == 403  # the SDP is not a camera's, the grant was good
