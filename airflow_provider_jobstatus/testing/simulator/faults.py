"""Fault injection: per-vendor shares of bad answers, drawn from a seeded RNG per vendor.

One draw per request (``random.Random`` seeded from the spec's seed and the vendor name), compared
with the cumulative shares in a fixed order, so a run is reproducible for a given seed and request
order. Only requests whose route is selected by ``paths`` (all when omitted) draw.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalog import vendors

#: fault kinds, in the order their shares are stacked
FAULT_KINDS: tuple[str, ...] = (
    "error_5xx",
    "rate_429",
    "reset",
    "slow",
    "html_error",
    "malformed_json",
    "unknown_status",
    "truncate",
)
_OTHER_KEYS = frozenset({"vendor", "seed", "retry_after", "slow_seconds", "paths"})


@dataclass(frozen=True)
class Fault:
    """One injected fault: its kind and the details needed to act it out."""

    kind: str
    status: int = 0
    retry_after: int = 1
    slow_seconds: float = 40.0


@dataclass(frozen=True)
class FaultSpec:
    """What to inject for one vendor."""

    seed: int = 0
    shares: Mapping[str, float] = field(default_factory=dict)
    retry_after: int = 1
    slow_seconds: float = 40.0
    paths: frozenset[str] | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> FaultSpec:
        """Validate a JSON spec (as posted to ``/_sim/faults``); raises ValueError with the reason."""
        unknown = set(spec) - set(FAULT_KINDS) - _OTHER_KEYS
        if unknown:
            raise ValueError(
                f"unknown fault keys {sorted(unknown)}; known: {sorted(set(FAULT_KINDS) | _OTHER_KEYS)}"
            )
        shares: dict[str, float] = {}
        for kind in FAULT_KINDS:
            if kind not in spec or spec[kind] is None:
                continue
            value = spec[kind]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{kind} must be a probability between 0 and 1, got {value!r}")
            if value:
                shares[kind] = float(value)
        if sum(shares.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault shares add up to {sum(shares.values()):.3f}, more than 1")
        seed = spec.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        retry_after = spec.get("retry_after", 1)
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError(f"retry_after must be a non-negative integer, got {retry_after!r}")
        slow_seconds = spec.get("slow_seconds", 40.0)
        if (
            isinstance(slow_seconds, bool)
            or not isinstance(slow_seconds, (int, float))
            or not math.isfinite(slow_seconds)
            or slow_seconds < 0
        ):
            raise ValueError(f"slow_seconds must be a non-negative number, got {slow_seconds!r}")
        paths = spec.get("paths")
        if paths is not None:
            if isinstance(paths, str) or not isinstance(paths, Iterable):
                raise ValueError(f"paths must be a list of route names, got {paths!r}")
            paths = frozenset(str(p) for p in paths)
        return cls(seed, shares, retry_after, float(slow_seconds), paths)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.seed, **self.shares}
        out["retry_after"] = self.retry_after
        out["slow_seconds"] = self.slow_seconds
        if self.paths is not None:
            out["paths"] = sorted(self.paths)
        return out


class FaultBoard:
    """The fault specs in force, one per vendor, each with its own seeded RNG."""

    def __init__(self) -> None:
        self._specs: dict[str, tuple[FaultSpec, random.Random]] = {}

    def set(self, vendor: str, spec: FaultSpec) -> list[str]:
        """Install ``spec`` for ``vendor`` (``"*"``: every vendor); returns the vendors touched."""
        known = vendors()
        if vendor != "*" and vendor not in known:
            raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(known)} or '*'")
        targets = list(known) if vendor == "*" else [vendor]
        for name in targets:
            self._specs[name] = (spec, random.Random(f"{spec.seed}:{name}"))
        return targets

    def clear(self, vendor: str | None = None) -> None:
        if vendor is None or vendor == "*":
            self._specs.clear()
        elif vendor in vendors():
            self._specs.pop(vendor, None)
        else:
            raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(vendors())} or '*'")

    def draw(self, vendor: str | None, route: str) -> Fault | None:
        """The fault for this request, or None. Cheap when no spec is set."""
        if vendor is None:
            return None
        entry = self._specs.get(vendor)
        if entry is None:
            return None
        spec, rng = entry
        if spec.paths is not None and route not in spec.paths and f"{vendor}.{route}" not in spec.paths:
            return None
        r = rng.random()
        acc = 0.0
        for kind in FAULT_KINDS:
            share = spec.shares.get(kind, 0.0)
            if share and r < acc + share:
                status = 0
                if kind == "error_5xx":
                    status = 503 if (r - acc) < share / 2 else 500
                elif kind == "rate_429":
                    status = 429
                elif kind == "html_error":
                    status = 502
                return Fault(kind, status, spec.retry_after, spec.slow_seconds)
            acc += share
        return None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {vendor: spec.to_dict() for vendor, (spec, _) in sorted(self._specs.items())}
