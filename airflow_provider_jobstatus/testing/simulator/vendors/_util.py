"""Helpers shared by the vendor modules."""

from __future__ import annotations

import hmac
import math
from datetime import datetime, timezone

from ..content import iter_bytes
from ..state import ResultFile


def iso_utc(ts: float, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def whole_seconds(ttl: float) -> int:
    return math.ceil(ttl)


def retry_after_header(seconds: int) -> tuple[bytes, bytes]:
    return (b"retry-after", str(seconds).encode())


def preview(rf: ResultFile, length: int = 200) -> str:
    return b"".join(iter_bytes(rf.key, rf.size, 0, length)).decode("ascii")


def attachment(name: str) -> tuple[bytes, bytes]:
    return (b"content-disposition", f'attachment; filename="{name}"'.encode())
