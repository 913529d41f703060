"""What an asset watcher has announced: the cursor that makes each finished job one event, once.

A listing shows every job of a workflow or batch, finished ones included, again and again. The
cursor remembers the finished jobs already accounted for (announced, or finished before the
watcher began), so a condition that stays true ("job X is done") schedules one run, not one per
poll. A job once accounted for stays so whatever its state does later: a job that flips from
completed back to running and completes again is not announced twice. A job the listing no
longer shows (purged by the vendor, or skipped once by offset paging) is remembered until
:data:`MAX_ABSENT` more jobs have left the listing after it, so the cursor stays as small as the
listing plus that many. Ids are kept as 64-bit digests (11 characters each) to keep the value
small in Airflow's asset state store; two ids sharing a digest is a one-in-10^9 event for a
batch of 100,000 jobs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_jobstatus.status import BatchJob

_VERSION = 1
_WIDTH = 11  # base64 of 8 bytes, unpadded
#: announced jobs no longer listed that are still remembered, the most recently gone kept (11
#: bytes each in the asset state store: 22 KB at most, a third of Airflow's default
#: ``[state_store] max_value_storage_bytes``)
MAX_ABSENT = 2_000


def digest(job_id: str) -> str:
    raw = hashlib.blake2b(job_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unpack(packed: Any) -> tuple[str, ...] | None:
    if not isinstance(packed, str) or len(packed) % _WIDTH:
        return None
    return tuple(packed[i : i + _WIDTH] for i in range(0, len(packed), _WIDTH))


@dataclass(frozen=True)
class Announced:
    """Digests of jobs accounted for: ``settled`` were in the last listing (in whatever state),
    ``absent`` were settled but are missing from it, the one gone longest first."""

    settled: frozenset[str] = frozenset()
    absent: tuple[str, ...] = ()

    @classmethod
    def baseline(cls, listing: Sequence[BatchJob], finished: Callable[[BatchJob], bool]) -> Announced:
        """A new watcher: jobs finished before it started are not news."""
        return cls(frozenset(digest(job.id) for job in listing if finished(job)))

    def news(self, listing: Sequence[BatchJob], finished: Callable[[BatchJob], bool]) -> list[BatchJob]:
        """Finished jobs not accounted for, in listing order (each id once)."""
        known = self.settled.union(self.absent)
        out: dict[str, BatchJob] = {}
        for job in listing:
            if job.id not in out and finished(job) and digest(job.id) not in known:
                out[job.id] = job
        return list(out.values())

    def after(
        self, listing: Sequence[BatchJob], finished: Callable[[BatchJob], bool], announced: Iterable[str]
    ) -> Announced:
        """The cursor once ``announced`` (job ids) have been announced from ``listing``."""
        known = self.settled.union(self.absent, (digest(job_id) for job_id in announced))
        listed = {digest(job.id) for job in listing}
        gone = [d for d in self.absent if d not in listed]
        gone += sorted(self.settled - listed)
        return Announced(frozenset(listed & known), tuple(gone[-MAX_ABSENT:]))

    def to_state(self) -> dict[str, Any]:
        return {"version": _VERSION, "settled": "".join(sorted(self.settled)), "absent": "".join(self.absent)}

    @classmethod
    def from_state(cls, value: Any) -> Announced | None:
        """The stored cursor, or None when there is none (or it is not one we wrote)."""
        if not isinstance(value, dict) or value.get("version") != _VERSION:
            return None
        settled, absent = _unpack(value.get("settled")), _unpack(value.get("absent"))
        if settled is None or absent is None:
            return None
        return cls(frozenset(settled), absent)
