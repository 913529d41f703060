"""The rules of one wait, without I/O: when to ask again, with which options, and when to stop.

Every way of waiting drives this one policy: the trigger (async hook, in the triggerer), the
sensor's ``poke`` and ``reschedule`` modes and the run operators' worker wait (sync hook). A driver
asks :meth:`WaitPolicy.next` what to do now, makes the call it is told to make, and hands the answer
(a :class:`JobStatus` or a :class:`JobStatusError`) to :meth:`WaitPolicy.answer`. The policy owns the
behaviour contract of ``DESIGN.md``: the deadline, the fault clock, the 404 grace counted from the
first 404, the pace floor and the ``retry_after`` cap, and the vendor's probe for ids it does not
know (PDF.co ``force``). Its clocks are plain data (:meth:`WaitPolicy.clocks`), so a wait that
moves between processes (a deferral, a reschedule) goes on where it was.

Cheap to import: no Airflow, no HTTP client.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_jobstatus.errors import JobNotFoundError, JobStatusError, TransientVendorError
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import TERMINAL_STATES, JobState, JobStatus
from airflow_provider_jobstatus.triggers.events import done_event, error_event, timeout_event

DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_FAULT_TOLERANCE = 30 * 60.0
DEFAULT_NOT_FOUND_GRACE = 60.0
#: the least time between two calls about one job, whatever a vendor's ``retry_after`` says
DEFAULT_MIN_INTERVAL = 1.0
#: the longest a vendor's ``retry_after`` may make a wait sleep (unless the poll interval is longer)
MAX_VENDOR_PACING = 600.0

DeadlineReason = Literal["timeout", "execution_timeout", "none"]


@dataclass(frozen=True)
class WaitRules:
    """A wait's settings, as the task gave them (plain numbers: they travel in trigger kwargs).

    :param min_interval: the floor under every pause (``[jobstatus] min_poll_interval``).
    :param probe_options: the vendor's options for a call that tells "no such job" from "still
        running" (PDF.co ``force``): made once, when the wait has lasted ``not_found_grace`` or
        just before its deadline, whichever comes first; "no such job" then fails the wait at once.
    """

    poll_interval: float = DEFAULT_POLL_INTERVAL
    transient_fault_tolerance: float = DEFAULT_FAULT_TOLERANCE
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE
    backoff: float = 1.0
    max_backoff: float = 300.0
    min_interval: float = DEFAULT_MIN_INTERVAL
    probe_options: Mapping[str, Any] = field(default_factory=dict)

    interval: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval", max(self.poll_interval, self.min_interval))

    def pace(self, retry_after: float | None) -> float:
        """The pause after a status that is not final: the vendor's hint wins, within bounds (a
        broken hint can neither busy-loop the wait nor park it for hours)."""
        if not retry_after or not math.isfinite(retry_after):
            return self.interval
        return min(max(retry_after, self.min_interval), max(self.poll_interval, MAX_VENDOR_PACING))


@dataclass
class Clocks:
    """What a wait has seen so far; as plain JSON (:meth:`to_dict`) it survives deferral and reschedules.

    ``due`` is when the next call is due, ``last_call`` when the last was made (epoch seconds)."""

    started: float
    failures: int = 0
    faults_since: float | None = None
    not_found_since: float | None = None
    probed: bool = False
    due: float | None = None
    last_call: float | None = None
    last: JobStatus | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON; the last status without its result files and vendor details (what the
        wait's end reports of it is its state, raw status and message)."""
        data: dict[str, Any] = {
            "started": self.started,
            "failures": self.failures,
            "faults_since": self.faults_since,
            "not_found_since": self.not_found_since,
            "probed": self.probed,
            "due": self.due,
            "last_call": self.last_call,
        }
        if self.last is not None:
            data["last"] = self.last.model_copy(update={"results": [], "details": {}}).to_event()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], now: float) -> Clocks:
        def num(name: str) -> float | None:
            value = data.get(name)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        last = data.get("last")
        return cls(
            started=num("started") or now,
            failures=int(data.get("failures") or 0),
            faults_since=num("faults_since"),
            not_found_since=num("not_found_since"),
            probed=bool(data.get("probed")),
            due=num("due"),
            last_call=num("last_call"),
            last=JobStatus.from_event(last) if isinstance(last, dict) else None,
        )


@dataclass(frozen=True)
class Ask:
    """Call the vendor now: with ``options`` (vendor switches plus a probe's), accepting an answer
    another wait of this process got less than ``max_age`` seconds ago (None: a fresh one)."""

    options: Mapping[str, Any]
    max_age: float | None
    probe: bool = False


@dataclass(frozen=True)
class Sleep:
    """Nothing to do before ``until`` (epoch seconds)."""

    until: float


