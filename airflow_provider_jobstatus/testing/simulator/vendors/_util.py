"""Helpers shared by the vendor modules."""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..content import iter_bytes
from ..faults import Fault
from ..http import Reply, html_502
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


def start_fault(plan: dict[str, Any], fault_reply: Callable[[Fault], Reply]) -> Reply | None:
    """The answer a start plan's fault gives instead of the vendor's own (None: answer normally).
    ``lost_answer`` is checked after the job was made: the client never learns its id."""
    kind = plan.get("fault")
    if kind == "rate_429":
        return fault_reply(Fault("rate_429", 429, 1))
    if kind == "error_5xx":
        return fault_reply(Fault("error_5xx", 500))
    if kind == "lost_answer":
        return html_502()
    return None


def pdf_result(job_id: str, index: int) -> tuple[str, str]:
    """Name and content type of a PDF result file."""
    return ("result.pdf" if index == 0 else f"result-{index + 1}.pdf"), "application/pdf"
