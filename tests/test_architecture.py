"""The core never imports Qt: checked by AST and by a real import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CORE = ROOT / "assistant" / "core"
FORBIDDEN = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "assistant.ui")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_core_sources_do_not_import_qt():
    offenders = [
        f"{p.relative_to(ROOT)}: {name}"
        for p in sorted(CORE.rglob("*.py"))
        for name in _imports(p)
        if name.split(".")[0] in FORBIDDEN or name.startswith("assistant.ui")
    ]
    assert offenders == []


def test_importing_all_of_core_loads_no_qt():
    modules = sorted(
        "assistant.core." + p.relative_to(CORE).with_suffix("").as_posix().replace("/", ".")
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py"
    )
    assert len(modules) > 5
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "ok", r.stderr


def test_the_check_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtCore import QObject\n")
    assert "PySide6.QtCore" in _imports(bad)


def test_cli_startup_does_not_import_heavy_libraries():
    code = (
        "import sys; from assistant.cli.main import build_parser; build_parser()\n"
        "heavy = [m for m in ('llama_cpp', 'torch', 'chromadb', 'PySide6') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "[]", r.stderr
