"""An APIDataTools-shaped origin whose answers a test scripts by time, job by job: the parity and
pacing tests run the same vendor behaviour through every way of waiting."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.servers import Background, Origin, Reply, Seen, http_answer


@dataclass(frozen=True)
class Phase:
    """What the origin answers a job's status calls until ``until`` seconds after the first one."""

    until: float
    status: int
    body: dict[str, Any]


def json_answer(status: int, body: dict[str, Any]) -> bytes:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    return http_answer(
        json.dumps(body).encode(), f"{status} {reason}", [("Content-Type", "application/json")]
    )


SUCCESS = {"status": "success", "result": {"file": "https://files.example/out.csv"}}
UNAVAILABLE = {"error": "SERVICE_UNAVAILABLE"}
NOT_FOUND = {"error": "JOB_NOT_FOUND", "details": {"message": "no such job"}}
FOREVER = 1e9


class ScriptedVendor:
    """An APIDataTools-shaped origin: a start answers the next scenario's job id; each job's
    status calls follow that job's phases, timed from its first status call."""

    def __init__(self, bg: Background) -> None:
        self.scripts: dict[str, list[Phase]] = {}
        self.first: dict[str, float] = {}
        self.starts: list[str] = []
        self.lock = threading.Lock()
        self.origin = Origin(bg, self.answer)

    def script(self, job_id: str, phases: list[Phase]) -> None:
        with self.lock:
            self.scripts[job_id] = phases
            self.first.pop(job_id, None)

    def answer(self, seen: Seen) -> Reply:
        if seen.method == "POST":
            with self.lock:
                job_id = self.starts.pop(0)
            return Reply(json_answer(200, {"status": "queued", "job_id": job_id}))
        job_id = seen.target.rstrip("/").rsplit("/", 1)[-1]
        with self.lock:
            phases = self.scripts.get(job_id)
            start = self.first.setdefault(job_id, time.monotonic())
        if phases is None:
            return Reply(json_answer(404, NOT_FOUND))
        elapsed = time.monotonic() - start
        phase = next(p for p in phases if elapsed < p.until)
        return Reply(json_answer(phase.status, phase.body))
