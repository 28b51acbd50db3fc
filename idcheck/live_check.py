"""The liveness challenge on the live camera: the candidate's camera is connected to our media engine,
the server draws and times the moves, and the engine takes the frames from the received video.

No picture is uploaded by the page: the camera connects over WebRTC in the check's own media session
(the one the check by a proctor uses; nothing is recorded), the server draws the moves and prompts them
one at a time through ``verification.live_prompt`` (the page asks a few times a second and learns only
the current move), and the media engine decodes the received video during the challenge, keeps a few
frames a second timed by the server's own clock at arrival (never the sender's RTP timestamps, which a
sender chooses) and hands them to ``verification.accept_live_frames``, which queues the identity job.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import gettext as _

from accounts.models import User
from exams.models import Exam
from idcheck.models import IdCheck, IdCheckStatus
from kernel.errors import Conflict
from proctoring.sessions import identity_session_id

#: Frames a second the engine keeps of the received video during the challenge (IDCHECK_LIVENESS_FPS).
FPS = 5.0
#: The engine keeps taking frames this long after the last deadline (a movement answered at the edge).
TAIL_MS = 400


def session_of(check: IdCheck) -> str:
    """The media session of a candidate's identity check (live challenge or check by a proctor)."""
    return identity_session_id(check.user_id, check.exam_id)


def camera_check(candidate: User, exam: Exam) -> IdCheck:
    """The candidate's automatic check if it may connect its camera for the challenge, else Conflict."""
    from idcheck.verification import check_for

    check = check_for(candidate, exam)
    if check is None or not check.biometric or check.status not in (IdCheckStatus.STARTED, IdCheckStatus.RETAKE):
        raise Conflict(_("Your identity check does not wait for the camera."))
    return check


def connect_camera(app: Flask, check: IdCheck, sdp: object, camera_label: object = None) -> str:
    """Connect the candidate's camera and microphone to the media engine (nothing is recorded); a device
    label that names a known virtual camera is noted for the reviewer (``note_camera``)."""
    from proctoring.media import media

    note_camera(check, camera_label)
    return media(app).offer(session_of(check), sdp, None)


def note_camera(check: IdCheck, camera_label: object) -> None:
    """Keep the camera's device label (as the page reports it) if it names a known virtual camera: for the
    reviewer, never a refusal. Once noted it stays for the check (a later real camera does not erase it)."""
    from idcheck.cameras import clean_label, virtual_camera
    from kernel.db import db

    if virtual_camera(camera_label) is not None:
        check.virtual_camera = clean_label(camera_label)
        db.session.commit()


def start_challenge(app: Flask, check: IdCheck, now: dt.datetime) -> dict[str, Any]:
    """Draw and time the challenge once the engine receives the camera, and have it take the frames."""
    from idcheck.verification import begin_live_challenge, live_prompt, ready_for_challenge
    from proctoring.media import media

    ready_for_challenge(check, now)
    svc = media(app)
    stats = svc.stats(session_of(check))
    if not stats or stats.get("state") != "connected" or int(stats.get("video_frames") or 0) < 5:
        raise Conflict(_("We do not receive your camera yet. Please wait a moment and try again."))
    challenge = begin_live_challenge(check, now)
    until = (challenge.steps[-1].deadline_ms + TAIL_MS) / 1000
    try:
        svc.capture_liveness(session_of(check), check.id, challenge.steps[0].prompted_ms, until,
                             float(app.config.get("IDCHECK_LIVENESS_FPS", FPS)))
    except Exception:
        # the engine lost the camera in between: this try does not count against the retakes
        from kernel.db import db

        check.selfie_uploads, check.challenge = max(0, check.selfie_uploads - 1), []
        db.session.commit()
        raise
    return live_prompt(check, now)
