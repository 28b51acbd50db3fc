"""``flask idcheck compare ID_PHOTO SELFIE``: the same checks and decision as one JSON object."""

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
