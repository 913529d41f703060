"""Start jobs on the simulator from a DAG: what the example DAGs' first task does offline.

A real DAG starts the job at the vendor and pushes its id; against the simulator we ask its
control API instead, which sits at the root of the server behind the connection's host.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx


def simulator_root(conn_id: str) -> str:
    from airflow.sdk import BaseHook

    host = BaseHook.get_connection(conn_id).host or ""
    parts = urlsplit(host)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"connection {conn_id!r} does not point at a simulator (host {host!r})")
    return f"{parts.scheme}://{parts.netloc}"


def start_simulated_job(
    conn_id: str, vendor: str, outcome: str = "succeeded", **options: Any
) -> dict[str, Any]:
    """Create a job on the simulator behind ``conn_id``; returns its id and the result's sha256."""
    response = httpx.post(
        f"{simulator_root(conn_id)}/_sim/jobs",
        json={"vendor": vendor, "outcome": outcome, **options},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def start_simulated_batch(conn_id: str, jobs: int, **options: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{simulator_root(conn_id)}/_sim/batches", json={"jobs": jobs, **options}, timeout=30
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]
