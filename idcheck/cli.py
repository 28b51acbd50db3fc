"""``flask idcheck compare ID_PHOTO SELFIE`` and ``flask idcheck read-document IMAGE``: one JSON object each."""

from __future__ import annotations

import click
from flask.cli import AppGroup

idcheck_cli = AppGroup("idcheck", help="Identity check tools for operators.")


@idcheck_cli.command("compare")
@click.argument("id_photo", type=click.Path(exists=True, dir_okay=False))
@click.argument("selfie", type=click.Path(exists=True, dir_okay=False))
def compare_cmd(id_photo: str, selfie: str) -> None:
    """Print {"decision", "distance", "reason"} for two image files (for calibrating thresholds)."""
    from idcheck.verification import compare_files_json

    click.echo(compare_files_json(id_photo, selfie))


@idcheck_cli.command("read-document")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
def read_document_cmd(image: str) -> None:
    """Print {"format", "lines", "valid", "fields", "reason"} for a photo of an ID document's MRZ."""
    from idcheck.document import read_file_json

    click.echo(read_file_json(image))
