"""Vendor-neutral job status model shared by hooks, triggers, sensors and operators.

Only the plain-dict form (:meth:`JobStatus.to_event`) ever crosses a process boundary: Airflow's
serde refuses classes outside ``airflow.*`` and a signed URL's query string is a credential.
Vendor text in what crosses is cut to :data:`MAX_TEXT_BYTES` by :func:`cut_text`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class JobState(str, Enum):
    """The normalized state every vendor status maps into."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


#: the states that end a wait (a set: a membership test is cheaper than the property on a hot path)
TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED})


def strip_query(url: str | None) -> str | None:
    """Drop query and fragment: a pre-signed URL's signature lives there."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # garbled (an unclosed "[", say): cut by hand, the signature still goes
        return url.split("?", 1)[0].split("#", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


log = logging.getLogger(__name__)

#: the most UTF-8 bytes of one piece of vendor text that an event or an XCom value carries
MAX_TEXT_BYTES = 4096
#: what ends a text that was cut
CUT_MARK = " …[cut from {size} bytes; the full text is in the task log]"


def cut_text(value: Any, what: str, keep: Collection[str] = ()) -> Any:
    """``value`` with every string in it (nested in dicts and lists too; a dict's ``keep`` keys
    left as they are) cut to :data:`MAX_TEXT_BYTES` and marked as cut: events and XCom values stay
    small whatever a vendor sends. Each text that is cut is logged in full once, here, as ``what``."""
    if isinstance(value, str):
        if len(value) <= MAX_TEXT_BYTES // 4:  # 4 bytes a character at most: no need to measure
            return value
        data = value.encode("utf-8", "surrogatepass")
        if len(data) <= MAX_TEXT_BYTES:
            return value
        log.info(
            "%s in full (%d bytes; events and XCom carry its first %d): %s",
            what,
            len(data),
            MAX_TEXT_BYTES,
            value,
        )
        mark = CUT_MARK.format(size=len(data))
        return data[: MAX_TEXT_BYTES - len(mark.encode())].decode("utf-8", "ignore") + mark
    if isinstance(value, dict):
        return {k: v if k in keep else cut_text(v, f"{what}, {k}") for k, v in value.items()}
    if isinstance(value, list):
        return [cut_text(v, what) for v in value]
    return value


class ResultFile(BaseModel):
    """One result a job produced, as the vendor announced it."""

    model_config = ConfigDict(frozen=True)

    #: may be a pre-signed URL: its query string is a credential, so never in a repr
    url: str | None = Field(default=None, repr=False)
    id: str | None = None
    name: str | None = None
    content_type: str | None = None
    size: int | None = None
    formats: list[str] = Field(default_factory=list)


class JobStatus(BaseModel):
    """What one status check learned about one job."""

    model_config = ConfigDict(frozen=True)

    vendor: str
    job_id: str
    state: JobState
    raw_status: str | None = None
    message: str | None = None
    results: list[ResultFile] = Field(default_factory=list)
    retry_after: float | None = None
    progress: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    raw: Any = Field(default=None, repr=False)

    @field_validator("details", mode="before")
    @classmethod
    def _plain_details(cls, value: Any) -> Any:
        """Vendor extras must travel in JSON events: bounded nesting, no NaN or infinity."""
        return _plain(value, 0) if isinstance(value, dict) else value

    def to_event(self) -> dict[str, Any]:
        """The plain JSON dict that travels in XCom and trigger events: no raw body, no signatures,
        vendor text cut to :data:`MAX_TEXT_BYTES` a field."""
        data = self.model_dump(mode="json", exclude={"raw"})
        for result in data["results"]:
            result["url"] = strip_query(result["url"])
        return cut_text(data, f"{self.vendor} job {self.job_id!r}", keep=("vendor", "job_id", "state"))  # type: ignore[no-any-return]

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> JobStatus:
        return cls.model_validate(data)


_MAX_DEPTH = 8


def _plain(value: Any, depth: int) -> Any:
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            return "…"
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return "…" if depth >= _MAX_DEPTH else [_plain(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class BatchJob(BaseModel):
    """One job as a batch listing shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    reference_id: str | None = None
    status: str | None = None
    state: JobState = JobState.UNKNOWN
    result_url: str | None = None
    #: when the vendor says the job was made (Alteryx's ``createDate``), where it says
    created: datetime | None = None


class BatchPage(BaseModel):
    """One page of a batch listing."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    jobs: list[BatchJob] = Field(default_factory=list)
    next_page_token: str | None = None
