"""Secrets generated once into the instance folder (mode 0600), never hard-coded, never printed."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path


def ensure_secret(instance_path: str | os.PathLike[str], name: str, nbytes: int = 32) -> bytes:
    """Return the secret stored in ``instance/<name>``, creating it with mode 0600 if missing."""
    path = Path(instance_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return base64.b64decode(path.read_bytes())
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(secrets.token_bytes(nbytes)))
        fh.flush()
        os.fsync(fh.fileno())
    return base64.b64decode(path.read_bytes())


def ensure_keyring(instance_path: str | os.PathLike[str], name: str) -> dict[str, object]:
    """Return ``{"active": key_id, "keys": {key_id: bytes}}`` from ``instance/<name>``, creating a first key."""
    path = Path(instance_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key_id = "k" + secrets.token_hex(4)
        doc = {"active": key_id, "keys": {key_id: base64.b64encode(secrets.token_bytes(32)).decode()}}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
    doc = json.loads(path.read_text())
    return {"active": doc["active"], "keys": {k: base64.b64decode(v) for k, v in doc["keys"].items()}}


def add_key(instance_path: str | os.PathLike[str], name: str) -> str:
    """Add a new master key to the keyring file and make it active; returns its id."""
    path = Path(instance_path) / name
    doc = json.loads(path.read_text())
    key_id = "k" + secrets.token_hex(4)
    doc["keys"][key_id] = base64.b64encode(secrets.token_bytes(32)).decode()
    doc["active"] = key_id
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return key_id


def remove_key(instance_path: str | os.PathLike[str], name: str, key_id: str) -> None:
    """Delete master key ``key_id`` from the keyring file (never the active one)."""
    path = Path(instance_path) / name
    doc = json.loads(path.read_text())
    if doc["active"] == key_id:
        raise ValueError("the active key cannot be removed")
    doc["keys"].pop(key_id, None)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
