"""The liveness spoof set (bench/spoofs.py): every attack refused, the genuine 3D stand-in passes.

Builds each case from tests/data/faces, runs ``idcheck.liveness.decide`` on one core, and prints a
Markdown table of the cases and results (ready for the README), then one JSON line:
``spoofs_accepted`` (attacks that passed: must be 0), ``genuine_passed`` and ``liveness_ms_per_frame``
(median over the cases of the decision's time per analysed frame: face mesh, pose, face encoding).

    .venv/bin/python bench/liveness.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GLOG_minloglevel", "2")


def main() -> None:
    """Run every case and print the table and the JSON line."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    from bench.spoofs import ATTACKS, GENUINE, SpoofSet
    from idcheck.liveness import decide

    cases = SpoofSet(REPO / "tests" / "data" / "faces")
    accepted, per_frame, genuine_passed = 0, [], False
    print("| case | expected | result | reason |")
    print("|---|---|---|---|")
    for name in (GENUINE, *ATTACKS):
        challenge, frames = cases.case(name)
        t0 = time.perf_counter()
        result = decide(challenge, frames)
        ms = (time.perf_counter() - t0) * 1000
        per_frame.append(ms / max(result.frames_analysed, 1))
        if name == GENUINE:
            genuine_passed = result.passed
        elif result.passed:
            accepted += 1
        print(f"| {name} | {'passes' if name == GENUINE else 'refused'} | "
              f"{'passed' if result.passed else 'refused'} | {result.reason} |", flush=True)
    print(json.dumps({"spoofs_accepted": accepted, "genuine_passed": genuine_passed,
                      "liveness_ms_per_frame": round(statistics.median(per_frame), 1)}))


if __name__ == "__main__":
    main()