@dataclass(frozen=True)
class End:
    """The wait is over: ``event`` is the trigger event payload every way of waiting ends with."""

    event: dict[str, Any]


Step = Ask | Sleep | End
#: (logging level, message): what the driver logs, in order
Note = tuple[int, str]


class WaitPolicy:
    """One wait's decisions. ``notes`` collects the lines worth logging (state changes, the first
    fault, the first 404, recovery); the driver takes them with :meth:`take_notes` when there are any.

    The common step (a status that is not final, as before) is kept to a few attribute reads: at
    thousands of waits the policy runs as often as the HTTP client."""

    __slots__ = (
        "_options",
        "_pending",
        "_probe_open",
        "_regular",
        "clocks",
        "deadline",
        "job_id",
        "notes",
        "reason",
        "rules",
        "seen_status",
        "vendor",
    )

    def __init__(
        self,
        rules: WaitRules,
        *,
        vendor: str,
        job_id: str,
        deadline: float,
        reason: DeadlineReason,
        now: float,
        vendor_options: Mapping[str, Any] | None = None,
        clocks: Mapping[str, Any] | None = None,
        seen_status: str | None = None,
    ) -> None:
        self.rules = rules
        self.vendor = vendor
        self.job_id = job_id
        self.deadline = deadline
        self.reason: DeadlineReason = reason
        self.clocks = Clocks.from_dict(clocks, now) if clocks else Clocks(started=now)
        #: the vendor status already logged before this policy took over (the sensor's first check)
        self.seen_status = seen_status
        self.notes: list[Note] = []
        self._pending: Ask | None = None
        self._options = dict(vendor_options or {})
        self._probe_open = bool(rules.probe_options) and not self.clocks.probed
        last = self.clocks.last
        self._regular = Ask(self._options, 0.9 * rules.pace(last.retry_after if last else None))

    def take_notes(self) -> list[Note]:
        notes, self.notes = self.notes, []
        return notes

    def next(self, now: float) -> Step:
        """What to do at ``now``."""
        probe_at = self._probe_at() if self._probe_open else math.inf
        if probe_at <= now <= self.deadline:  # no call starts after the deadline
            self._probe_open = False
            self.clocks.probed = True
            return self._ask(Ask({**self._options, **self.rules.probe_options}, None, probe=True), now)
        if now >= self.deadline:
            return End(timeout_event(self.reason, self.vendor, self.job_id, self.clocks.last))
        due = self.clocks.due
        if due is not None and now < due:
            return Sleep(min(due, probe_at, self.deadline))
        self._pending = ask = self._regular
        self.clocks.last_call = now
        return ask

    def answer(self, result: JobStatus | JobStatusError, now: float) -> Step:
        """Take the answer to the last :class:`Ask`; then what to do next."""
        asked = self._pending
        self._pending = None
        c = self.clocks
        if isinstance(result, JobStatus):
            if c.faults_since is not None or c.not_found_since is not None:
                self._recovered()
            last = c.last
            if last is None or last.state is not result.state or last.raw_status != result.raw_status:
                self._observe(result)
            c.last = result
            if result.state in TERMINAL_STATES:
                return End(done_event(result))
            hint = result.retry_after
            pause = self.rules.pace(hint)
            if last is None or hint != last.retry_after:
                self._regular = Ask(self._options, 0.9 * pause)
        elif isinstance(result, JobNotFoundError):
            if asked is not None and asked.probe:  # the vendor's last word: no grace is left to give
                return End(error_event(result, self.job_id, c.last))
            if c.not_found_since is None:
                c.not_found_since = now
                grace = self.rules.not_found_grace
                self.notes.append(
                    (logging.WARNING, f"{result}; waiting up to {grace:.0f} s for it to appear")
                )
            if now - c.not_found_since >= self.rules.not_found_grace:
                return End(error_event(result, self.job_id, c.last))
            pause = min(self.rules.interval, max(1.0, self.rules.not_found_grace / 4))
        else:
            if not result.transient:
                return End(error_event(result, self.job_id, c.last))
            c.failures += 1
            if c.faults_since is None:
                c.faults_since = now
                self.notes.append(
                    (logging.WARNING, f"{result}; treating as transient and retrying with backoff")
                )
            if now - c.faults_since >= self.rules.transient_fault_tolerance:
                return End(error_event(result, self.job_id, c.last, persisted_for=now - c.faults_since))
            hint = result.retry_after if isinstance(result, TransientVendorError) else None
            pause = Backoff(self.rules.backoff, self.rules.max_backoff).delay(c.failures, hint)
        # a fixed cadence: the pause counts from when the call was made, so slow answers under
        # load do not stretch the schedule; never sooner than the floor after that call
        made = c.last_call if c.last_call is not None else now
        c.due = made + max(pause, self.rules.min_interval)
        return self.next(now)

    # -- the pieces ------------------------------------------------------------------------------
    def _ask(self, ask: Ask, now: float) -> Ask:
        self._pending = ask
        self.clocks.last_call = now
        return ask

    def _probe_at(self) -> float:
        """When the vendor's probe is made: once the wait has lasted ``not_found_grace``, or
        sooner when the next call would come at or after the deadline; never sooner than the floor
        after the last call, and never after the deadline (then infinity: no probe)."""
        c = self.clocks
        at = c.started + self.rules.not_found_grace
        if c.due is not None and c.due >= self.deadline:
            at = -math.inf  # no regular call is left: probe as soon as the floor allows
        if c.last_call is not None:
            at = max(at, c.last_call + self.rules.min_interval)
        return at if at <= self.deadline else math.inf

    def _recovered(self) -> None:
        c = self.clocks
        if c.faults_since is not None:
            self.notes.append(
                (
                    logging.INFO,
                    f"{self.vendor} job {self.job_id!r}: answering again after {c.failures} faults",
                )
            )
        c.failures = 0
        c.faults_since = None
        c.not_found_since = None

    def _observe(self, status: JobStatus) -> None:
        """A note for a state change (not for every poll); the final state is the task's to log."""
        from airflow_provider_jobstatus.vendors import describe_status

        if status.state in TERMINAL_STATES:
            return
        if (
            self.clocks.last is None
            and status.raw_status is not None
            and status.raw_status == self.seen_status
        ):
            return
        if status.state is JobState.UNKNOWN:
            every = self.rules.interval
            self.notes.append(
                (
                    logging.WARNING,
                    f"{describe_status(status)}; not a status we know: still waiting until the deadline "
                    f"(poll every {every:.0f} s)",
                )
            )
        else:
            pause = self.rules.pace(status.retry_after)
            self.notes.append((logging.INFO, f"{describe_status(status)}; next check in {pause:.0f} s"))


