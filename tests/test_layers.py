"""The layers hold: web -> domains -> storage -> kernel, no arrow up, no import cycle.

``make lint`` runs the same import-linter contract; the last test proves the contract can fail by
planting an upward import in a copy of the code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["app", "oversight", "items", "results", "qti", "accounts", "exams", "idcheck", "lti", "proctoring",
            "privacy", "storage", "kernel", "bench", "deploy"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=300)


def import_cycles(packages: list[str]) -> list[list[str]]:
    """Groups of our modules that import each other, directly or through others (Tarjan's algorithm)."""
    graph = grimp.build_graph(*packages)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # iterative depth-first search: (module, position in its edge list)
        work = [(start, 0)]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pos = work.pop()
            if pos < len(edges[node]):
                work.append((node, pos + 1))
                nxt = edges[node][pos]
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_the_layer_contract_is_kept() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_no_import_cycles() -> None:
    assert import_cycles(PACKAGES) == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "loop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from loop import b\n")
    (pkg / "b.py").write_text("from loop import c\n")
    (pkg / "c.py").write_text("from loop import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert import_cycles(["loop"]) == [["loop.a", "loop.b", "loop.c"]]
    finally:
        sys.path.remove(str(tmp_path))


def test_a_domain_importing_the_web_layer_breaks_lint(tmp_path: Path) -> None:
    """The contract is no decoration: an upward import in a domain fails ``lint-imports``."""
    for name in ["app", "oversight", "items", "results", "qti", "accounts", "exams", "idcheck", "lti", "proctoring",
                 "privacy", "storage", "kernel"]:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo",
                                                                                     "static", "templates"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint_imports(tmp_path).returncode == 0
    (tmp_path / "exams" / "shortcut.py").write_text("from app.views import register_blueprints\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "exams.shortcut -> app.views" in broken.stdout
