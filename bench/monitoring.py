"""Monitoring cost per candidate: recording + snapshots + face flags + identity comparison, snapshot age, flag delay.

N senders in separate processes stream what a browser sends (bench.common.STREAM: 640x480 at 30 fps, VP8
~1.5 Mbps, replayed packets, keyframes on request) of test photos moving in the picture: one shows
nobody, one two people, the rest one face; one sender switches from a face to the empty room half-way.
They stream to the media engine of a real app in production configuration (app/config.py DEFAULTS:
snapshots, face flags, and the "other person" comparison against each candidate's seeded face
template every PROCTORING_IDENTITY_SECONDS; SQLite, encrypted local storage). Prints this process's
CPU per candidate (% of one core) and by thread, the p95 age of the snapshots a proctor's grid gets
(sampled every 200 ms through the proctor API), the delay from the face leaving the picture to the
no-face flag, the identity comparisons made, and how busy the machine was. Last line: one JSON object
with keys cpu_pct_per_candidate, snapshot_age_ms_p95, flag_delay_s, identity_checks, stream, config.
The same run then monitors the same candidates on the Janus plane (MEDIA_PLANE=janus, where Janus is installed;
Janus's and the recorders' CPU counted with the server's): janus_cpu_pct_per_candidate, janus_vs_aiortc_cpu, ...

    .venv/bin/python bench/monitoring.py [--candidates 4] [--seconds 20] [--no-janus]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import (  # noqa: E402  (after the path is set)
    STREAM,
    BusyMeter,
    browser_media,
    config_line,
    cpu_model,
    proc_cpu_s,
    production_app,
    replay_over_pipe,
    thread_cpu_s,
)


def main() -> None:
    """Run the monitoring benchmark on the aiortc engine, then (where installed) on the Janus plane."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--no-janus", action="store_true", help="leave out the Janus plane")
    args = ap.parse_args()
    n = max(3, args.candidates)
    pictures = ["", "two_people.jpg"] + ["obama.jpg"] * (n - 2)
    for picture in set(pictures):
        browser_media(picture)  # encoded once, before anything is measured
    from proctoring.janus import available

    print(f"{n} candidates on {os.cpu_count()} CPUs ({cpu_model()}; senders share them)")
    out = run_plane(n, args.seconds, pictures, {})
    janus = None
    if not args.no_janus and available():
        # Janus leaves loopback out of its candidates: the senders reach it on the machine's other address.
        janus = run_plane(n, args.seconds, pictures, {"MEDIA_PLANE": "janus", "MEDIA_HOST_ADDRESSES": None})
        print(f"Janus plane / aiortc engine, CPU per candidate: {janus['cpu'] / max(out['cpu'], 1e-9):.2f} "
              "(target: at most 0.5)")
    print(json.dumps({"cpu_model": cpu_model(),
                      "cpu_pct_per_candidate": round(out["cpu"], 1), "snapshot_age_ms_p95": out["p95"],
                      "flag_delay_s": out["delay"], "identity_checks": out["checks"], "candidates": n,
                      "janus_cpu_pct_per_candidate": None if janus is None else round(janus["cpu"], 1),
                      "janus_helpers_pct_per_candidate": None if janus is None else round(janus["helpers"], 1),
                      "janus_snapshot_age_ms_p95": None if janus is None else janus["p95"],
                      "janus_flag_delay_s": None if janus is None else janus["delay"],
                      "janus_vs_aiortc_cpu": None if janus is None else round(janus["cpu"] / max(out["cpu"], 1e-9), 2),
                      "stream": f"{STREAM.split(':')[0]}, replayed", "config": "production (DEFAULTS)",
                      "machine_busy_pct": out["machine"]["machine_busy_pct"],
                      "others_pct": out["machine"]["others_pct_of_machine"]}))


