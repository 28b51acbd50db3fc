"""Accessibility checks in a real browser: axe-core (npm, tests/node) injected into the page, and the focus
indicator of the focused element.

``violations(driver)`` runs axe-core's WCAG 2.1 A and AA rules (tags wcag2a, wcag2aa, wcag21a, wcag21aa) on the
page as it is now (open dialogs included) and returns what it found, one line per rule and element.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import REPO

NODE_DIR = REPO / "tests" / "node"
AXE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_source: list[str] = []


def axe_source() -> str:
    """axe.min.js, installed with ``npm ci`` in tests/node when missing; under CI a missing Node.js/npm fails."""
    if _source:
        return _source[0]
    if not AXE.exists():
        if shutil.which("npm") is None:
            if os.environ.get("CI") == "true":
                pytest.fail("Node.js and npm are needed for the accessibility test (npm axe-core)")
            pytest.skip("npm not installed")
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0 and AXE.exists(), done.stderr[-2000:]
    _source.append(AXE.read_text(encoding="utf-8"))
    return _source[0]


RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(function (r) {
    done(r.violations.map(function (v) {
      return {id: v.id, help: v.help, nodes: v.nodes.slice(0, 6).map(function (n) {
        return n.target.join(" ") + " :: " + (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 300); })};
    }));
  })
  .catch(function (e) { done([{id: "axe-error", help: String(e), nodes: []}]); });
"""


def violations(driver: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page now, as readable lines (empty: none)."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(60)
    found = driver.execute_async_script(RUN, TAGS)
    where = driver.current_url
    return [f"{where} [{v['id']}] {v['help']}: {node}" for v in found for node in (v["nodes"] or ["(page)"])]


FOCUS_STYLE = """
const el = document.activeElement;
// null: focus is on the body, or out of the page (in the browser's own controls, where TAB goes after the last one)
if (!document.hasFocus() || !el || el === document.body || el === document.documentElement) { return null; }
const s = getComputedStyle(el);
const r = el.getBoundingClientRect();
const text = el.innerText || el.value || el.getAttribute("aria-label") || "";
return {tag: el.tagName.toLowerCase(), id: el.id, text: text.slice(0, 60),
        outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0, outlineColor: s.outlineColor,
        boxShadow: s.boxShadow, visible: r.width > 0 && r.height > 0,
        inDialog: !!el.closest("dialog[open], [role=dialog]:not([hidden]), [role=alertdialog]:not([hidden])")};
"""


def focus_visible(info: dict[str, Any]) -> bool:
    """Whether the focused element shows a focus indicator: an outline of at least 2 px or a box shadow."""
    outline = info["outlineStyle"] not in ("none", "") and info["outlineWidth"] >= 2
    return bool(info["visible"] and (outline or info["boxShadow"] not in ("none", "")))
