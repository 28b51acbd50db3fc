"""Liveness: did a live head follow a random challenge of moves, each in time?

The server draws at least ``STEPS`` different moves out of ``MOVES`` and prompts them one at a time,
each with a deadline. ``decide`` is a pure function over (challenge with step times, timestamped
frames, the reference face encodings): no clock, no storage, the same answer for the same input.

Per frame: mediapipe's face mesh (468 landmarks with depth) and the head's 3D rotation against the
neutral frame taken before the first prompt (``idcheck.pose``). A step counts only when the first clear
movement after its prompt (away from the neutral pose, not the previous step's move still held) goes
the asked way, mainly along the asked axis, inside the deadline. The movement must show the parallax of
a head: landmarks that one smooth warp of the neutral ones explains (a flat or bent picture moved
about) fail. And it must show a head in its pixels: a still photo warped in 2D so that its landmarks
follow a turn (a face-animation tool behind a virtual camera) moves the neutral frame's pixels about but
never changes their light; at least one step's peak must show the light on the face change across it
beyond what the best warp of the neutral frame explains (``idcheck.warp``).

Who it is: every analysed frame, from the neutral one on without a hole, must show one face, and the
face is tracked from frame to frame (no frame without a face, no jump of the face's box, no gap in
time). The face encoding (dlib's 5-point alignment and ResNet encoder, about 90 ms a frame, most of
the cost) must be the person of the references (the selfie, the ID photo) on the neutral frame, on the
peak of every move, and on each frame where the track breaks: another person cannot take over without
a break, and whoever makes a move is identified making it. Where the caller has already encoded a frame
(the job's selfie is the last frame before the first prompt, encoded for the match), that encoding is used.

What still passes: a real-time deepfake or a replayed 3D rendering fed to the camera (or a warp that
also repaints the light), and a person-shaped mask worn by someone who turns. What is refused though it
may be a person: a head in perfectly even light, whose light does not change as it turns. A doubtful
result is never a refusal by itself: the check goes to a person (idcheck.verification).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MOVES = ("left", "right", "up", "down")
STEPS = 3
STEP_MS = 3000  # deadline of each step after its prompt
LEAD_MS = 2000  # looking straight before the first prompt (the neutral frame and the selfie come from here;
# the engine's decoder also waits for a keyframe then)
CLEAR_DEG = {"yaw": 12.0, "pitch": 9.0}  # rotation from neutral that counts as a clear movement
NEUTRAL_DEG = 6.0  # at most this far from neutral: looking straight again
OFF_AXIS = 0.7  # the other axis must stay below this fraction of the asked one (no diagonal answers)
# sheet error / head error below this: a moved picture (measured on 4 photos: flat or bent pictures
# turned up to 45 degrees 0.1-0.5, rendered 3D heads 0.8-2.7)
MIN_PARALLAX = 0.65
# light change across the face at a move's peak, beyond the best warp of the neutral frame (idcheck.warp),
# that at least one step must show (measured: warped photos 0.01-0.13; the 3D stand-ins of five photos under
# a lamp 0.50-0.90 turning sideways, 0.09-0.44 up or down; every challenge of 3 of the 4 moves has a sideways one)
MIN_LIGHT_CHANGE = 0.25
SAME_PERSON_MAX = 0.6  # face distance above which a frame shows someone else (matching.no_match_min)
MAX_FACELESS = 0.25  # share of frames without a face beyond which the sequence is refused
TRACK_SHIFT = 0.5  # the face's centre moving more than this share of its size between frames breaks the track
TRACK_SCALE = 1.5  # nor may its size change by more than this factor
TRACK_GAP_MS = 450  # frames further apart than this (the engine takes 5 a second) break the track

_AXIS = {"left": ("yaw", 1.0), "right": ("yaw", -1.0), "up": ("pitch", 1.0), "down": ("pitch", -1.0)}


@dataclasses.dataclass(frozen=True)
class Step:
    """One prompted move: ``move`` asked at ``prompted_ms``, to be answered by ``deadline_ms``."""

    move: str
    prompted_ms: int
    deadline_ms: int


@dataclasses.dataclass(frozen=True)
class Challenge:
    """The steps in the order they were prompted."""

    steps: tuple[Step, ...]

    @property
    def moves(self) -> list[str]:
        """The asked moves in order."""
        return [s.move for s in self.steps]


@dataclasses.dataclass(frozen=True)
class Frame:
    """An RGB frame and when it was captured (ms, same clock as the challenge)."""

    t_ms: int
    image: np.ndarray


@dataclasses.dataclass(frozen=True)
class StepResult:
    """How one step went: the first clear movement after its prompt, and whether it counts."""

    move: str
    passed: bool
    reason: str
    at_ms: int | None = None
    yaw: float | None = None
    pitch: float | None = None
    parallax: float | None = None
    light: float | None = None  # the light change at the peak (idcheck.warp.light_change)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, angles rounded."""
        d = dataclasses.asdict(self)
        for k in ("yaw", "pitch", "parallax", "light"):
            if d[k] is not None:
                d[k] = round(d[k], 2)
        return d


