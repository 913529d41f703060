"""Jobs started through the vendors' own start calls: what the next ones will do, and counts.

A test chooses the outcome of jobs a DAG will start without touching the DAG's payload: it queues
plans per vendor (``POST /_sim/starts``); each start call takes the next plan (or the default: a
job that succeeds after two polls). A plan may also make the start itself go wrong:

- ``rate_429``: answered 429, no job made;
- ``error_5xx``: answered 500, no job made (the client cannot know that);
- ``lost_answer``: the job is made, then the answer is a 502 (the client cannot know the id);
- ``refuse_402`` / ``refuse_403``: PDF.co's "not enough credits" / "input URL forbidden".

Counts of created and canceled jobs are kept per vendor and per Playment ``reference_id``.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from .catalog import VENDORS

START_FAULTS = frozenset({"rate_429", "error_5xx", "lost_answer", "refuse_402", "refuse_403"})
_PLAN_KEYS = frozenset({"outcome", "polls", "seconds", "result_bytes", "fault", "opts"})
DEFAULT_PLAN: dict[str, Any] = {"outcome": "succeeded", "polls": 2}


class StartBook:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.plans: dict[str, deque[dict[str, Any]]] = {v: deque() for v in VENDORS}
        self.created: dict[str, int] = dict.fromkeys(VENDORS, 0)
        self.canceled: dict[str, int] = dict.fromkeys(VENDORS, 0)
        self.created_by_reference: dict[str, int] = {}
        self.canceled_by_reference: dict[str, int] = {}
        self.starts: dict[str, int] = dict.fromkeys(VENDORS, 0)

    def plan(self, vendor: str, plans: list[dict[str, Any]]) -> int:
        """Queue ``plans`` for the next start calls of ``vendor``; returns how many are queued."""
        if vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(VENDORS)}")
        if not isinstance(plans, list):
            raise ValueError("plans must be a list of objects")
        for plan in plans:
            if not isinstance(plan, dict) or set(plan) - _PLAN_KEYS:
                raise ValueError(f"each plan is an object with keys from {sorted(_PLAN_KEYS)}, got {plan!r}")
            fault = plan.get("fault")
            if fault is not None and fault not in START_FAULTS:
                raise ValueError(f"fault {fault!r} is not one of {sorted(START_FAULTS)}")
            if fault in ("refuse_402", "refuse_403") and vendor != "pdfco":
                raise ValueError(f"{fault} is a PDF.co answer")
        with self.lock:
            self.plans[vendor].extend(dict(p) for p in plans)
            return len(self.plans[vendor])

    def clear_plans(self) -> None:
        """Forget the queued plans (the counts stay)."""
        with self.lock:
            for queue in self.plans.values():
                queue.clear()

    def next_plan(self, vendor: str) -> dict[str, Any]:
        with self.lock:
            self.starts[vendor] += 1
            queue = self.plans[vendor]
            return queue.popleft() if queue else dict(DEFAULT_PLAN)

    def count_created(self, vendor: str, reference_id: str | None) -> None:
        with self.lock:
            self.created[vendor] += 1
            if reference_id is not None:
                self.created_by_reference[reference_id] = self.created_by_reference.get(reference_id, 0) + 1

    def count_canceled(self, vendor: str, reference_id: str | None) -> None:
        with self.lock:
            self.canceled[vendor] += 1
            if reference_id is not None:
                self.canceled_by_reference[reference_id] = self.canceled_by_reference.get(reference_id, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "starts": dict(self.starts),
                "created": dict(self.created),
                "canceled": dict(self.canceled),
                "created_by_reference": dict(self.created_by_reference),
                "canceled_by_reference": dict(self.canceled_by_reference),
                "queued": {v: len(q) for v, q in self.plans.items()},
            }

    def reset(self) -> None:
        with self.lock:
            self.__init__()  # type: ignore[misc]
