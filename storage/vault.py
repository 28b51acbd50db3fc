"""The one way personal files are stored: encrypted blobs with a DB row each.

``store`` and ``open_writer`` encrypt before anything reaches a backend; ``read`` and
``open_reader`` decrypt with verification. Which backend and which master keys come from the
app's configuration (``STORAGE_BACKEND``, ``STORAGE_LOCAL_ROOT``, ``S3_*``, the keyring in the
instance folder or ``AUFSICHT_STORAGE_MASTER_KEYS``).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select

from kernel.clock import utcnow
from kernel.db import db
from kernel.secrets import ensure_keyring
from storage.backends import BACKENDS, BlobBackend, WriteStream, new_key
from storage.crypto import EncryptedReader, EncryptedWriter, MasterKeyring, blob_context, new_data_key
from storage.errors import StorageIntegrityError, StorageUnavailable
from storage.models import Blob, BlobState

log = logging.getLogger(__name__)

KEYRING_FILE = "storage-master-keys.json"


def backend(app: Flask | None = None) -> BlobBackend:
    """The configured backend (one instance per app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    be = app.extensions.get("aufsicht.storage")
    if be is None:
        cfg = app.config
        name = cfg.get("STORAGE_BACKEND", "local")
        if name == "s3":
            be = BACKENDS["s3"](cfg["S3_ENDPOINT_URL"], cfg["S3_BUCKET"], cfg["S3_ACCESS_KEY"], cfg["S3_SECRET_KEY"],
                                cfg.get("S3_REGION", "us-east-1"))
        else:
            be = BACKENDS["local"](cfg.get("STORAGE_LOCAL_ROOT") or f"{app.instance_path}/blobs")
        app.extensions["aufsicht.storage"] = be
    return be


def keyring(app: Flask | None = None) -> MasterKeyring:
    """Master keys: from AUFSICHT_STORAGE_MASTER_KEYS (JSON) or the instance file (made on first use)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    configured = app.config.get("STORAGE_MASTER_KEYS")
    if configured:
        doc = configured if isinstance(configured, dict) else json.loads(configured)
        return MasterKeyring({k: base64.b64decode(v) for k, v in doc["keys"].items()}, doc["active"])
    ring = ensure_keyring(app.instance_path, KEYRING_FILE)
    return MasterKeyring(ring["keys"], ring["active"])  # type: ignore[arg-type]


def _new_blob(category: str, content_type: str, owner: dict[str, Any]) -> tuple[Blob, bytes]:
    data_key = new_data_key()
    blob = Blob(key=new_key(category), category=category, content_type=content_type, state=BlobState.WRITING,
                **owner)
    db.session.add(blob)
    db.session.flush()  # the id the wrap is bound to
    blob.master_key_id, blob.wrapped_key = keyring().wrap(data_key, blob_context(blob.id, category))
    db.session.commit()
    return blob, data_key


class BlobWriter:
    """Streams plaintext into an encrypted blob; ``close`` marks the blob complete.

    Usable from any thread: database updates run in the app's context.
    """

    def __init__(self, app: Flask, blob_id: int, writer: EncryptedWriter, stream: WriteStream) -> None:
        self._app, self.blob_id, self._writer, self._stream = app, blob_id, writer, stream

    def write(self, data: bytes) -> int:
        """Append plaintext."""
        return self._writer.write(data)

    def tell(self) -> int:
        """Plaintext bytes written."""
        return self._writer.tell()

    def flush(self) -> None:
        """Make every complete segment durable."""
        self._writer.flush()

    def close(self) -> None:
        """Seal, commit and record the size."""
        if self._writer.closed:
            return
        self._writer.close()
        with self._app.app_context():
            blob = db.session.get(Blob, self.blob_id)
            if blob is not None:
                blob.state = BlobState.COMPLETE
                blob.plaintext_size = self._writer.plaintext_size
                blob.completed_at = utcnow()
                db.session.commit()

    def abort(self) -> None:
        """Discard what was written."""
        self._stream.abort()

    def finish_cut(self) -> bool:
        """This writer gave up (its close failed): make what reached storage readable, as :func:`finish_cut`."""
        with self._app.app_context():
            blob = db.session.get(Blob, self.blob_id)
            return blob is not None and finish_cut(blob)


def open_writer(category: str, *, content_type: str = "application/octet-stream", begin: bool = False,
                **owner: Any) -> BlobWriter:
    """Start an encrypted blob of ``category``; owner fields: user_id, attempt_id, institution_id, retain_until.

    ``begin``: start the upload now (a long stream, such as a recording part), so that storage that is away
    fails here (StorageUnavailable, and no row is left), not when the first S3 part (8 MiB) goes out.
    """
    blob, data_key = _new_blob(category, content_type, owner)
    try:
        stream = backend().open_write(blob.key, begin=begin)
    except Exception as err:
        raise _unstored(blob.id, err) from err
    segment = int(current_app.config.get("STORAGE_SEGMENT_SIZE", 256 * 1024))
    return BlobWriter(current_app._get_current_object(), blob.id,  # type: ignore[attr-defined]
                      EncryptedWriter(stream, data_key, segment), stream)


def _unstored(blob_id: int, err: Exception) -> Exception:
    """Nothing of a blob reached storage: drop its row too; the error to raise (our storage errors as they
    are, anything else from the backend, such as an S3 error or a timeout, as StorageUnavailable)."""
    failed = db.session.get(Blob, blob_id)
    if failed is not None:
        db.session.delete(failed)
        db.session.commit()
    return err if isinstance(err, StorageUnavailable | StorageIntegrityError) else StorageUnavailable()


def store(category: str, data: bytes, *, content_type: str = "application/octet-stream", **owner: Any) -> Blob:
    """Encrypt and store a whole byte string; returns the blob row."""
    writer = open_writer(category, content_type=content_type, **owner)
    try:
        writer.write(data)
        writer.close()
    except Exception as err:
        try:
            writer.abort()
        except Exception:  # the backend is gone; its partial object is the purge's to find
            log.warning("aborting a failed store of blob %s failed", writer.blob_id, exc_info=True)
        raise _unstored(writer.blob_id, err) from err
    blob = db.session.get(Blob, writer.blob_id)
    assert blob is not None  # noqa: S101 - just written
    db.session.refresh(blob)
    return blob


def open_reader(blob: Blob) -> EncryptedReader:
    """A verifying random-access reader; a purged blob raises StorageIntegrityError."""
    if blob.state in (BlobState.PURGED, BlobState.PURGING) or blob.wrapped_key is None or blob.master_key_id is None:
        raise StorageIntegrityError("This blob has been purged.")
    be = backend()
    data_key = keyring().unwrap(blob.master_key_id, blob.wrapped_key, blob_context(blob.id, blob.category))
    key = blob.key  # the reader may outlive the request's session (a streamed response): it holds no row
    try:
        size = be.size(key)
    except FileNotFoundError as err:
        raise StorageIntegrityError("The blob's bytes are missing from storage.") from err
    except Exception as err:  # backend unreachable
        raise StorageUnavailable() from err
    return EncryptedReader(lambda off, n: be.read_range(key, off, n), size, data_key,
                           complete=blob.state == BlobState.COMPLETE)  # writing or cut: may end early


def finish_cut(blob: Blob) -> bool:
    """Make a blob whose writer is gone (a crash, or a part given up on failing storage) readable as far as
    it got: its final state ``cut`` (it reads back as truncated), with ``completed_at``; whether anything of
    it is readable.

    Local storage needs nothing (its ``.partial`` file reads as it is); S3 completes the multipart upload from
    the parts uploaded before the cut. Call it only for a blob no writer writes any more. Running it again
    changes nothing.
    """
    if blob.state != BlobState.WRITING:
        return False
    try:
        readable = backend().recover(blob.key)
    except Exception as err:  # backend unreachable: try again on the next run
        raise StorageUnavailable() from err
    blob.state, blob.completed_at = BlobState.CUT, utcnow()
    db.session.commit()
    return readable


def read(blob: Blob) -> bytes:
    """The whole plaintext of a (small) blob."""
    return open_reader(blob).read()


def blobs_of(**owner: Any) -> list[Blob]:
    """Live blobs belonging to an owner (e.g. attempt_id=..., category=...)."""
    q = select(Blob).where(Blob.state != BlobState.PURGED)
    for field, value in owner.items():
        q = q.where(getattr(Blob, field) == value)
    return list(db.session.scalars(q.order_by(Blob.id)))


#: Other holders of secrets sealed under the master keys (an institution's OpenID client secret, second-factor
#: keys): each re-seals what it holds under the active key, in batches, and returns how many it changed. The
#: domains that own them register here (storage knows no domain).
RESEALERS: list[Callable[[MasterKeyring], int]] = []
#: ... and each says how many of its secrets a master key still seals.
KEY_USERS: list[Callable[[str], int]] = []


def rewrap_all(batch: int = 500) -> int:
    """Re-wrap every live data key under the active master key and in the current format, bound to its blob
    (blob bytes untouched), and have every registered resealer do the same; returns how many changed."""
    ring = keyring()
    done = 0
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(Blob).where(Blob.id > last_id, Blob.wrapped_key.is_not(None)).order_by(Blob.id).limit(batch)
        ).all()
        if not rows:
            break
        for blob in rows:
            last_id = blob.id
            if blob.wrapped_key is None or blob.master_key_id is None:
                continue
            if blob.master_key_id == ring.active_id and ring.is_current(blob.wrapped_key):
                continue
            context = blob_context(blob.id, blob.category)
            blob.master_key_id, blob.wrapped_key = ring.wrap(ring.unwrap(blob.master_key_id, blob.wrapped_key,
                                                                         context), context)
            done += 1
        db.session.commit()
    for reseal in RESEALERS:
        done += reseal(ring)
    return done


def key_in_use(key_id: str) -> int:
    """How many data keys and other secrets a master key still wraps (blobs being purged included)."""
    blobs = db.session.scalar(select(func.count()).select_from(Blob).where(
        Blob.master_key_id == key_id, Blob.wrapped_key.is_not(None))) or 0
    return int(blobs) + sum(count(key_id) for count in KEY_USERS)