@dataclasses.dataclass(frozen=True)
class LivenessResult:
    """Whether the challenge was followed by a live head, why not, each step's result, and how many
    frames were analysed (the analysis stops at a refusal, and after the last step's movement)."""

    passed: bool
    reason: str
    steps: tuple[StepResult, ...] = ()
    frames_analysed: int = 0
    frames_identified: int = 0

    def as_dict(self) -> dict[str, Any]:
        """``{"passed", "reason", "steps"}``."""
        return {"passed": self.passed, "reason": self.reason, "steps": [s.as_dict() for s in self.steps]}


@dataclasses.dataclass
class _Seen:
    index: int
    t_ms: int
    mesh: Any = None
    yaw: float = 0.0
    pitch: float = 0.0
    identified: bool = False


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Viewer:
    """Frames analysed on demand, in time order: a refusal stops the work early (and the cost with it).

    Each analysed frame must show one face; its pose is taken against the neutral frame. From the neutral
    frame on, frames are analysed without a hole; a face whose track breaks is identified at once.
    """

    def __init__(self, frames: Sequence[Frame], references: Sequence[np.ndarray],
                 encoded: Mapping[int, np.ndarray] | None = None) -> None:
        self.frames = sorted(frames, key=lambda f: f.t_ms)
        self.references = [np.asarray(r, dtype=np.float64) for r in references]
        self.encoded = dict(encoded or {})
        self.neutral: _Seen | None = None
        self.seen: dict[int, _Seen] = {}
        self.faceless = 0
        self.identified = 0
        self._triangles: np.ndarray | None = None

    def light_change(self, seen: _Seen) -> float:
        """The light change on the face of ``seen`` against the neutral frame (``idcheck.warp``)."""
        from idcheck import warp

        neutral = self.neutral
        if neutral is None or neutral.mesh is None or seen.mesh is None:
            raise ValueError("the light change is measured against the neutral frame's face")
        if self._triangles is None:  # the neutral landmarks' triangles, once
            self._triangles = warp.triangles(neutral.mesh.xy, neutral.mesh.width, neutral.mesh.height)
        return warp.light_change(self.frames[neutral.index].image, neutral.mesh, self.frames[seen.index].image,
                                 seen.mesh, self._triangles)

    def at(self, i: int) -> _Seen:
        if i in self.seen:
            return self.seen[i]
        if self.neutral is not None:  # forward from the neutral frame: the frames in between too
            for j in range(max(self.seen) + 1, i):
                self._look(j)
        return self._look(i)

    def _look(self, i: int) -> _Seen:
        from idcheck import pose

        frame = self.frames[i]
        found = pose.meshes(frame.image)
        if len(found) > 1:
            raise _Refused(f"two faces at {frame.t_ms} ms")
        seen = _Seen(i, frame.t_ms, found[0] if found else None)
        self.seen[i] = seen
        if seen.mesh is None:
            self.faceless += 1
            return seen
        if not self._tracked(seen):
            self.identify(seen)
        if self.neutral is not None:
            p = pose.pose(self.neutral.mesh, seen.mesh)
            seen.yaw, seen.pitch = p.yaw, p.pitch
        return seen

    def _tracked(self, seen: _Seen) -> bool:
        """Whether the face of ``seen`` continues the face of the frame before it."""
        before = self.seen.get(seen.index - 1)
        if before is None or before.mesh is None or seen.t_ms - before.t_ms > TRACK_GAP_MS:
            return False
        (t0, r0, b0, l0), (t1, r1, b1, l1) = before.mesh.box, seen.mesh.box
        size0, size1 = max(r0 - l0, b0 - t0, 1), max(r1 - l1, b1 - t1, 1)
        shift = float(np.hypot((l1 + r1 - l0 - r0) / 2, (t1 + b1 - t0 - b0) / 2))
        return shift <= TRACK_SHIFT * size0 and max(size0, size1) <= TRACK_SCALE * min(size0, size1)

    def identify(self, seen: _Seen) -> None:
        """Refuse unless the face of ``seen`` is the person of the references (the first identified face
        is the reference when none was given)."""
        from idcheck import faces
        from idcheck.matching import distance

        if seen.identified or seen.mesh is None:
            return
        known = self.encoded.get(seen.t_ms)
        if known is not None:  # the caller's encoding of this very frame (the selfie is the neutral frame)
            encoding = np.asarray(known, dtype=np.float64)
        else:
            encoding = np.asarray(faces.encodings(self.frames[seen.index].image, [seen.mesh.box])[0],
                                  dtype=np.float64)
        seen.identified = True
        self.identified += 1
        if not self.references:
            self.references = [encoding]  # the neutral frame, when no selfie is given
        d = max(distance(r, encoding) for r in self.references)
        if d > SAME_PERSON_MAX:
            raise _Refused(f"another person at {seen.t_ms} ms (face distance {d:.2f})")

    def window(self, after_ms: int, until_ms: int | None) -> Iterator[_Seen]:
        """Analysed frames with a face, after ``after_ms`` up to ``until_ms`` (None: to the end)."""
        for i, f in enumerate(self.frames):
            if f.t_ms > after_ms and (until_ms is None or f.t_ms <= until_ms):
                seen = self.at(i)
                if seen.mesh is not None:
                    yield seen


