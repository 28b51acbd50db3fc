"""Throughput of the blob format against raw AES-GCM, and the time to purge 10,000 blobs.

One run, same data: encrypt+write through our format to the local backend vs raw AESGCM over
the same bytes in the same segment size (written to a file the same way), and read+decrypt
likewise; then 10,000 expired blobs are purged through `purge_expired` on SQLite.
Last line: one JSON object with keys write_ratio, read_ratio, purge_10k_s.

    .venv/bin/python bench/storage.py [--mb 256] [--blobs 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from storage.backends import LocalBlobStore, new_key  # noqa: E402
from storage.crypto import DEFAULT_SEGMENT_SIZE, EncryptedReader, EncryptedWriter, new_data_key  # noqa: E402

CHUNK = 64 * 1024  # what a muxer hands over at a time


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Fastest of a few runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def throughput(mb: int, root: Path) -> tuple[float, float, float, float]:
    """MB/s of (ours write, raw write, ours read, raw read)."""
    data = os.urandom(mb * 1024 * 1024)
    key = new_data_key()
    store = LocalBlobStore(root)
    k = new_key("recording")
    seg = DEFAULT_SEGMENT_SIZE

    def ours_write() -> None:
        w = EncryptedWriter(store.open_write(k), key)
        view = memoryview(data)
        for i in range(0, len(data), CHUNK):
            w.write(view[i:i + CHUNK])
        w.close()

    raw_path = root / "raw.bin"

    def raw_write() -> None:
        # The best case for raw AES-GCM: whole segments straight from the source, no buffering.
        aead = AESGCM(key)
        with open(raw_path, "wb") as fh:
            view = memoryview(data)
            for i in range(0, len(data), seg):
                fh.write(aead.encrypt(os.urandom(12), view[i:i + seg], None))
            fh.flush()
            os.fsync(fh.fileno())

    def ours_read() -> None:
        r = EncryptedReader(lambda o, n: store.read_range(k, o, n), store.size(k), key)
        for _ in r.iter_chunks():
            pass

    raw_ct = [AESGCM(key).encrypt(b"\0" * 12, data[i:i + seg], None) for i in range(0, len(data), seg)]

    def raw_read() -> None:
        aead = AESGCM(key)
        with open(raw_path, "rb") as fh:
            for ct in raw_ct:
                blob = fh.read(len(ct))
                aead.decrypt(b"\0" * 12, ct, None)
                del blob

    size_mb = len(data) / 1e6
    w_ours, w_raw = size_mb / best(ours_write), size_mb / best(raw_write)
    r_ours, r_raw = size_mb / best(ours_read), size_mb / best(raw_read)
    return w_ours, w_raw, r_ours, r_raw


def purge_seconds(n: int) -> float:
    """Seconds to purge ``n`` expired recordings (SQLite, local backend)."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUFSICHT_INSTANCE_PATH"] = tmp
        os.environ.pop("DATABASE_URL", None)
        from flask_migrate import upgrade

        from app import create_app
        from exams.models import Attempt, AttemptStatus, Exam
        from kernel.clock import utcnow
        from kernel.db import db
        from storage import vault
        from storage.models import Blob, BlobState
        from storage.retention import purge_expired

        app = create_app({"INSTANCE_PATH": tmp})
        with app.app_context():
            upgrade()
            from accounts.models import Role
            from accounts.services import create_institution, create_user

            inst = create_institution("Bench", "bench")
            user = create_user("b@bench.example", "password123", Role.PROCTOR, "B", inst)
            now = utcnow()
            exam = Exam(institution=inst, title="B", duration_minutes=10, opens_at=now, closes_at=now,
                        pass_mark_percent=50, questions=[])
            db.session.add(exam)
            db.session.flush()
            att = Attempt(exam=exam, user=user, deadline_at=now, ended_at=now - dt.timedelta(days=40), seed=1,
                          status=AttemptStatus.SUBMITTED, layout={})
            db.session.add(att)
            db.session.commit()
            one = vault.store("recording", b"x" * 1024, attempt_id=att.id)
            be = vault.backend()
            payload = be.read_range(one.key, 0, be.size(one.key))
            rows = []
            for _ in range(n - 1):  # same ciphertext copied: purge cost does not depend on content
                k = new_key("recording")
                s = be.open_write(k)
                s.write(payload)
                s._fh.close()  # type: ignore[attr-defined]  # skip per-file fsync while seeding
                os.replace(s._partial, s._final)  # type: ignore[attr-defined]
                rows.append({"key": k, "category": "recording", "state": BlobState.COMPLETE,
                             "master_key_id": one.master_key_id, "wrapped_key": one.wrapped_key,
                             "attempt_id": att.id, "created_at": now})
            db.session.execute(Blob.__table__.insert(), rows)
            db.session.commit()
            t0 = time.perf_counter()
            report = purge_expired(utcnow())
            elapsed = time.perf_counter() - t0
            assert report.shredded == n, report.shredded
            db.engine.dispose()
    return elapsed


def main() -> None:
    """Run both measurements and print the JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--blobs", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        w_ours, w_raw, r_ours, r_raw = throughput(args.mb, Path(tmp))
    print(f"{args.mb} MB, segment {DEFAULT_SEGMENT_SIZE // 1024} KiB, our writes in {CHUNK // 1024} KiB chunks, "
          f"{os.cpu_count()} CPUs")
    print(f"encrypt+write: ours {w_ours:8.1f} MB/s   raw AESGCM {w_raw:8.1f} MB/s   ratio {w_ours / w_raw:.2f}")
    print(f"read+decrypt:  ours {r_ours:8.1f} MB/s   raw AESGCM {r_raw:8.1f} MB/s   ratio {r_ours / r_raw:.2f}")
    purge = purge_seconds(args.blobs)
    print(f"purge {args.blobs} expired blobs (SQLite, local disk): {purge:.2f} s")
    print(json.dumps({"write_ratio": round(w_ours / w_raw, 2), "read_ratio": round(r_ours / r_raw, 2),
                      "purge_10k_s": round(purge, 2) if args.blobs == 10_000 else None}))


if __name__ == "__main__":
    main()
