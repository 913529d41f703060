"""One module per simulated vendor, named as its connection type; each declares ``SIM``, a
:class:`~..catalog.SimVendor` (the catalog finds them, nothing lists them)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..catalog import vendors
from ..state import SimState


def all_routes(state: SimState) -> list[BaseRoute]:
    return [route for sim in vendors().values() for route in sim.routes(state)]
