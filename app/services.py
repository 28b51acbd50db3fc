"""Background services of a serving process (job scheduler, later the media engine), started explicitly."""

from __future__ import annotations

from flask import Flask

from kernel.jobs import runner


def start_services(app: Flask) -> None:
    """Start the background parts this process hosts; ``create_app`` never does this itself."""
    with app.app_context():
        runner().start()
