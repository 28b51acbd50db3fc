"""Cameras that are software: the device label of a known virtual camera, noted for the reviewer.

A virtual camera (OBS, ManyCam, Snap Camera, v4l2loopback, ...) shows the browser whatever video a program
makes: a face-animation tool's warped photo as easily as a real webcam's picture. Many people use one for
good reasons (a background blur, a better webcam app), and the label is whatever the sender's browser
reports, so a named virtual camera is information for the person who reviews the check, never a reason
for the computer to refuse; a label that names none is not stored (it says nothing the reviewer needs).
"""

from __future__ import annotations

import re

MAX_LABEL = 200  # longest label kept (browsers' labels are short)

#: (what a label contains, lower case; the product named to the reviewer, "" for a virtual camera of no known make)
KNOWN: tuple[tuple[str, str], ...] = (
    ("obs virtual camera", "OBS Studio"), ("obs-camera", "OBS Studio"), ("obs camera", "OBS Studio"),
    ("manycam", "ManyCam"), ("xsplit", "XSplit VCam"), ("snap camera", "Snap Camera"),
    ("v4l2loopback", "v4l2loopback (Linux)"), ("dummy video device", "v4l2loopback (Linux)"),
    ("unity video capture", "Unity Video Capture"), ("e2esoft", "e2eSoft VCam"), ("vcam", "VCam"),
    ("droidcam", "DroidCam"), ("iriun", "Iriun Webcam"), ("epoccam", "EpocCam"), ("camtwist", "CamTwist"),
    ("mmhmm", "mmhmm"), ("nvidia broadcast", "NVIDIA Broadcast"), ("splitcam", "SplitCam"),
    ("youcam", "CyberLink YouCam"), ("avatarify", "Avatarify"), ("chromacam", "ChromaCam"),
    ("camo", "Camo"), ("newtek ndi", "NDI Virtual Input"), ("ndi virtual", "NDI Virtual Input"),
    ("virtual camera", ""), ("virtual webcam", ""), ("virtual cam", ""), ("virtual video", ""),
)
_WORD = {"camo", "vcam"}  # short names matched as whole words only ("camouflage", "vcamera" are not)


def clean_label(label: object) -> str | None:
    """The label as sent, if it is text: control and direction characters as spaces, spaces squeezed, at most
    ``MAX_LABEL`` characters."""
    if not isinstance(label, str):
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in label).split())[:MAX_LABEL]
    return text or None


def virtual_camera(label: object) -> str | None:
    """The product a camera's device label names if it is a known virtual camera ("" where the label says it
    is virtual but names no known make), else None."""
    text = (clean_label(label) or "").lower()
    for needle, product in KNOWN:
        if needle in _WORD:
            if re.search(rf"\b{needle}\b", text):
                return product
        elif needle in text:
            return product
    return None


def words(label: str | None) -> str:
    """What the reviewer reads about a noted camera label, in the reader's language ("" if none is noted)."""
    from flask_babel import gettext as _

    if not label:
        return ""
    product = virtual_camera(label)
    if product:
        return _("The camera reported its name as “%(label)s”: a virtual camera (%(product)s), software that can "
                 "show any video, such as an animated photo, instead of a camera picture. For your information "
                 "only: many people use one for harmless reasons (a blurred background), and it is no reason "
                 "to refuse by itself.", label=label, product=product)
    return _("The camera reported its name as “%(label)s”: a virtual camera, software that can show any video, "
             "such as an animated photo, instead of a camera picture. For your information only: many people "
             "use one for harmless reasons (a blurred background), and it is no reason to refuse by itself.",
             label=label)
