"""Checks on an SDP offer before it reaches aiortc: size, shape, media and codecs. Bad offers get a 400."""

from __future__ import annotations

import re

from kernel.errors import DomainError

MAX_SDP_BYTES = 64 * 1024
_LINE = re.compile(r"^[a-z]=.*$")


class BadOffer(DomainError):
    """The SDP offer is malformed, too large, or lacks what we need."""

    status = 400
    code = "bad_sdp"


def check_offer(sdp: object) -> str:
    """Return the offer if it is plausible: text, at most 64 KiB, audio and VP8 (or H.264) video, well-formed lines."""
    if not isinstance(sdp, str):
        raise BadOffer("The offer must be SDP text.")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise BadOffer("The offer is too large.")
    lines = [ln for ln in sdp.replace("\r\n", "\n").split("\n") if ln]
    if not lines or lines[0] != "v=0":
        raise BadOffer("The offer is not SDP (it must start with v=0).")
    if any(not _LINE.match(ln) or "\x00" in ln for ln in lines):
        raise BadOffer("The offer has malformed lines.")
    media = [ln.split()[0][2:] for ln in lines if ln.startswith("m=")]
    if "audio" not in media or "video" not in media:
        raise BadOffer("The offer must contain an audio and a video stream (camera and microphone).")
    if not any(re.match(r"^a=rtpmap:\d+ (VP8|H264)/90000", ln) for ln in lines):
        raise BadOffer("The browser must offer VP8 video (or H.264, which is re-encoded).")
    if not any(re.match(r"^a=rtpmap:\d+ opus/48000", ln, re.IGNORECASE) for ln in lines):
        raise BadOffer("The browser must offer Opus audio.")
    if not any(ln.startswith("a=fingerprint:") for ln in lines):
        raise BadOffer("The offer has no DTLS fingerprint.")
    return sdp if sdp.endswith("\n") else sdp + "\r\n"
