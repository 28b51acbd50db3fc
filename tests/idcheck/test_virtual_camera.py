"""A camera whose device label names a known virtual camera is noted for the reviewer, in words; never refused.

The label travels with the camera's offer (tests/idcheck/test_live_challenge.py sends it over the real route);
here: which labels count, and what the reviewer reads.
"""

from __future__ import annotations

import pytest

from idcheck.cameras import virtual_camera
from idcheck.live_check import note_camera
from tests.idcheck.test_decisions import in_review, setup, the_check  # noqa: F401  (setup is a fixture)

VIRTUAL = {
    "OBS Virtual Camera": "OBS Studio", "ManyCam Virtual Webcam": "ManyCam", "XSplit VCam": "XSplit VCam",
    "Snap Camera": "Snap Camera", "Dummy video device (0x0000)": "v4l2loopback (Linux)",
    "v4l2loopback: Virtual Cam": "v4l2loopback (Linux)", "Unity Video Capture": "Unity Video Capture",
    "e2eSoft VCam": "e2eSoft VCam", "DroidCam Source 3": "DroidCam", "Iriun Webcam": "Iriun Webcam",
    "Camo": "Camo", "NVIDIA Broadcast": "NVIDIA Broadcast", "My Virtual Camera": "",
}
REAL = ["FaceTime HD Camera", "Integrated Camera (04f2:b6d9)", "HD Pro Webcam C920 (046d:082d)",
        "Logitech BRIO", "USB2.0 HD UVC WebCam", "Microsoft® LifeCam HD-3000", "Camouflage cam", "", None]


@pytest.mark.parametrize("label", VIRTUAL)
def test_known_virtual_cameras_are_named(label):
    assert virtual_camera(label) == VIRTUAL[label]


@pytest.mark.parametrize("label", REAL)
def test_real_webcams_are_not(label):
    assert virtual_camera(label) is None


def test_the_reviewer_reads_about_a_virtual_camera_in_words_and_nothing_about_a_real_one(setup, faces):  # noqa: F811
    exam, cand, client, staff = setup
    in_review(client, exam, faces)
    check = the_check(cand)
    note_camera(check, "Integrated Camera")  # a real webcam: nothing kept, nothing shown
    assert the_check(cand).virtual_camera is None
    assert 'id="virtual-camera"' not in staff.get(f"/review/identity/{check.id}").get_data(as_text=True)
    note_camera(the_check(cand), "OBS Virtual Camera")
    note_camera(the_check(cand), "Integrated Camera")  # switching back later does not erase the note
    assert the_check(cand).virtual_camera == "OBS Virtual Camera"
    page = staff.get(f"/review/identity/{check.id}").get_data(as_text=True)
    assert 'id="virtual-camera"' in page
    assert "„OBS Virtual Camera“ gemeldet: eine virtuelle Kamera (OBS Studio)" in page
    assert "kein Grund zur Ablehnung" in page
    assert the_check(cand).status.value == "review"  # the note changes no decision
