"""Capped exponential backoff with full jitter, honouring the vendor's own pacing hints."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``base`` doubling to ``cap`` seconds; each delay drawn uniformly below that (full jitter)
    so that many waits failing together do not retry in lock-step."""

    base: float = 1.0
    cap: float = 300.0

    def delay(self, failures: int, hint: float | None = None) -> float:
        """Seconds to wait after ``failures`` consecutive faults (1 = the first fault).

        A vendor's Retry-After/``retry_after`` is a floor: we never come back sooner than asked.
        """
        ceiling = min(self.cap, self.base * (2 ** max(0, failures - 1)))
        wait = random.uniform(0, ceiling)
        if hint is not None and hint > 0:
            wait = max(wait, min(hint, self.cap))
        return wait
