"""Browsers as people have them: Firefox (Debian's firefox-esr) as candidate and proctor, and a Chromium that hides
its local addresses, without STUN or TURN (as ``make run`` and any installation on a LAN).

A page without camera permission (the proctor's live view) offers only mDNS names (``<uuid>.local``), which
nobody resolves here: the media engine must still answer with its own candidates and learn the browser's
address from its connectivity checks (``proctoring/ice.py``).
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import (  # noqa: F401
    chromium,
    confirm_submit,
    enter_fullscreen,
    fake_webcam,
    firefox,
    live_server,
    log_in,
)
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.browser

# The candidates a page would offer now (gathered without STUN, as the pages do).
OFFERED = """const done = arguments[arguments.length - 1];
const pc = new RTCPeerConnection();
pc.addTransceiver("video", {direction: "recvonly"});
pc.createOffer().then(o => pc.setLocalDescription(o)).then(() => new Promise(res => {
  if (pc.iceGatheringState === "complete") { res(); return; }
  pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === "complete") { res(); } };
  setTimeout(res, 3000);
})).then(() => { const c = pc.localDescription.sdp.split(/\\r?\\n/).filter(l => l.startsWith("a=candidate:"));
                 pc.close(); done(c); });"""


# Firefox's audio starts 0.6-1.9 s after its AudioContext is made (seen on people's machines; 0.5 s here): the
# page's audio clock is held for 2 s, so a check that listens at once hears nothing from a working microphone.
AUDIO_STARTS_LATE = """const Real = window.AudioContext;
window.AudioContext = function () {
  const ctx = new Real(), resume = ctx.resume.bind(ctx);
  let late = true;
  ctx.suspend();
  ctx.resume = () => late ? Promise.resolve() : resume();
  setTimeout(() => { late = false; resume(); }, 2000);
  return ctx;
};"""


def only_mdns(driver) -> list[str]:  # type: ignore[no-untyped-def]
    """The page's own candidates, checked to be mDNS names only (the case under test, not a loopback shortcut)."""
    lines = driver.execute_async_script(OFFERED)
    hosts = [line.split()[4] for line in lines]
    assert hosts and all(h.endswith(".local") for h in hosts), lines
    return lines


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (as a LAN installation's engine offers them)."""
    import ifaddr

    found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
             if isinstance(ip.ip, str) and not ip.ip.startswith("127.")]
    assert found, "the test needs a network interface besides loopback (a browser hiding its addresses uses none)"
    return found


def watch_live(driver, base: str, attempt_id: int) -> None:  # type: ignore[no-untyped-def]
    """On the proctor's page of the attempt: "watch live", until the candidate's video plays."""
    driver.get(f"{base}/proctor/attempts/{attempt_id}")
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "watch"))[0].click()
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "const v = document.getElementById('live-video'); return v.videoWidth > 0 && v.currentTime > 1;"),
        message=driver.find_element(By.ID, "watch-state").text)
    assert driver.find_element(By.ID, "watch-state").get_attribute("data-state") == "connected"


def test_firefox_candidate_checks_and_takes_the_exam_while_firefox_and_chromium_proctors_watch(
        app, firefox, chromium, live_server, make_institution, make_user, make_exam):  # noqa: F811
    # A browser that hides its addresses gathers none on loopback and pairs none with the engine's 127.0.0.1:
    # the engine offers the machine's LAN address too, as ``make run`` does (all interfaces).
    app.config["MEDIA_HOST_ADDRESSES"] = ["127.0.0.1", *lan_addresses()]
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "Was ist Aufsicht?", "points": 1}])
    watchers = [make_user("proctor", inst), make_user("proctor", inst)]
    exam.proctors.extend(watchers)
    cand = make_user("candidate", inst)
    from kernel.db import db

    db.session.commit()

    # The candidate in Firefox, camera and microphone allowed: system check, then the exam.
    f = firefox(camera=True)
    log_in(f, live_server, cand.email, PASSWORD)
    WebDriverWait(f, 10).until(lambda d: "/candidate" in d.current_url)
    f.get(f"{live_server}/candidate/exams/{exam.id}/system-check")
    f.execute_script(AUDIO_STARTS_LATE)
    WebDriverWait(f, 10).until(lambda d: d.find_elements(By.ID, "check-start"))[0].click()
    WebDriverWait(f, 40).until(
        lambda d: d.find_element(By.ID, "check-result").get_attribute("data-passed") == "yes"
        or "failed" in [d.find_element(By.ID, f"check-{s}").get_attribute("data-state")
                        for s in ("camera", "microphone", "connection")])
    states = {s: f.find_element(By.ID, f"check-{s}").get_attribute("data-state")
              for s in ("browser", "camera", "microphone", "connection")}
    assert states == dict.fromkeys(states, "ok"), {s: f.find_element(By.ID, f"check-{s}").text for s in states}
    assert f.find_element(By.ID, "check-microphone").text == "OK"  # heard (not "cannot show the level")
    assert "direkt" in f.find_element(By.ID, "check-path").text  # which way the connection went, for support
    f.find_element(By.ID, "to-exam").click()
    WebDriverWait(f, 10).until(lambda d: d.find_elements(By.ID, "start"))[0].click()
    WebDriverWait(f, 30).until(lambda d: d.find_element(By.ID, "media-status").get_attribute("data-state")
                               == "connected")
    attempt_id = int(f.current_url.rstrip("/").split("/")[-1])
    enter_fullscreen(f)

    # A proctor in Firefox (the live view never asks for the camera: mDNS names only).
    p = firefox()
    log_in(p, live_server, watchers[0].email, PASSWORD, code=lambda: totp_code(watchers[0]))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    only_mdns(p)
    watch_live(p, live_server, attempt_id)

    # A proctor in Chromium as shipped: it hides its addresses the same way.
    c = chromium(hide_local_addresses=True)
    log_in(c, live_server, watchers[1].email, PASSWORD, code=lambda: totp_code(watchers[1]))
    WebDriverWait(c, 10).until(lambda d: "/proctor" in d.current_url)
    only_mdns(c)
    watch_live(c, live_server, attempt_id)

    f.find_element(By.ID, "q-q1").send_keys("Jemand schaut zu.")
    f.find_element(By.ID, "submit").click()
    confirm_submit(f)
    WebDriverWait(f, 10).until(lambda d: d.current_url.endswith("/result"))


