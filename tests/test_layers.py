"""The layer rule: ``ltsc`` and ``numba_kernels`` never import engine, I/O or tokenizer libraries.

Imports flow ``pipelines -> ltsc -> numba_kernels``. The one exception is ``ltsc/hf.py`` (the optional training
adapter), which may import transformers/datasets lazily inside functions (or under ``if TYPE_CHECKING:``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORE_PACKAGES = ("ltsc", "numba_kernels")
FORBIDDEN = ("apache_beam", "pyarrow", "tokenizers", "transformers", "datasets")
LAZY_ALLOWED = {"ltsc/hf.py"}


def _is_forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def forbidden_imports(source: str, *, lazy_allowed: bool) -> list[tuple[int, str]]:
    """(line, module) of every forbidden import in ``source``.

    ``import x``, ``from x import y``, ``importlib.import_module("x")`` and ``__import__("x")`` all count. With
    ``lazy_allowed``, imports inside a function body or an ``if TYPE_CHECKING:`` block are accepted.
    """
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, *, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_lazy = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_stmt(stmt, lazy=True)
                for stmt in child.orelse:
                    visit_stmt(stmt, lazy=lazy)
                continue
            check(child, lazy=child_lazy)
            visit(child, lazy=child_lazy)

    def visit_stmt(stmt: ast.AST, *, lazy: bool) -> None:
        check(stmt, lazy=lazy)
        visit(stmt, lazy=lazy)

    def check(node: ast.AST, *, lazy: bool) -> None:
        if lazy and lazy_allowed:
            return
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                modules = [node.args[0].value]
        found.extend((node.lineno, m) for m in modules if _is_forbidden(m))

    visit(ast.parse(source), lazy=False)
    return found


def _core_files() -> list[Path]:
    return sorted(p for package in CORE_PACKAGES for p in (REPO_ROOT / package).rglob("*.py"))


def test_core_packages_exist() -> None:
    rel = {p.relative_to(REPO_ROOT).as_posix() for p in _core_files()}
    assert {"ltsc/__init__.py", "numba_kernels/__init__.py"} <= rel


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_no_forbidden_imports(path: Path) -> None:
    rel = path.relative_to(REPO_ROOT).as_posix()
    found = forbidden_imports(path.read_text("utf-8"), lazy_allowed=rel in LAZY_ALLOWED)
    assert found == [], f"{rel} imports {found} (layer rule: pipelines -> ltsc -> numba_kernels)"


@pytest.mark.parametrize(
    ("source", "lazy_allowed", "expected"),
    [
        ("import pyarrow\n", False, [(1, "pyarrow")]),
        ("import numpy, apache_beam.io as io\n", False, [(1, "apache_beam.io")]),
        ("from tokenizers.models import BPE\n", False, [(1, "tokenizers.models")]),
        ("import importlib\nm = importlib.import_module('datasets')\n", False, [(2, "datasets")]),
        ("x = __import__('transformers')\n", False, [(1, "transformers")]),
        ("def f():\n    import transformers\n", False, [(2, "transformers")]),
        ("def f():\n    import transformers\n", True, []),
        ("class A:\n    def m(self):\n        from datasets import Dataset\n", True, []),
        ("try:\n    import pyarrow\nexcept ImportError:\n    pass\n", True, [(2, "pyarrow")]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import datasets\n", True, []),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import datasets\n", False, [(3, "datasets")]),
        ("import pyarrowx\nfrom . import tokenizers\nimport numpy\n", False, []),
    ],
)
def test_checker_detects_violations(source: str, lazy_allowed: bool, expected: list[tuple[int, str]]) -> None:
    assert forbidden_imports(source, lazy_allowed=lazy_allowed) == expected


def test_importing_the_core_loads_none_of_them() -> None:
    """Importing every module of ltsc and numba_kernels (ltsc.hf included) leaves the forbidden ones unloaded."""
    code = f"""
import importlib, json, pkgutil, sys
names = []
for package in {CORE_PACKAGES!r}:
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})
print(json.dumps({{"imported": names, "loaded": loaded}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"ltsc", "numba_kernels"} <= set(result["imported"])
    assert result["loaded"] == []
