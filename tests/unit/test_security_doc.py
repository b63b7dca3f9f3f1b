"""docs/security.md names the tests covering each threat: every one named must exist, so the doc cannot rot."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_named_in_the_security_doc_exists() -> None:
    references = REFERENCE.findall(DOC.read_text())
    assert len(references) >= 20, "the STRIDE table should name the tests that cover each threat"
    missing = [f"{file}::{name}" for file, name in references if not (ROOT / file).is_file() or name not in _test_functions(ROOT / file)]
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"


def test_every_stride_row_names_a_test_or_says_not_covered() -> None:
    rows = [line for line in DOC.read_text().splitlines() if re.match(r"\| [STRIDE]\d+ \|", line)]
    assert {row[2] for row in rows} == set("STRIDE"), "every STRIDE category has at least one row"
    bare = [row.split("|")[1].strip() for row in rows if not REFERENCE.search(row) and "not covered" not in row]
    assert not bare, f"rows naming no test and not saying 'not covered': {bare}"
