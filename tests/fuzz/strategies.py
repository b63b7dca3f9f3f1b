"""Input strategies shared by the fuzz tests: arbitrary JSON, and near-valid mutations of a valid document."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

# text that stresses parsers and escaping: markdown, mentions, control and zero-width characters, path tricks
NASTY = st.sampled_from(
    [
        "",
        " ",
        "..",
        "../..",
        "/",
        "//",
        "%2e%2e",
        "\x00",
        "\u200b",
        "\u202e",
        "\r\n",
        "<at>x</at>",
        "[x](https://e.example)",
        "*",
        "_",
        "`",
        "@",
        "\ud7ff",
        "\U0001f600",
        "a" * 300,
        "9" * 40,
        "-1",
        "0",
        "1e309",
        "NaN",
        "null",
        "true",
        "/subscriptions/",
        "web-01",
        "dev-01",
        "prod-rg",
        "dev-rg",
    ]
)
TEXT = st.one_of(st.text(max_size=60), NASTY)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False, allow_infinity=False), TEXT
)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `doc` (dict keys and list indexes)."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any, *, max_mutations: int = 3) -> Any:
    """`base` with 1..max_mutations near-valid changes: a value replaced, a key removed, a key added, a list grown."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        paths = _paths(doc)
        if not paths:
            return draw(JSON)
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        kind = draw(st.sampled_from(["replace", "remove", "add", "grow", "retype"]))
        if kind == "replace":
            parent[key] = draw(JSON)
        elif kind == "retype":  # same information, another JSON type: "1" for 1, [x] for x, {"x": ...}
            value = parent[key]
            parent[key] = draw(st.sampled_from([str(value), [value], {"value": value}, None]))
        elif kind == "remove":
            del parent[key]
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(TEXT)] = draw(JSON)
        elif kind == "grow" and isinstance(parent[key], list):
            parent[key] = parent[key] + draw(st.lists(JSON, min_size=1, max_size=3))
        else:
            parent[key] = draw(SCALARS)
    return doc
