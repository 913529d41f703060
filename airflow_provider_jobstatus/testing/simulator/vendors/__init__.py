"""One module per simulated vendor; each exposes ``routes(state)``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..state import SimState
from . import alteryx, apidatatools, jobapi, nitro, pdfco, playment


def all_routes(state: SimState) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for module in (nitro, pdfco, alteryx, apidatatools, playment, jobapi):
        routes.extend(module.routes(state))
    return routes
