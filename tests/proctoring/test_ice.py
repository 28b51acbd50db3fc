"""The engine connects browsers that hide their local addresses behind mDNS names (``<uuid>.local``).

Firefox for every page without camera permission (the proctor's live view, a candidate before "Allow") and
Chrome likewise offer only such names. Without STUN or TURN nobody can resolve them, so the engine has to
answer with its own candidates and learn the browser's address from the browser's connectivity checks
(peer-reflexive candidates).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from proctoring.engine import MediaEngine
from proctoring.ice import hide_mdns_candidates, offered_candidates
from tests.proctoring.conftest import CollectSink, PatternTrack


def as_mdns(sdp: str) -> str:
    """The offer as a browser without camera permission sends it: every host address replaced by an mDNS name."""
    names: dict[str, str] = {}

    def name(m: re.Match[str]) -> str:
        host = m.group(2)
        names.setdefault(host, f"{uuid.uuid4()}.local")
        return f"{m.group(1)}{names[host]}{m.group(3)}"

    hidden = re.sub(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)", name, sdp, flags=re.MULTILINE)
    hidden = re.sub(r"^c=IN IP4 \S+", "c=IN IP4 0.0.0.0", hidden, flags=re.MULTILINE)  # Firefox's default address
    assert ".local" in hidden and "127.0.0.1" not in hidden
    return hidden


def candidates(sdp: str) -> list[str]:
    """The candidate lines of an SDP."""
    return [ln for ln in sdp.splitlines() if ln.startswith("a=candidate:")]


def test_an_offer_with_only_mdns_candidates_gets_an_answer_with_candidates_and_connects():
    sinks: list[CollectSink] = []
    engine = MediaEngine(host_addresses=["127.0.0.1"], decode_video=False)
    engine.start()
    out: dict[str, Any] = {}

    async def run() -> None:
        loop = asyncio.get_running_loop()
        pc = RTCPeerConnection()  # no STUN: only host candidates, as on a LAN
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        offer = as_mdns(pc.localDescription.sdp)
        assert "a=end-of-candidates" in offer  # as Firefox sends it: the engine must not give up on it

        def sink(_session: str, _part: int) -> CollectSink:
            sinks.append(CollectSink())
            return sinks[-1]

        began = time.monotonic()
        out["answer"] = answer = await loop.run_in_executor(None, lambda: engine.answer("attempt-mdns", offer, sink))
        out["answered_in"] = time.monotonic() - began
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for _ in range(100):
            if pc.connectionState == "connected":
                break
            await asyncio.sleep(0.05)
        out["state"] = pc.connectionState
        await asyncio.sleep(1.0)  # media flows through the peer-reflexive pair
        out["stats"] = engine.stats("attempt-mdns")
        await pc.close()

    try:
        asyncio.run(run())
    finally:
        engine.stop()
    assert candidates(out["answer"]), "the engine's answer carries no candidate: the browser cannot reach it"
    assert out["answered_in"] < 0.9, "the engine waited for mDNS names nobody answers"
    assert out["state"] == "connected"
    assert out["stats"]["video_frames"] > 5 and out["stats"]["audio_frames"] > 5, out["stats"]
    assert out["stats"]["path"] == "direct"  # no TURN: what the system check tells support


def test_a_browser_that_never_reaches_the_engine_is_logged_with_the_reason(caplog: pytest.LogCaptureFixture):
    # The browser's checks never arrive (a firewall, an address the engine cannot be reached at): the engine
    # gives up after ``connect_timeout``, says why in its log, and tells the platform (the page shows it).
    events: list[dict[str, Any]] = []
    engine = MediaEngine(host_addresses=["127.0.0.1"], decode_video=False, connect_timeout=1.5,
                         on_event=lambda _s, e: events.append(e))
    engine.start()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        pc = RTCPeerConnection()
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        offer = as_mdns(pc.localDescription.sdp)
        await pc.close()  # never answers a check
        await loop.run_in_executor(None, lambda: engine.answer("attempt-gone", offer, lambda _s, _p: CollectSink()))
        await asyncio.sleep(3.0)

    with caplog.at_level(logging.WARNING, logger="proctoring.engine"):
        try:
            asyncio.run(run())
        finally:
            engine.stop()
    text = caplog.text
    assert "attempt-gone" in text and "no connectivity check" in text and "mDNS" in text, text
    assert any(e["type"] == "media_disconnected" for e in events), events  # the timeline says so
    assert engine.stats("attempt-gone") is None or engine.stats("attempt-gone")["state"] in ("failed", "closed")


def test_mdns_candidates_are_left_out_and_end_of_candidates_with_them():
    sdp = ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
           "a=candidate:0 1 UDP 2122187007 6a9cedd8-a662-4dd7-92fe-98323407d6bb.local 50734 typ host\r\n"
           "a=candidate:1 1 UDP 1686052607 203.0.113.7 50734 typ srflx raddr 0.0.0.0 rport 0\r\n"
           "a=end-of-candidates\r\n")
    out, hidden = hide_mdns_candidates(sdp)
    assert hidden == 1
    assert ".local" not in out and "203.0.113.7" in out and "end-of-candidates" not in out
    assert hide_mdns_candidates(out) == (out, 0)
    # An offer without any candidate (all gathering blocked) must not make the engine answer without its own.
    bare = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=end-of-candidates\r\n"
    assert hide_mdns_candidates(bare) == ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", 0)
    assert offered_candidates(sdp) == {"mdns": 1, "srflx": 1}


def test_an_engine_on_a_machine_without_network_still_answers_with_a_candidate(monkeypatch: pytest.MonkeyPatch):
    # aioice leaves loopback out of its addresses: on a laptop offline (only loopback) the engine answered with no
    # candidate at all. The machine's interfaces are the far edge here: ifaddr reports loopback only.
    import ifaddr

    loopback = ifaddr.Adapter("lo", "lo", [ifaddr.IP("127.0.0.1", 8, "lo")])
    monkeypatch.setattr(ifaddr, "get_adapters", lambda: [loopback])
    engine = MediaEngine(host_addresses=None, decode_video=False)
    engine.start()

    async def offer() -> str:
        pc = RTCPeerConnection()
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    try:
        sdp = asyncio.run(offer())
        answer = engine.answer("attempt-offline", sdp, lambda _s, _p: CollectSink())
    finally:
        engine.stop()
    assert {ln.split()[4] for ln in candidates(answer)} == {"127.0.0.1"}, candidates(answer)
