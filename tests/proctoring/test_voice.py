"""Sustained voice activity from RTP audio levels: speech raises the advisory flag, silence and a hum do not."""

from __future__ import annotations

import fractions
import random

import numpy as np
import pytest
from sqlalchemy import select

from kernel.db import db
from proctoring.flags import add_accommodation
from proctoring.models import Flag, FlagKind
from proctoring.voice import VoiceDetector
from tests.proctoring.conftest import send_for
from tests.proctoring.test_recording import live  # noqa: F401

PACKET = 0.02


def feed(levels: list[int]) -> VoiceDetector:
    det = VoiceDetector()
    for i, level in enumerate(levels):
        det.add(i * PACKET, level)
    return det


def speech_levels(seconds: float, rng: random.Random) -> list[int]:
    """Syllables (loud, varying) with short pauses, 20 ms packets."""
    out: list[int] = []
    while len(out) * PACKET < seconds:
        out += [rng.randint(15, 40)] * rng.randint(5, 12)  # a syllable, 100-240 ms
        out += [rng.choice([70, 127])] * rng.randint(1, 5)  # a short pause
    return out


def test_detector_tells_speech_from_silence_and_a_hum():
    rng = random.Random(7)
    speech = speech_levels(10, rng)
    assert feed(speech).sustained(len(speech) * PACKET)
    short = speech_levels(4, rng)
    assert not feed(short).sustained(len(short) * PACKET)  # four seconds are not "sustained"
    assert not feed([127] * 500).sustained(10)  # silence
    assert not feed([30] * 500).sustained(10)  # a fan or a hum: loud but steady
    quiet = [rng.randint(60, 90) for _ in range(500)]
    assert not feed(quiet).sustained(10)  # room noise


def speaking_track():
    """An aiortc audio track whose loudness follows syllables (noise bursts with pauses)."""
    import av
    from aiortc.mediastreams import AudioStreamTrack

    rng = np.random.default_rng(3)

    class Speaking(AudioStreamTrack):
        async def recv(self) -> av.AudioFrame:
            frame = await super().recv()  # silence with the right timing
            n = frame.samples
            if not hasattr(self, "_left"):
                self._left, self._loud = 0, True
            if self._left <= 0:
                self._loud = not self._loud
                self._left = int(rng.integers(5, 12)) if self._loud else int(rng.integers(1, 4))
                self._gain = float(10 ** rng.uniform(2.7, 4.2))  # syllables from about -36 to -6 dBov
            self._left -= 1
            data = (rng.standard_normal(n) * (self._gain if self._loud else 20)).astype(np.int16)
            out = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
            out.sample_rate, out.pts, out.time_base = frame.sample_rate, frame.pts, fractions.Fraction(1, 8000)
            return out

    return Speaking()


def voice_flags(attempt_id: int) -> list[Flag]:
    db.session.rollback()
    return list(db.session.scalars(select(Flag).where(Flag.attempt_id == attempt_id, Flag.kind == FlagKind.VOICE)))


@pytest.mark.parametrize("silenced", [False, True])
def test_talking_candidate_raises_the_voice_flag_unless_silenced(live, make_user, silenced):  # noqa: F811
    if silenced:
        add_accommodation(_candidate_id(live), live["exam"].id, FlagKind.VOICE, "liest laut (Nachteilsausgleich)",
                          make_user("staff", live["inst"]))
    send_for(live["client"], live["attempt_id"], 11.0, audio=speaking_track)
    flags = voice_flags(live["attempt_id"])
    if silenced:
        assert flags == []
    else:
        assert len(flags) == 1 and flags[0].detail.get("source") == "audio"


def test_a_silent_candidate_raises_no_voice_flag(live):  # noqa: F811
    send_for(live["client"], live["attempt_id"], 10.0)
    assert voice_flags(live["attempt_id"]) == []


def _candidate_id(fixture) -> int:
    from exams.models import Attempt

    return db.session.get(Attempt, fixture["attempt_id"]).user_id
