"""A real HTTP server that behaves like the five vendor APIs (Nitro, PDF.co, Alteryx Server v3,
APIDataTools, Playment), with a files origin for signed URLs, fault injection and a request log.

Run it with ``python -m airflow_provider_jobstatus.testing.simulator --port 8700`` or in-process::

    with Simulator() as sim:
        job = sim.create_job("pdfco", polls=2)
        ...  # point a connection at sim.base_url("pdfco")

It never imports Airflow.
"""

from __future__ import annotations

from .catalog import OUTCOMES, PREFIXES, VENDORS, SimVendor, register, unregister
from .checks import SimError
from .credentials import DEFAULT_CREDENTIALS
from .faults import FAULT_KINDS, FaultSpec
from .server import Simulator

__all__ = [
    "DEFAULT_CREDENTIALS",
    "FAULT_KINDS",
    "OUTCOMES",
    "PREFIXES",
    "VENDORS",
    "FaultSpec",
    "SimError",
    "SimVendor",
    "Simulator",
    "register",
    "unregister",
]
