"""Every resource provider's routes, in one list the simulator dispatches over (virtual machines are compute.py's)."""

from __future__ import annotations

from . import containers, data, scalesets, web
from .kit import Route

ROUTES: tuple[Route, ...] = (*scalesets.ROUTES, *web.ROUTES, *containers.ROUTES, *data.ROUTES)
