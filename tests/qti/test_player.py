"""Every exported item renders in a real QTI 3 player (npm @citolab/qti-components, GPL-3.0, a test tool only) in
headless Chromium and scores the same responses as aufsicht does: right, partly right and wrong answers per type."""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from exams.questions import QuestionKind, grade
from qti.writer import export_package, qti_id
from tests.browser import chromium  # noqa: F401
from tests.conftest import REPO
from tests.qti.samples import exam, media

NODE_DIR = REPO / "tests" / "node"
PLAYER = NODE_DIR / "node_modules" / "@citolab" / "qti-components" / "cdn" / "index.js"

#: Per item: (aufsicht's answer, the player's response variables) for answers right, partly right and wrong.
CASES: dict[str, list[tuple[Any, dict[str, Any]]]] = {
    "1a": [("a", {"RESPONSE": "a"}), ("2", {"RESPONSE": "ID-2"})],
    "multi": [(["a", "c"], {"RESPONSE": ["a", "c"]}), (["a"], {"RESPONSE": ["a"]}),
              (["a", "b", "c"], {"RESPONSE": ["a", "b", "c"]})],
    "num": [("3.54", {"RESPONSE": "3.54"}), ("3.55", {"RESPONSE": "3.55"}), ("3.5", {"RESPONSE": "3.5"}),
            ("3.6", {"RESPONSE": "3.6"}), ("3.44", {"RESPONSE": "3.44"})],
    "gap": [({"g1": "komme", "g2": "in"}, {"RESPONSE-g1": "komme", "RESPONSE-g2": "in"}),
            ({"g1": "komme", "g2": "nach"}, {"RESPONSE-g1": "komme", "RESPONSE-g2": "nach"}),
            ({"g1": "gehe", "g2": "nach"}, {"RESPONSE-g1": "gehe", "RESPONSE-g2": "nach"})],
    "match": [({"p1": "dog", "p2": "cat", "p3": "mouse"}, {"RESPONSE": ["p1 dog", "p2 cat", "p3 mouse"]}),
              ({"p1": "dog", "p2": "cat", "p3": "cow"}, {"RESPONSE": ["p1 dog", "p2 cat", "p3 cow"]}),
              ({"p1": "dog"}, {"RESPONSE": ["p1 dog"]}), ({"p1": "cat"}, {"RESPONSE": ["p1 cat"]})],
    "order2": [(["one", "two", "three"], {"RESPONSE": ["one", "two", "three"]}),
               (["two", "one", "three"], {"RESPONSE": ["two", "one", "three"]})],
    "short": [("Bahnhof", {"RESPONSE": "Bahnhof"}), ("am Bahnhof", {"RESPONSE": "am Bahnhof"}),
              ("bahnhof", {"RESPONSE": "bahnhof"}), ("Post", {"RESPONSE": "Post"})],
    "street": [("Straße", {"RESPONSE": "Straße"}), ("Strasse", {"RESPONSE": "Strasse"}),
               ("Weg", {"RESPONSE": "Weg"})],
    "case": [("Haus", {"RESPONSE": "Haus"}), ("haus", {"RESPONSE": "haus"})],
    "spot": [({"x": 50, "y": 40}, {"RESPONSE": "50 40"}), ({"x": 300, "y": 150}, {"RESPONSE": "300 150"}),
             ({"x": 200, "y": 250}, {"RESPONSE": "200 250"})],
}
#: Scored by a person: the player renders them and gives no automatic score.
MANUAL = {"free", "file", "essay"}
#: Partial ordering (aufsicht's longest-run rule) has no QTI expression; the player scores it all or nothing.
NOT_COMPARED = {"order"}


def _need_player() -> None:
    if shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm is needed for the QTI player test")
        pytest.skip("npm not installed")
    if not PLAYER.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=600,
                       capture_output=True)


@pytest.fixture
def player_url() -> Iterator[str]:
    """tests/node served on a loopback port (ES modules do not load from file://)."""
    _need_player()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(NODE_DIR))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined, method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/qti-player.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_every_exported_item_renders_and_scores_as_aufsicht_does(chromium, player_url) -> None:  # noqa: F811
    spec = exam()
    archive = zipfile.ZipFile(io.BytesIO(export_package(spec, media()).package))
    driver = chromium()
    driver.set_script_timeout(30)
    driver.get(player_url)
    for _ in range(100):
        if driver.execute_script("return window.playerReady === true"):
            break
        driver.implicitly_wait(0.1)
    assert driver.execute_script("return window.playerReady === true"), "the player did not load"
    compared = 0
    for question in spec.questions:
        xml = archive.read(f"items/{qti_id(question.id)}.xml").decode()
        cases = CASES.get(question.id, [(None, {})])
        for answer, responses in cases:
            out = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "window.scoreItem(arguments[0], arguments[1]).then(done, (e) => done({error: String(e)}));",
                xml, responses)
            assert "error" not in out, (question.id, out)
            assert out["interactions"] >= 1 and out["rendered"] == out["interactions"], (question.id, out)
            if question.id in MANUAL or question.id in NOT_COMPARED:
                continue
            ours = grade(question, answer).points
            assert out["score"] is not None and Decimal(str(out["score"])) == ours, (question.id, answer, out, ours)
            compared += 1
    assert compared == sum(len(v) for v in CASES.values())
    assert {q.kind for q in spec.questions if q.id in CASES} >= {
        QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE, QuestionKind.NUMERIC, QuestionKind.GAP_TEXT,
        QuestionKind.MATCHING, QuestionKind.ORDERING, QuestionKind.SHORT_TEXT, QuestionKind.HOTSPOT}