def run_plane(n: int, seconds: float, pictures: list[str], overrides: dict[str, Any]) -> dict[str, Any]:
    """Monitor ``n`` candidates on one media plane; prints its figures and returns them."""
    plane = overrides.get("MEDIA_PLANE", "aiortc")
    setup = production_app(n, overrides)
    app, ids, users, inst_id = setup["app"], setup["attempts"], setup["users"], setup["institution"]
    from sqlalchemy import select

    from kernel.db import db
    from proctoring.live import engine, live_state, sink_factory
    from proctoring.models import Flag, FlagKind
    from proctoring.sessions import session_id

    switch = [None, None, seconds / 2] + [None] * (n - 3)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for i in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=replay_over_pipe, args=(child, pictures[i], seconds + 3, switch[i]))
        p.start()
        pipes.append(parent)
        procs.append(p)
    eng = engine(app)
    state0 = live_state(app)
    if state0 is not None:
        state0.faces.ready()  # the workers' start (loading models) is not part of a candidate's cost
    for i, pipe in enumerate(pipes):
        pipe.send(eng.answer(session_id(ids[i]), pipe.recv(), sink_factory(app, ids[i], users[i], inst_id), oral=True))
    checks = {"n": 0}
    state = live_state(app)
    assert state is not None
    client = app.test_client()
    client.post("/login", data={"email": "p@bench.example", "password": "bench password"})
    time.sleep(2)
    face_pids = state.faces.pids()  # the face worker processes (PROCTORING_FACE_PROCESSES) count as the server
    assert face_pids or state.faces.processes == 0, "the face workers have not started"
    # On Janus: Janus's process and the recorders (gst-launch) count as the server too.
    media_pids = list(eng.pids()) if hasattr(eng, "pids") else []
    f0, m0 = proc_cpu_s(face_pids), proc_cpu_s(media_pids)

    def server_cpu_s() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime + proc_cpu_s(face_pids) + proc_cpu_s(media_pids)

    c0 = server_cpu_s()
    th0 = thread_cpu_s()
    checked0 = dict(state.identity_checked_at)
    busy = BusyMeter(server_cpu_s, lambda: proc_cpu_s([p.pid for p in procs if p.pid]))
    t0 = time.monotonic()
    ages: list[int] = []
    while time.monotonic() - t0 < seconds - 2:
        for tile in client.get("/api/proctor/live").get_json()["attempts"]:
            if tile["snapshot_age_ms"] is not None:
                ages.append(tile["snapshot_age_ms"])
        for aid, at in state.identity_checked_at.items():
            if checked0.get(aid) != at:
                checks["n"] += 1
                checked0[aid] = at
        time.sleep(0.2)
    c1, f1, m1 = server_cpu_s(), proc_cpu_s(face_pids), proc_cpu_s(media_pids)
    th1 = thread_cpu_s()
    machine = busy.report()
    elapsed = time.monotonic() - t0
    switched = [pipe.recv()["switched"] for pipe in pipes]
    time.sleep(1)
    with app.app_context():
        flags = db.session.scalars(select(Flag)).all()
        no_face_flag = next((f for f in flags if f.attempt_id == ids[2] and f.kind == FlagKind.NO_FACE), None)
        by_kind = sorted({(f.attempt_id, f.kind.value) for f in flags})
    eng.stop()
    app.extensions.pop("aufsicht.media", None)
    for p in procs:
        p.join(30)
    cpu = (c1 - c0) / elapsed / n * 100
    ages.sort()
    p95 = ages[int(0.95 * (len(ages) - 1))] if ages else None
    delay = None
    if no_face_flag is not None and switched[2]:
        import calendar

        flag_at = calendar.timegm(no_face_flag.started_at.timetuple()) + no_face_flag.started_at.microsecond / 1e6
        delay = flag_at - switched[2]
    print(f"== media plane: {plane} == {elapsed:.0f} s measured")
    print(f"stream per candidate: {STREAM}; pictures: {[p or 'nobody' for p in pictures]}, "
          "candidate 3 leaves half-way")
    print(f"configuration (production, app/config.py DEFAULTS): {config_line(app)}; a face template "
          "(obama2.jpg) per candidate")
    print(f"server CPU per monitored candidate (recording + snapshots + face flags + identity comparison): "
          f"{cpu:.1f}% of one core")
    print("  by thread, % of one core per candidate: " + ", ".join(
        f"{k} {100 * (v - th0.get(k, 0.0)) / elapsed / n:.1f}" for k, v in sorted(th1.items())))
    print(f"  of which the face worker processes ({len(face_pids)}): "
          f"{100 * (f1 - f0) / elapsed / n:.1f}")
    helpers = 100 * (m1 - m0) / elapsed / n
    if media_pids:
        print(f"  of which Janus and the recorders ({len(media_pids)} processes): {helpers:.1f}")
    print(f"identity comparisons made: {checks['n']} in {elapsed:.0f} s ({n - 1} candidates show a face)")
    print(f"snapshot age seen by the proctor API: p95 {p95} ms over {len(ages)} samples")
    print(f"flags raised: {by_kind}")
    shown = None if delay is None else round(delay, 1)
    print(f"delay from the face leaving the picture to the no-face flag: {shown} s")
    print(BusyMeter.line(machine), flush=True)
    return {"cpu": cpu, "p95": p95, "delay": shown, "checks": checks["n"], "machine": machine, "helpers": helpers}


if __name__ == "__main__":
    main()
