"""The liveness spoof set (bench/spoofs.py): every attack refused, the genuine 3D stand-in passes.

Builds each case from tests/data/faces, runs ``idcheck.liveness.decide`` on one core, and prints a
Markdown table of the cases and results (ready for the README), then one JSON line:
``spoofs_accepted`` (attacks that passed: must be 0), ``genuine_passed`` and ``liveness_ms_per_frame``
(median over the cases of the decision's CPU time per analysed frame on one core: face mesh, pose,
face encoding; CPU time, so that other work on a shared machine does not count) and
``liveness_wall_ms_per_frame`` (the same in wall-clock time), ``light_change_genuine`` (the stand-in's largest
light change of a step, ``idcheck.warp``) and ``light_change_attacks_max`` (the largest of any attack that got
that far; ``liveness.MIN_LIGHT_CHANGE`` lies between).

    .venv/bin/python bench/liveness.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GLOG_minloglevel", "2")


def main() -> None:
    """Run every case and print the table and the JSON line."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    print(json.dumps(measure()))


def measure() -> dict[str, Any]:
    """Run the genuine stand-in and every attack through ``decide``, print the table; returns the figures
    (``bench/idcheck.py`` prints them in its own last line too)."""
    from bench.spoofs import ATTACKS, GENUINE, SpoofSet
    from idcheck.liveness import decide

    cases = SpoofSet(REPO / "tests" / "data" / "faces")
    accepted, per_frame, wall_per_frame, genuine_passed = 0, [], [], False
    light: dict[str, float] = {}  # the largest light change of a step (idcheck.warp), per case that got that far
    print("| case | expected | result | reason |")
    print("|---|---|---|---|")
    for name in (GENUINE, *ATTACKS):
        challenge, frames = cases.case(name)
        t0, c0 = time.perf_counter(), time.process_time()
        result = decide(challenge, frames)
        wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        per_frame.append(cpu / max(result.frames_analysed, 1))
        wall_per_frame.append(wall / max(result.frames_analysed, 1))
        if any(st.light is not None for st in result.steps):
            light[name] = max(st.light or 0.0 for st in result.steps)
        if name == GENUINE:
            genuine_passed = result.passed
        elif result.passed:
            accepted += 1
        print(f"| {name} | {'passes' if name == GENUINE else 'refused'} | "
              f"{'passed' if result.passed else 'refused'} | {result.reason} |", flush=True)
    return {"spoofs_accepted": accepted, "genuine_passed": genuine_passed,
            "liveness_ms_per_frame": round(statistics.median(per_frame), 1),
            "liveness_wall_ms_per_frame": round(statistics.median(wall_per_frame), 1),
            "light_change_genuine": round(light.get(GENUINE, 0.0), 2),
            "light_change_attacks_max": round(max((v for k, v in light.items() if k != GENUINE), default=0.0), 2)}


if __name__ == "__main__":
    main()