def draw_challenge(steps: int = STEPS) -> list[str]:
    """A random order of ``steps`` different moves (cryptographic randomness)."""
    pool = list(MOVES)
    out = []
    for _i in range(steps):
        out.append(pool.pop(secrets.randbelow(len(pool))))
    return out


def schedule(moves: Sequence[str], first_prompt_ms: int, step_ms: int = STEP_MS) -> Challenge:
    """Steps prompted one after another from ``first_prompt_ms``, each with ``step_ms`` to answer."""
    return Challenge(tuple(Step(m, first_prompt_ms + i * step_ms, first_prompt_ms + (i + 1) * step_ms)
                           for i, m in enumerate(moves)))


def _fail(reason: str, steps: Sequence[StepResult] = (), view: _Viewer | None = None) -> LivenessResult:
    return LivenessResult(False, reason, tuple(steps), len(view.seen) if view else 0, view.identified if view else 0)


def _direction(seen: _Seen) -> str | None:
    """The move a frame shows, if it is a clear one along one axis; None if not clear."""
    yaw, pitch = seen.yaw, seen.pitch
    clear_yaw, clear_pitch = abs(yaw) >= CLEAR_DEG["yaw"], abs(pitch) >= CLEAR_DEG["pitch"]
    if not (clear_yaw or clear_pitch):
        return None
    # compare in units of each axis's threshold: the dominant one is the move
    if abs(yaw) / CLEAR_DEG["yaw"] >= abs(pitch) / CLEAR_DEG["pitch"]:
        return "left" if yaw > 0 else "right"
    return "up" if pitch > 0 else "down"


def _diagonal(seen: _Seen, move: str) -> bool:
    axis, _sign = _AXIS[move]
    main, other = (seen.yaw, seen.pitch) if axis == "yaw" else (seen.pitch, seen.yaw)
    other_clear = CLEAR_DEG["pitch" if axis == "yaw" else "yaw"]
    main_clear = CLEAR_DEG[axis]
    return abs(other) / other_clear > OFF_AXIS * abs(main) / main_clear


def decide(challenge: Challenge, frames: Sequence[Frame], references: Sequence[np.ndarray] = (),
           encoded: Mapping[int, np.ndarray] | None = None) -> LivenessResult:
    """Did a live head, the person of ``references``, follow ``challenge`` in ``frames``?

    ``references`` are face encodings (the selfie, the ID photo); without any, the neutral frame (the
    last with a face before the first prompt) is the reference. ``encoded``: face encodings the caller
    already made of some of the frames, by capture time (the job's selfie is the last frame before the
    first prompt, encoded for the match); they are used instead of encoding those frames again. Frames
    are put in time order here.
    """
    moves = challenge.moves
    if len(moves) < STEPS or any(m not in _AXIS for m in moves):
        return _fail(f"challenge must be at least {STEPS} known moves, got {moves}")
    if any(b.prompted_ms < a.deadline_ms for a, b in zip(challenge.steps, challenge.steps[1:], strict=False)):
        return _fail("challenge steps overlap")
    view = _Viewer(frames, references, encoded)
    results: list[StepResult] = []
    try:
        before = [i for i, f in enumerate(view.frames) if f.t_ms < challenge.steps[0].prompted_ms]
        view.neutral = next((view.at(i) for i in reversed(before) if view.at(i).mesh is not None), None)
        if view.neutral is None:
            return _fail("no frame with a face before the first prompt", view=view)
        view.identify(view.neutral)
        for i, step in enumerate(challenge.steps):
            until = challenge.steps[i + 1].prompted_ms if i + 1 < len(challenge.steps) else None
            result = _step(step, moves[i - 1] if i else None, view.window(step.prompted_ms, until), view)
            results.append(result)
            if not result.passed:
                return _fail(f"step {i + 1} ({step.move}): {result.reason}", results, view)
    except _Refused as refused:
        return _fail(refused.reason, results, view)
    light = max(r.light or 0.0 for r in results)
    if light < MIN_LIGHT_CHANGE:
        return _fail(f"moves like a warped still picture, not a head: the light on the face changed at no turn "
                     f"(at most {light:.2f})", results, view)
    if view.faceless > MAX_FACELESS * len(view.seen):
        return _fail("face not visible in enough frames", results, view)
    return LivenessResult(True, "challenge followed by a live head", tuple(results), len(view.seen), view.identified)


