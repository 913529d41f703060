"""What the simulator knows of each vendor: one :class:`SimVendor` per vendor of the provider's
registry (:data:`airflow_provider_jobstatus.vendors.VENDORS`), declared as ``SIM`` by its module
in :mod:`.vendors` (or given to :func:`register`). Nothing here names a vendor."""

from __future__ import annotations

import importlib
import importlib.util
import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_jobstatus.vendors import VENDORS as PROVIDER_VENDORS

from .checks import SimError

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from .state import Job, SimState

T = TypeVar("T")

OUTCOMES_ALL: tuple[str, ...] = ("succeeded", "failed", "canceled")
#: options every vendor's jobs take; ``hold``: the job stays running until ``POST /_sim/finish``
COMMON_OPTIONS: frozenset[str] = frozenset({"results", "link_ttl", "content_type", "hold"})
#: largest result file the simulator generates
MAX_RESULT_BYTES = 512 * 1024 * 1024


def _no_options(outcome: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _no_ids(state: SimState, opts: dict[str, Any]) -> None:
    return None


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID from a seeded generator: the same seed and calls give the same ids."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def random_hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _nothing_on_finish(state: SimState, job: Job) -> None:
    return None


def _no_extras(state: SimState) -> dict[str, Any]:
    return {}


def _json_result(job_id: str, index: int) -> tuple[str, str]:
    return ("result.json" if index == 0 else f"result-{index + 1}.json"), "application/json"


@dataclass(frozen=True)
class SimVendor:
    """One simulated vendor, as its module declares it."""

    #: the provider's connection type, e.g. ``"pdfco"``
    name: str
    #: path of the vendor's base URL on the API origin, e.g. ``"/pdfco"``
    prefix: str
    #: the outcomes the vendor really has (DESIGN.md's outcome table) -> its word for each
    outcomes: Mapping[str, str]
    #: non-terminal status values, in the order a job goes through them
    phases: tuple[str, ...]
    #: a status string the vendor never documented (the ``unknown_status`` fault)
    undocumented_status: str
    #: the credentials accepted by default: ``client_id`` and ``client_secret`` (token vendors) or
    #: ``api_key``; other fields are connection extras (Playment's ``project_id``)
    credentials: Mapping[str, str]
    #: the vendor's API routes
    routes: Callable[[SimState], list[BaseRoute]]
    #: how many result files a job may have
    max_results: int = 1
    #: vendor-specific job options accepted by ``create_job`` (besides :data:`COMMON_OPTIONS`)
    options: frozenset[str] = frozenset()
    #: (outcome, the options given) -> the vendor options a new job keeps, checked and defaulted
    clean_options: Callable[[str, Mapping[str, Any]], dict[str, Any]] = _no_options
    #: adds the ids a new job's options carry (made with the state's seeded ids)
    add_ids: Callable[[SimState, dict[str, Any]], None] = _no_ids
    #: a new job id in the vendor's own format
    new_job_id: Callable[[random.Random], str] = random_uuid
    #: (job id, index) -> (file name, content type) of a result file
    result_file: Callable[[str, int], tuple[str, str]] = _json_result
    #: what a job's end changes besides the job (PDF.co's credit balance)
    on_finish: Callable[[SimState, Job], None] = _nothing_on_finish
    #: (state, MAC, n) -> the ``n``-th access token, when the vendor's tokens have a shape (Nitro's JWT)
    token_shape: Callable[[SimState, bytes, int], str] | None = None
    #: start faults only this vendor answers with, besides the common ones (PDF.co's refusals)
    start_refusals: frozenset[str] = frozenset()
    #: whether jobs belong to batches that list them (Playment)
    batches: bool = False
    #: connection extras besides the credentials' (the declared API's ``profile``)
    connection_extras: Callable[[SimState], dict[str, Any]] = _no_extras

    @property
    def display_name(self) -> str:
        """The provider's name for the vendor, used in every message."""
        return PROVIDER_VENDORS[self.name].display_name


#: the simulated vendors, found on first use; :func:`register` adds to it
_catalog: dict[str, SimVendor] | None = None


def vendors() -> Mapping[str, SimVendor]:
    """Every simulated vendor: the provider's vendors that have a module in :mod:`.vendors` (in
    the registry's order), then those given to :func:`register`."""
    global _catalog
    if _catalog is None:
        found: dict[str, SimVendor] = {}
        for name in list(PROVIDER_VENDORS):
            module_name = f"{__package__}.vendors.{name}"
            if importlib.util.find_spec(module_name) is None:
                continue
            sim = getattr(importlib.import_module(module_name), "SIM", None)
            if isinstance(sim, SimVendor) and sim.name == name:
                found[name] = sim
        _catalog = found
    return _catalog


def vendor(name: Any) -> SimVendor:
    """One simulated vendor, or a 400 naming the known ones."""
    known = vendors()
    try:
        return known[name]
    except (KeyError, TypeError):
        raise SimError(400, f"unknown vendor {name!r}; known: {', '.join(known)}") from None


def register(sim: SimVendor) -> None:
    """Simulate a vendor declared outside this package (a test's): the provider's registry must
    know it (:func:`airflow_provider_jobstatus.vendors.register`). Servers started afterwards
    serve its routes."""
    if sim.name not in PROVIDER_VENDORS:
        raise ValueError(f"no vendor {sim.name!r} in the provider's registry: register its API first")
    known = vendors()
    if sim.name in known and known[sim.name] is not sim:
        raise ValueError(f"the simulator already has a vendor {sim.name!r}")
    assert _catalog is not None
    _catalog[sim.name] = sim


def unregister(name: str) -> None:
    """Forget a vendor given to :func:`register`."""
    if _catalog is not None:
        _catalog.pop(name, None)


class VendorFacts(Mapping[str, T]):
    """One fact of every simulated vendor, by vendor name, as the catalog holds it when read."""

    def __init__(self, fact: Callable[[SimVendor], T]) -> None:
        self._fact = fact

    def __getitem__(self, name: str) -> T:
        return self._fact(vendors()[name])

    def __iter__(self) -> Iterator[str]:
        return iter(vendors())

    def __len__(self) -> int:
        return len(vendors())

    def __repr__(self) -> str:
        return repr(dict(self))


#: vendor name -> :class:`SimVendor`
VENDORS: Mapping[str, SimVendor] = VendorFacts(lambda sim: sim)
#: vendor name -> path prefix of its base URL on the API origin
PREFIXES: Mapping[str, str] = VendorFacts(lambda sim: sim.prefix)
#: vendor name -> the outcomes it really has
OUTCOMES: Mapping[str, tuple[str, ...]] = VendorFacts(lambda sim: tuple(sim.outcomes))
