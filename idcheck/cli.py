"""Operator commands, each printing one JSON object: ``flask idcheck compare ID_PHOTO SELFIE``,
``flask idcheck liveness --challenge ... DIR`` and ``flask idcheck read-document IMAGE``."""

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


@idcheck_cli.command("liveness")
@click.option("--challenge", "moves", required=True, help="The asked moves in order, e.g. left,up,right.")
@click.option("--first-prompt", type=int, default=None,
              help="When the first move was asked (ms, the frames' clock); default 1 s after the first frame.")
@click.option("--step-ms", type=int, default=None, help="Time to answer each step (ms); the next step follows.")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def liveness_cmd(moves: str, first_prompt: int | None, step_ms: int | None, folder: str) -> None:
    """Print {"passed", "reason", "steps"} for frames in FOLDER named by capture time in ms (e.g. 1200.jpg)."""
    from idcheck.liveness import MOVES, STEP_MS, decide_folder_json

    asked = [m.strip() for m in moves.split(",") if m.strip()]
    unknown = [m for m in asked if m not in MOVES]
    if unknown:
        raise click.BadParameter(f"unknown moves {', '.join(unknown)} (known: {', '.join(MOVES)})",
                                 param_hint="--challenge")
    click.echo(decide_folder_json(asked, folder, first_prompt, step_ms or STEP_MS))


@idcheck_cli.command("read-document")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
def read_document_cmd(image: str) -> None:
    """Print {"format", "lines", "valid", "fields", "reason"} for a photo of an ID document's MRZ."""
    from idcheck.document import read_file_json

    click.echo(read_file_json(image))