def _step(step: Step, previous: str | None, window: Iterator[_Seen], view: _Viewer) -> StepResult:
    from idcheck import pose

    neutral = view.neutral
    if neutral is None:
        raise ValueError("steps are judged against the neutral frame, found first")

    back = previous is None
    for s in window:
        direction = _direction(s)
        if direction is None:
            back = back or max(abs(s.yaw), abs(s.pitch)) <= NEUTRAL_DEG
            continue
        if direction == previous and not back:
            continue  # the previous move still held: not a movement after this prompt
        if s.t_ms > step.deadline_ms:
            return StepResult(step.move, False, f"first clear movement at {s.t_ms} ms, after the deadline",
                              s.t_ms, s.yaw, s.pitch)
        if direction != step.move:
            return StepResult(step.move, False, f"first clear movement went {direction}", s.t_ms, s.yaw, s.pitch)
        # the movement's peak inside the deadline: the strongest evidence of a head (or of a picture)
        axis = _AXIS[step.move][0]
        peak = s
        for nxt in window:
            if nxt.t_ms > step.deadline_ms or _direction(nxt) != direction:
                break
            if abs(nxt.yaw if axis == "yaw" else nxt.pitch) > abs(peak.yaw if axis == "yaw" else peak.pitch):
                peak = nxt
        if _diagonal(peak, step.move):
            return StepResult(step.move, False, "movement not along the asked axis", peak.t_ms, peak.yaw, peak.pitch)
        par = pose.parallax(neutral.mesh, peak.mesh)
        if par < MIN_PARALLAX:
            return StepResult(step.move, False, "moves like a flat or bent picture, not a head",
                              peak.t_ms, peak.yaw, peak.pitch, par)
        view.identify(peak)  # whoever made the move
        return StepResult(step.move, True, "followed", s.t_ms, peak.yaw, peak.pitch, par, view.light_change(peak))
    return StepResult(step.move, False, f"no clear movement {step.move} within the deadline")


def steps_json(challenge: Challenge) -> list[dict[str, Any]]:
    """The challenge as stored with the check: each step's move, prompt and deadline (unix ms)."""
    return [dataclasses.asdict(s) for s in challenge.steps]


def challenge_from_json(steps: Sequence[Any]) -> Challenge | None:
    """The inverse of ``steps_json``; None for anything else (none yet, or a challenge stored without times)."""
    try:
        challenge = Challenge(tuple(Step(str(s["move"]), int(s["prompted_ms"]), int(s["deadline_ms"]))
                                    for s in steps))
    except (TypeError, KeyError, ValueError):
        return None
    return challenge if challenge.steps else None


def frames_from_folder(folder: str | Path) -> list[Frame]:
    """Frames from image files named by their capture time in ms (e.g. ``1200.jpg``)."""
    from idcheck.images import load_upload

    out = []
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.stem.isdigit():
            out.append(Frame(int(path.stem), load_upload(path.read_bytes(), max_bytes=64 * 1024 * 1024)))
    return sorted(out, key=lambda f: f.t_ms)


def decide_folder_json(moves: Sequence[str], folder: str | Path, first_prompt_ms: int | None = None,
                       step_ms: int = STEP_MS) -> str:
    """``flask idcheck liveness``: the decision over a folder of frames, as one JSON object.

    Without ``first_prompt_ms`` the first prompt is taken 1 s after the first frame.
    """
    frames = frames_from_folder(folder)
    if not frames:
        return json.dumps(_fail("no frames named by capture time (ms) in the folder").as_dict())
    start = first_prompt_ms if first_prompt_ms is not None else frames[0].t_ms + 1000
    return json.dumps(decide(schedule(moves, start, step_ms), frames).as_dict())
