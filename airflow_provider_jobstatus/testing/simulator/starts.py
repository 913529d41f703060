"""Jobs started through the vendors' own start calls: what the next ones will do, and counts.

A test chooses the outcome of jobs a DAG will start without touching the DAG's payload: it queues
plans per vendor (``POST /_sim/starts``); each start call takes the next plan (or the default: a
job that succeeds after two polls). A plan may also make the start itself go wrong:

- ``rate_429``: answered 429, no job made;
- ``error_5xx``: answered 500, no job made (the client cannot know that);
- ``lost_answer``: the job is made, then the answer is a 502 (the client cannot know the id);
- and the refusals a vendor declares (``SimVendor.start_refusals``): PDF.co's ``refuse_402`` /
  ``refuse_403``, "not enough credits" / "input URL forbidden".

Counts of created and canceled jobs are kept per vendor and per Playment ``reference_id``.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from typing import Any

from .catalog import vendor as sim_vendor
from .catalog import vendors

#: start faults every vendor can act out
START_FAULTS = frozenset({"rate_429", "error_5xx", "lost_answer"})
_PLAN_KEYS = frozenset({"outcome", "polls", "seconds", "result_bytes", "fault", "opts"})
DEFAULT_PLAN: dict[str, Any] = {"outcome": "succeeded", "polls": 2}


class StartBook:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.plans: defaultdict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self.created: Counter[str] = Counter()
        self.canceled: Counter[str] = Counter()
        self.created_by_reference: dict[str, int] = {}
        self.canceled_by_reference: dict[str, int] = {}
        self.starts: Counter[str] = Counter()

    def plan(self, vendor: str, plans: list[dict[str, Any]]) -> int:
        """Queue ``plans`` for the next start calls of ``vendor``; returns how many are queued."""
        faults = START_FAULTS | sim_vendor(vendor).start_refusals
        if not isinstance(plans, list):
            raise ValueError("plans must be a list of objects")
        for plan in plans:
            if not isinstance(plan, dict) or set(plan) - _PLAN_KEYS:
                raise ValueError(f"each plan is an object with keys from {sorted(_PLAN_KEYS)}, got {plan!r}")
            fault = plan.get("fault")
            if fault is not None and fault not in faults:
                raise ValueError(f"fault {fault!r} is not one of {sorted(faults)} ({vendor})")
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
            names = list(vendors())
            return {
                "starts": {v: self.starts[v] for v in names},
                "created": {v: self.created[v] for v in names},
                "canceled": {v: self.canceled[v] for v in names},
                "created_by_reference": dict(self.created_by_reference),
                "canceled_by_reference": dict(self.canceled_by_reference),
                "queued": {v: len(self.plans.get(v, ())) for v in names},
            }

    def reset(self) -> None:
        with self.lock:
            self.__init__()  # type: ignore[misc]
