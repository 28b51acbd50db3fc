"""``flask oversight ...``: regenerate the committed technical documentation."""

from __future__ import annotations

import click
from flask.cli import AppGroup

oversight_cli = AppGroup("oversight", help="The proctoring AI under the EU AI Act.")


@oversight_cli.command("document")
def document() -> None:
    """Regenerate docs/ai-act/ from the detector registry (after a detector, model or threshold changed)."""
    from oversight.documentation import write_documentation

    for path in write_documentation():
        click.echo(f"written {path}")
