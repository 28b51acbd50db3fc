"""``flask storage purge|check|rotate-key``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from kernel.clock import utcnow
from kernel.db import db
from storage.errors import StorageIntegrityError
from storage.models import Blob, BlobState

storage_cli = AppGroup("storage", help="Encrypted storage: purge, check, key rotation.")


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
    ids = db.session.scalars(select(Blob.id).where(Blob.state.in_([BlobState.COMPLETE, BlobState.WRITING]))).all()
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
