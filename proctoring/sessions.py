"""Media sessions: how a session is named, and the sink of a stream that is not kept.

Shared by the engine wiring (``proctoring.live``), the interface to engines (``proctoring.media``) and
the system check, none of which needs the others for this.
"""

from __future__ import annotations


def session_id(attempt_id: int) -> str:
    """The media session of an attempt."""
    return f"attempt-{attempt_id}"


def attempt_of(session: str) -> int | None:
    """The attempt id of a media session id."""
    prefix, _, num = session.partition("-")
    return int(num) if prefix == "attempt" and num.isdigit() else None


def check_session_id(user_id: int, exam_id: int) -> str:
    """The media session of a candidate's system check for an exam."""
    return f"check-{user_id}-{exam_id}"


def identity_session_id(user_id: int, exam_id: int) -> str:
    """The media session in which a proctor compares a candidate's face with the ID document (not recorded)."""
    return f"identity-{user_id}-{exam_id}"


#: Blob category of the phone's recording parts (storage.retention: the attempt's rule, as the webcam's parts).
PHONE_CATEGORY = "phone_recording"


def phone_session_id(attempt_id: int) -> str:
    """The media session of an attempt's second camera, the paired phone (recorded; proctoring.phone)."""
    return f"phone-{attempt_id}"


def phone_attempt_of(session: str) -> int | None:
    """The attempt id of a phone's media session id."""
    prefix, _, num = session.partition("-")
    return int(num) if prefix == "phone" and num.isdigit() else None


def phone_check_session_id(user_id: int, exam_id: int) -> str:
    """The media session of a paired phone before the exam starts (nothing kept; the start gate reads it)."""
    return f"phonecheck-{user_id}-{exam_id}"


class DiscardSink:
    """The connection test's stream goes nowhere: nothing is written anywhere."""

    def write(self, data: bytes) -> int:
        """Drop the bytes."""
        return len(data)

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""

    def finish_cut(self) -> bool:
        """Nothing was kept."""
        return False
