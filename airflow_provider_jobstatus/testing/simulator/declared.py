"""The declared API the simulator serves: a profile (the one a ``jobapi`` connection holds) and how
answers are built from it, so a user's own declaration can be tried offline.

Answers put each value where the profile's JMESPath expression will find it; the simulator can do
that for plain paths (``status``, ``job.state``, ``data.jobs[0].id``, ``"x-id"``), and says so
when a profile reads the answer some other way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import jmespath

from airflow_provider_jobstatus.errors import ConfigurationError
from airflow_provider_jobstatus.vendors.jobapi import JobApi, declared_api

from .checks import SimError

#: what the simulator serves until told otherwise: a bearer-token API with a cancel call whose
#: results are objects holding signed URLs on the files origin
DEFAULT_PROFILE: Mapping[str, Any] = {
    "name": "Simulated Job API",
    "auth": {"scheme": "bearer"},
    "headers": {"Accept": "application/json"},
    "start": {"method": "POST", "path": "/v1/jobs", "body": "json", "job_id": "job.id"},
    "status": {
        "method": "GET",
        "path": "/v1/jobs/{job_id}",
        "state": "job.state",
        "states": {
            "queued": ["pending"],
            "running": ["working"],
            "succeeded": ["done"],
            "failed": ["error"],
            "canceled": ["stopped"],
        },
        "message": "job.error",
        "retry_after": "poll_after_seconds",
        "not_found": "missing",
    },
    "results": {"files": "job.outputs", "url": "href", "name": "filename", "size": "bytes"},
    "cancel": {"method": "POST", "path": "/v1/jobs/{job_id}/cancel"},
    "job_url": "/ui/jobs/{job_id}",
}

Step = str | int


def steps_of(expression: str, field: str) -> list[Step]:
    """The plain path an expression reads (fields and list indexes), or a SimError naming it."""
    steps: list[Step] = []

    def walk(node: Mapping[str, Any]) -> None:
        kind = node["type"]
        if kind == "field":
            steps.append(node["value"])
        elif kind == "subexpression":
            for child in node["children"]:
                walk(child)
        elif kind == "index_expression" and node["children"][1]["type"] == "index":
            walk(node["children"][0])
            steps.append(node["children"][1]["value"])
        else:
            raise SimError(
                400,
                f"profile.{field}: the simulator answers only plain paths (a.b[0].c), not {expression!r}",
            )

    walk(jmespath.compile(expression).parsed)
    if any(isinstance(step, int) and step < 0 for step in steps):
        raise SimError(400, f"profile.{field}: the simulator answers no negative index ({expression!r})")
    return steps


def plant(doc: dict[str, Any], steps: list[Step], value: Any) -> dict[str, Any]:
    """Put ``value`` into ``doc`` where ``steps`` lead (making objects and lists on the way)."""
    node: Any = doc
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        last = following is None
        fresh: Any = value if last else ([] if isinstance(following, int) else {})
        if isinstance(step, int):
            while len(node) <= step:
                node.append({} if not last else None)
            if last or not isinstance(node[step], (dict, list)):
                node[step] = fresh
        elif last or not isinstance(node.get(step), (dict, list)):
            node[step] = fresh
        node = node[step]
    return doc


class Declared:
    """A checked profile and the plain paths its answers are built on."""

    def __init__(self, profile: Mapping[str, Any]) -> None:
        try:
            self.api: JobApi = declared_api(copy.deepcopy(dict(profile)))
        except ConfigurationError as exc:
            raise SimError(400, str(exc)) from None
        self.profile: dict[str, Any] = json.loads(json.dumps(profile))
        p = self.api.profile
        self.state = steps_of(p.status.state, "status.state")
        self.message = steps_of(p.status.message, "status.message") if p.status.message else None
        self.retry_after = (
            steps_of(p.status.retry_after, "status.retry_after") if p.status.retry_after else None
        )
        self.job_id = steps_of(p.start.job_id, "start.job_id") if p.start else None
        results = p.results
        self.files = steps_of(results.files, "results.files") if results else None
        self.url = steps_of(results.url, "results.url") if results and results.url else None
        self.name = steps_of(results.name, "results.name") if results and results.name else None
        self.size = steps_of(results.size, "results.size") if results and results.size else None

    def raw_state(self, state: str) -> str:
        """The first raw value the profile lists for ``state`` (queued falls back to running)."""
        states: dict[str, list[str]] = {k: v for k, v in self.api.profile.status.states.items()}
        raws = states.get(state) or (states.get("running") if state == "queued" else None)
        if not raws:
            raise SimError(
                400, f"profile.status.states lists no raw value for {state!r}: the job cannot show it"
            )
        return str(raws[0])
