"""LTI tests: the media engine on loopback only (the supervision window's camera session), stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Loopback only; no face flags (they cost CPU and are tested in tests/proctoring)."""
    return {"MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "PROCTORING_FACE_FLAGS": False}


@pytest.fixture(autouse=True)
def _stop_engine(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stop the media engine a test's app started (tests without the ``app`` fixture make apps of their own)."""
    app: Flask | None = request.getfixturevalue("app") if "app" in request.fixturenames else None
    yield
    eng = app.extensions.get("aufsicht.media") if app is not None else None
    if eng is not None:
        eng.stop()
