"""CLI of the LTI domain: ``flask lti rotate-key``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from kernel.errors import DomainError
from lti.tool import rotate_tool_key

lti_cli = AppGroup("lti", help="LTI 1.3 tool: its signing keys.")


@lti_cli.command("rotate-key")
def rotate_key() -> None:
    """Make a new tool key active; the previous one stays in the key set (platforms may still hold it)."""
    try:
        kid = rotate_tool_key()
    except DomainError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    click.echo(f"New LTI tool key {kid} is active; the previous key is still published in /lti/jwks.json.")
