"""Errors of the control API and the checks of its arguments, shared by the state and the vendors."""

from __future__ import annotations

import math
from typing import Any


class SimError(ValueError):
    """A bad request to the control API (or the in-process API): status and a clear message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise SimError(400, f"{name} must be an integer {bound}, got {value!r}")
    return value


def check_number(name: str, value: Any, low: float = 0.0) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < low
    ):
        raise SimError(400, f"{name} must be a number >= {low:g}, got {value!r}")
    return float(value)


def check_str(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SimError(400, f"{name} must be a non-empty string, got {value!r}")
    return value
