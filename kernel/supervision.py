"""Supervision events one domain announces and another acts on, without the first importing the second.

A proctor's pause or termination, a flag of a candidate's session and an identity a person rejected are announced
here by ``proctoring`` and ``idcheck``; ``lti.proctoring`` listens (the app factory registers it) and tells a
learning platform whose assessment runs under LTI Proctoring. Listeners run after the announcing transaction has
committed and must not raise: the proctor's action stands whatever a listener does.
"""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[int, int, str, str, float], object]
"""``(user_id, exam_id, event, reason, severity)``; ``event`` is ``pause``, ``terminate``, ``flag`` or
``identity_rejected``."""

LISTENERS: list[Listener] = []


def listen(listener: Listener) -> None:
    """Register ``listener`` once (the app factory may run more than once in a process)."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def announce(user_id: int, exam_id: int, event: str, reason: str = "", severity: float = 0.5) -> None:
    """Hand a supervision event of ``user_id`` at ``exam_id`` to every listener."""
    for listener in LISTENERS:
        listener(user_id, exam_id, event, reason, severity)