def test_a_live_view_that_cannot_connect_says_why_on_the_page(app, firefox, live_server,  # noqa: F811
                                                              make_institution, make_user, make_exam):
    # The engine offers only 127.0.0.1 (the suite's setting), which a Firefox page hiding its addresses never
    # pairs with: the connection cannot be made. The proctor reads why instead of waiting on "connecting".
    import asyncio

    from kernel.db import db
    from proctoring.models import SystemCheck
    from tests.conftest import login, start_exam
    from tests.proctoring.conftest import aiortc_offer, connect

    assert app.config["MEDIA_HOST_ADDRESSES"] == ["127.0.0.1"]
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    attempt_id = start_exam(client, exam.id)
    p = firefox()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)

    async def watch_while_the_candidate_is_connected() -> str:
        pc = (await aiortc_offer())[0]  # the candidate (aiortc on loopback: it connects)
        try:
            await connect(client, attempt_id, pc)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: p.get(f"{live_server}/proctor/attempts/{attempt_id}"))
            await loop.run_in_executor(None, lambda: p.find_element(By.ID, "watch").click())
            state = p.find_element(By.ID, "watch-state")
            for _ in range(300):
                if state.get_attribute("data-state") in ("connected", "failed") and ":" in state.text:
                    break
                await asyncio.sleep(0.2)
            return str(state.get_attribute("data-state")) + " | " + state.text
        finally:
            await pc.close()

    said = asyncio.run(watch_while_the_candidate_is_connected())
    assert said.startswith("failed | Die Verbindung zum Medienserver ist fehlgeschlagen: "), said
    assert "nicht geantwortet" in said, said  # the browser's checks got no answer at the engine's address


def test_firefox_proctor_watches_live_on_janus(app, firefox, live_server,  # noqa: F811
                                               make_institution, make_user, make_exam):
    # On Janus the live view's reply is Janus's offer: Firefox rolls its own offer back and answers (proctor.js),
    # with mDNS names only, as a proctor's page has. The candidate is aiortc (its Firefox walk runs on aiortc above).
    import asyncio

    from kernel.db import db
    from proctoring.models import SystemCheck
    from tests.conftest import login, start_exam
    from tests.proctoring.conftest import aiortc_offer, connect, use_plane, wait_parts_closed

    use_plane(app, "janus")
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    cand = make_user("candidate", inst)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    client = app.test_client()
    login(client, cand)
    attempt_id = start_exam(client, exam.id)
    p = firefox()
    log_in(p, live_server, proctor.email, PASSWORD, code=lambda: totp_code(proctor))
    WebDriverWait(p, 10).until(lambda d: "/proctor" in d.current_url)
    only_mdns(p)

    async def watch_while_the_candidate_is_connected() -> None:
        pc = (await aiortc_offer())[0]
        try:
            await connect(client, attempt_id, pc)
            await asyncio.get_running_loop().run_in_executor(None, watch_live, p, live_server, attempt_id)
        finally:
            await pc.close()

    asyncio.run(watch_while_the_candidate_is_connected())
    wait_parts_closed(attempt_id)
