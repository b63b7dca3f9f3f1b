"""The house rule on size: no module over about 300 lines, no function over about 50 (docs/design.md §4).

A module or function that grows past that is split by what it holds; this test says which one grew."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "cards", "manifest", "sandbox", "scripts")
MODULE_LINES = 330  # "about 300": a docstring or a long table may tip a module a little over
FUNCTION_LINES = 55


def product_modules() -> list[Path]:
    return sorted(p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py"))


def test_the_product_has_modules_to_measure() -> None:
    assert len(product_modules()) > 50  # the walk finds the code it is meant to guard


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    lines = len(source.splitlines())
    assert lines <= MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by what it holds"
    too_long = [
        f"{node.name} (line {node.lineno}, {node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
        if node.end_lineno - node.lineno + 1 > FUNCTION_LINES
    ]
    assert not too_long, f"{path.relative_to(ROOT)}: functions over {FUNCTION_LINES} lines: {', '.join(too_long)}"
