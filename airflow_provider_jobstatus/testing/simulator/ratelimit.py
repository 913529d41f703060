"""Request-rate limits per vendor and API key, as vendors keep them: a sliding one-second window
over the requests a key was served; one more is answered 429 with ``Retry-After`` (the vendor's own
429 body) and is not counted. Set through ``/_sim/rate_limits`` or ``Simulator.set_rate_limit``."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from .catalog import VENDORS
from .faults import Fault


@dataclass(frozen=True)
class RateLimit:
    per_second: int
    retry_after: int = 1

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> RateLimit:
        unknown = set(spec) - {"vendor", "per_second", "retry_after"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; known: vendor, per_second, retry_after")
        per_second, retry_after = spec.get("per_second"), spec.get("retry_after", 1)
        for name, value, least in (("per_second", per_second, 1), ("retry_after", retry_after, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer of at least {least}, got {value!r}")
        return cls(per_second, retry_after)  # type: ignore[arg-type]


class RateLimits:
    """The limits in force and, per (vendor, key), when its served requests arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, RateLimit] = {}
        self._served: dict[tuple[str, str], deque[float]] = {}
        self.refused = 0

    def set(self, vendor: str, limit: RateLimit) -> list[str]:
        vendors = list(VENDORS) if vendor == "*" else [vendor]
        if vendors != list(VENDORS) and vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(VENDORS)} or '*'")
        with self._lock:
            for name in vendors:
                self._limits[name] = limit
        return vendors

    def clear(self, vendor: str | None = None) -> None:
        with self._lock:
            if vendor in (None, "*"):
                self._limits.clear()
                self._served.clear()
            else:
                self._limits.pop(vendor, None)
            self.refused = 0

    def over(self, vendor: str | None, scope: MutableMapping[str, Any]) -> Fault | None:
        """A 429 for this request when its key has had its fill in the last second, else None
        (and the request counts). Cheap when no limit is set."""
        limit = self._limits.get(vendor) if vendor is not None else None
        if limit is None or vendor is None:
            return None
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k in _KEY_HEADERS), "")
        now = time.monotonic()
        with self._lock:
            served = self._served.setdefault((vendor, key), deque())
            while served and now - served[0] >= 1.0:
                served.popleft()
            if len(served) >= limit.per_second:
                self.refused += 1
                return Fault("rate_429", 429, limit.retry_after)
            served.append(now)
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            limits = {
                v: {"per_second": x.per_second, "retry_after": x.retry_after} for v, x in self._limits.items()
            }
            return {"limits": limits, "refused": self.refused}


#: what tells one key from another: the API key, or the token that stands for it
_KEY_HEADERS = (b"x-api-key", b"authorization")
