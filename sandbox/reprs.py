"""Keeping secrets out of printed objects."""

from __future__ import annotations

from typing import Any


class PrintsOwnRepr:
    """Mixed into the dataclasses that hold secrets or tokens in `field(repr=False)` fields.

    Pretty printers print this object as its own repr. Hypothesis' printer (the falsifying example of a failing
    test, which shows the test's fixtures) and IPython's show every field of a dataclass and ignore
    `repr=False`; both honour the `_repr_pretty_` method of the IPython pretty-printing protocol
    (https://ipython.readthedocs.io/en/stable/api/generated/IPython.lib.pretty.html)."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(f"{type(self).__name__}(...)" if cycle else repr(self))
