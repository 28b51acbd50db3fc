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
def _stop_engine(app: Flask) -> Iterator[None]:
    yield
    eng = app.extensions.get("aufsicht.media")
    if eng is not None:
        eng.stop()
