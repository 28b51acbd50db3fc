"""``flask storage purge|check|rotate-key|rewrap|retire-key``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from kernel.clock import utcnow
from kernel.db import db
from storage.errors import StorageIntegrityError
from storage.models import Blob, BlobState

storage_cli = AppGroup("storage", help="Encrypted storage: purge, check, key rotation and retirement.")


@storage_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what is due.")
def purge_cmd(dry_run: bool) -> None:
    """Purge every blob past its retention rule (idempotent; finishes interrupted purges)."""
    from storage.retention import purge_expired

    report = purge_expired(utcnow(), dry_run=dry_run)
    verb = "due" if dry_run else "purged"
    click.echo(f"{len(report.blob_ids)} blobs {verb}: " +
               ", ".join(f"{c}={n}" for c, n in sorted(report.by_category.items())) if report.blob_ids
               else f"0 blobs {verb}")


@storage_cli.command("check")
def check_cmd() -> None:
    """Verify every stored blob (tags, order, completeness); exit 1 if any is damaged or truncated."""
    from storage.vault import open_reader

    bad = 0
    ids = db.session.scalars(select(Blob.id).where(Blob.state.in_([BlobState.COMPLETE, BlobState.CUT,
                                                                                BlobState.WRITING]))).all()
    for blob_id in ids:
        blob = db.session.get(Blob, blob_id)
        assert blob is not None  # noqa: S101
        try:
            reader = open_reader(blob)
            reader.verify()
        except StorageIntegrityError as err:
            bad += 1
            click.echo(f"DAMAGED   blob {blob.id} ({blob.category}): {err.message}")
            continue
        if reader.truncated:
            bad += 1
            click.echo(f"TRUNCATED blob {blob.id} ({blob.category}): readable up to {reader.plaintext_size} bytes")
    click.echo(f"checked {len(ids)} blobs, {bad} damaged or truncated")
    if bad:
        raise SystemExit(1)


@storage_cli.command("rotate-key")
def rotate_key_cmd() -> None:
    """Add a new master key, make it active and re-wrap every data key (blob bytes are not rewritten)."""
    from kernel.secrets import add_key
    from storage.vault import KEYRING_FILE, rewrap_all

    if current_app.config.get("STORAGE_MASTER_KEYS"):
        raise click.ClickException("Master keys come from AUFSICHT_STORAGE_MASTER_KEYS: rotate them there.")
    key_id = add_key(current_app.instance_path, KEYRING_FILE)
    click.echo(f"new active master key {key_id}; re-wrapped {rewrap_all()} data keys")


@storage_cli.command("rewrap")
def rewrap_cmd() -> None:
    """Re-wrap every data key and sealed secret under the active master key, bound to what it belongs to."""
    from storage.vault import rewrap_all

    click.echo(f"re-wrapped {rewrap_all()} keys and secrets")


@storage_cli.command("retire-key")
@click.argument("key_id")
def retire_key_cmd(key_id: str) -> None:
    """Re-wrap everything master key KEY_ID still wraps under the active key, then delete KEY_ID.

    Deleting it is what makes copies of the database made while it was in use (backups) unreadable for the
    blobs it wrapped, as far as they were not re-wrapped into that copy; keep it if old backups must be
    restorable. With AUFSICHT_STORAGE_MASTER_KEYS the key is not deleted here: remove it there.
    """
    from kernel.secrets import remove_key
    from storage.vault import KEYRING_FILE, key_in_use, keyring, rewrap_all

    ring = keyring()
    if key_id not in ring.key_ids:
        raise click.ClickException(f"There is no master key {key_id!r}.")
    if key_id == ring.active_id:
        raise click.ClickException(f"{key_id} is the active key: run `flask storage rotate-key` first.")
    done = rewrap_all()
    left = key_in_use(key_id)
    if left:
        raise click.ClickException(f"re-wrapped {done}, but {left} keys or secrets still use {key_id}: nothing "
                                   "deleted (run it again).")
    if current_app.config.get("STORAGE_MASTER_KEYS"):
        click.echo(f"re-wrapped {done}; nothing uses {key_id} any more: remove it from AUFSICHT_STORAGE_MASTER_KEYS "
                   "on every host now.")
        return
    remove_key(current_app.instance_path, KEYRING_FILE, key_id)
    click.echo(f"re-wrapped {done}; master key {key_id} deleted")