def nearest_deadline(
    timeout_at: float | None, execution_deadline: float | None
) -> tuple[float, DeadlineReason]:
    """The nearer of a wait's two deadlines (epoch seconds) and which one it is."""
    candidates: list[tuple[float, DeadlineReason]] = [(math.inf, "none")]
    if timeout_at is not None:
        candidates.append((float(timeout_at), "timeout"))
    if execution_deadline is not None:
        candidates.append((float(execution_deadline), "execution_timeout"))
    return min(candidates)


def configured_min_interval() -> float:
    """``[jobstatus] min_poll_interval``: the floor under every pause (1 s unless set)."""
    from airflow.providers.common.compat.sdk import conf

    try:
        value = float(conf.getfloat("jobstatus", "min_poll_interval", fallback=DEFAULT_MIN_INTERVAL))
    except (TypeError, ValueError):
        return DEFAULT_MIN_INTERVAL
    return value if value > 0 and math.isfinite(value) else DEFAULT_MIN_INTERVAL


def positive_seconds(value: Any, what: str) -> float:
    """A duration argument (seconds or a ``timedelta``) as seconds; a ``ValueError`` that names
    ``what`` when it is not a positive, finite number, so a DAG with it fails when it is parsed."""
    seconds = value.total_seconds() if hasattr(value, "total_seconds") else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"{what} must be a number of seconds or a timedelta, not {value!r}")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"{what} must be more than 0 seconds, not {value!r}")
    return float(seconds)


def policy_for(
    vendor: Any,
    job_id: str,
    *,
    poll_interval: float,
    transient_fault_tolerance: float,
    not_found_grace: float,
    timeout_at: float | None,
    execution_deadline: float | None,
    vendor_options: Mapping[str, Any],
    now: float,
    backoff: float = 1.0,
    max_backoff: float = 300.0,
    clocks: Mapping[str, Any] | None = None,
    seen_status: str | None = None,
) -> WaitPolicy:
    """The policy of one wait on ``vendor``'s job (a :class:`~airflow_provider_jobstatus.vendors.VendorApi`):
    the task's settings, the configured floor and the vendor's probe."""
    rules = WaitRules(
        poll_interval=poll_interval,
        transient_fault_tolerance=transient_fault_tolerance,
        not_found_grace=not_found_grace,
        backoff=backoff,
        max_backoff=max_backoff,
        min_interval=configured_min_interval(),
        probe_options=vendor.final_check_options,
    )
    deadline, reason = nearest_deadline(timeout_at, execution_deadline)
    return WaitPolicy(
        rules,
        vendor=vendor.display_name,
        job_id=job_id,
        deadline=deadline,
        reason=reason,
        now=now,
        vendor_options=vendor_options,
        clocks=clocks,
        seen_status=seen_status,
    )
