"""The LTI 1.3 platform of the tests (tests/lti_platform/lms.py: Open edX's lti-consumer-xblock and
lti1p3platform) started on loopback in its own virtualenv, and a small browser that walks the LTI flows.

Why these two: Open edX's consumer is a platform in production use and the only registry package here that
implements the proctoring messages (``LtiProctoringConsumer``); lti1p3platform brings the NRPS and AGS service
endpoints Open edX keeps in its Django views and models. ltijs (npm) is a tool library, not a platform; PyLTI1p3
is a tool library too. Under CI=true a missing platform virtualenv fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import REPO, need_service

PEER_PYTHON = REPO / ".venv-lti-platform" / "bin" / "python"
PEER_SCRIPT = REPO / "tests" / "lti_platform" / "lms.py"
CLIENT_ID = "aufsicht-tool"
DEPLOYMENT_ID = "1"
RESOURCE_LINK = "block-v1:Uni+Exam101+type@lti+block@exam"


@dataclasses.dataclass
class Platform:
    """A running platform: its base URL (also its issuer), its signing key and key id."""

    base: str
    key: RSAKey
    kid: str

    def state(self) -> dict[str, Any]:
        """What the tool sent to the platform so far (content items, scores, assessments, control actions)."""
        return requests.get(f"{self.base}/_state", timeout=10).json()

    def forge(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        """An ID token signed like the platform's (same key id; another ``key`` forges the signature)."""
        now = int(time.time())
        body = {"iss": self.base, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
                "https://purl.imsglobal.org/spec/lti/claim/deployment_id": DEPLOYMENT_ID,
                "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
                "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": RESOURCE_LINK}, **claims}
        return jwt.encode({"alg": "RS256", "kid": self.kid}, body, key or self.key)


@contextlib.contextmanager
def start_platform(folder: Path, tool_base: str, members: list[dict[str, Any]]) -> Iterator[Platform]:
    """Run the platform until the block ends, registered with the tool at ``tool_base``."""
    if not PEER_PYTHON.exists():
        need_service("LTI platform", "run `make install` (it makes .venv-lti-platform with lti-consumer-xblock)")
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
    kid = "platform-" + secrets.token_hex(4)
    config = {"client_id": CLIENT_ID, "deployment_id": DEPLOYMENT_ID, "members": members, "kid": kid,
              "key_pem": key.as_pem(private=True).decode(),
              "tool_login_url": f"{tool_base}/lti/login", "tool_launch_url": f"{tool_base}/lti/launch",
              "tool_jwks_url": f"{tool_base}/lti/jwks.json"}
    path = folder / f"lti-platform-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(config))
    log = folder / f"{path.stem}.log"
    with log.open("w") as err, subprocess.Popen([str(PEER_PYTHON), str(PEER_SCRIPT), str(path)],
                                                stdout=subprocess.PIPE, stderr=err, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("PORT "):
                proc.wait(timeout=10)
                raise AssertionError(f"the LTI platform did not start: {line} {log.read_text()[-2000:]}")
            yield Platform(base=f"http://127.0.0.1:{int(line.split()[1])}", key=key, kid=kid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            path.unlink(missing_ok=True)


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The page's LTI form (ours carry an ``lti-`` id or ``data-autopost``; the platform's page has one form):
    its action and its hidden and checked fields."""
    forms = re.findall(r"(<form[^>]*>)(.*?)</form>", page, flags=re.S)
    assert forms, page[:2000]
    chosen = next((f for f in forms if 'id="lti-' in f[0] or "data-autopost" in f[0]), forms[0])
    action = re.search(r'action="([^"]*)"', chosen[0])
    assert action, chosen[0]
    fields = {unescape(n): unescape(v) for n, v in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', chosen[1])}
    for name, value in re.findall(r'<input type="radio" name="([^"]+)" value="([^"]*)"[^>]*checked', chosen[1]):
        fields[unescape(name)] = unescape(value)
    return unescape(action.group(1)), fields


def launch(browser: requests.Session, platform: Platform, **query: str) -> requests.Response:
    """A person opens the course item at the platform: login initiation, authorization, the posted launch.

    Returns the tool's answer to the launch (redirects followed).
    """
    auth = browser.get(f"{platform.base}/launch", params=query, timeout=20)
    assert auth.status_code == 200 and "<form" in auth.text, (auth.status_code, auth.text[:1000])
    action, fields = form_of(auth.text)
    return browser.post(action, data=fields, timeout=20)


def post_form(browser: requests.Session, page: requests.Response) -> requests.Response:
    """Submit the page's LTI form as the browser would (the auto-posting pages)."""
    action, fields = form_of(page.text)
    return browser.post(urljoin(page.url, action), data=fields, timeout=20)


@contextlib.contextmanager
def camera(browser: requests.Session, base: str, attempt_id: int) -> Iterator[None]:
    """A candidate's camera and microphone (an aiortc peer standing in for the browser) streaming to the
    supervision attempt through the real signalling endpoint until the block ends; the part then closes."""
    import asyncio
    import threading

    from aiortc import RTCSessionDescription

    from tests.proctoring.conftest import aiortc_offer

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def connect() -> Any:
        pc, _channel = await aiortc_offer()
        answer = await loop.run_in_executor(None, lambda: browser.post(
            f"{base}/api/attempts/{attempt_id}/media/offer", json={"type": "offer", "sdp": pc.localDescription.sdp},
            timeout=30))
        assert answer.status_code == 200, answer.text[:500]
        await pc.setRemoteDescription(RTCSessionDescription(**answer.json()))
        return pc

    pc = asyncio.run_coroutine_threadsafe(connect(), loop).result(40)
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(pc.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def wait_live(browser: requests.Session, base: str, session_id: int, timeout: float = 30) -> bool:
    """Whether the tool says the supervision of ``session_id`` is live and recording, within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.get(f"{base}/api/lti/proctoring/{session_id}", timeout=10).json().get("live") is True:
            return True
        time.sleep(0.3)
    return False
