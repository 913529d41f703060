"""The wait policy on a fake clock: one test per row of the behaviour contract, and properties over
random sequences of answers and faults."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.triggers.policy import (
    MAX_VENDOR_PACING,
    Ask,
    End,
    Sleep,
    WaitPolicy,
    WaitRules,
    positive_seconds,
)

T0 = 1_000_000.0
Answer = JobStatus | JobStatusError


def status(state: str, raw: str | None = None, retry_after: float | None = None) -> JobStatus:
    return JobStatus(
        vendor="pdfco", job_id="j1", state=JobState(state), raw_status=raw or state, retry_after=retry_after
    )


def fault(retry_after: float | None = None) -> TransientVendorError:
    return TransientVendorError("PDF.co", "j1", "HTTP 503", status_code=503, retry_after=retry_after)


def missing() -> JobNotFoundError:
    return JobNotFoundError("PDF.co", "j1", "job not found (HTTP 404)")


@dataclass
class Run:
    """What a wait did on the fake clock: when it asked (and with which options), how it ended."""

    asks: list[tuple[float, Ask]] = field(default_factory=list)
    answers: list[tuple[float, Answer]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    ended_at: float = 0.0
    notes: list[tuple[int, str]] = field(default_factory=list)


def drive(
    policy: WaitPolicy,
    answers: Iterable[Answer],
    *,
    call: float = 0.2,
    then: Answer | None = None,
    now: float = T0,
    max_calls: int = 5000,
) -> Run:
    """Drive ``policy`` as the trigger does, each call taking ``call`` seconds; ``then`` answers
    once ``answers`` run out (a running job by default)."""
    run = Run()
    source: Iterator[Answer] = iter(answers)
    step = policy.next(now)
    while not isinstance(step, End):
        assert len(run.asks) < max_calls, "the wait never ended"
        if isinstance(step, Sleep):
            assert step.until > now, "a sleep must move the clock"
            now = step.until
            step = policy.next(now)
            continue
        run.asks.append((now, step))
        now += call
        answer = next(source, then or status("running"))
        run.answers.append((now, answer))
        step = policy.answer(answer, now)
        run.notes += policy.take_notes()
    run.end, run.ended_at = step.event, now
    return run


def policy(
    *,
    interval: float = 30.0,
    tolerance: float = 600.0,
    grace: float = 60.0,
    timeout: float = 3600.0,
    floor: float = 1.0,
    probe: dict[str, Any] | None = None,
    execution_timeout: float | None = None,
    now: float = T0,
) -> WaitPolicy:
    rules = WaitRules(
        poll_interval=interval,
        transient_fault_tolerance=tolerance,
        not_found_grace=grace,
        min_interval=floor,
        probe_options=probe or {},
    )
    deadline, reason = now + timeout, "timeout"
    if execution_timeout is not None and now + execution_timeout < deadline:
        deadline, reason = now + execution_timeout, "execution_timeout"
    return WaitPolicy(rules, vendor="PDF.co", job_id="j1", deadline=deadline, reason=reason, now=now)  # type: ignore[arg-type]


# -- one row of the contract each -----------------------------------------------------------------


def test_a_terminal_state_ends_the_wait_with_that_outcome() -> None:
    for state in ("succeeded", "failed", "canceled"):
        run = drive(policy(), [status("running"), status(state)])
        assert run.end is not None and run.end["status"] == "done"
        assert run.end["job"]["state"] == state
        assert len(run.asks) == 2


def test_queued_and_running_poll_at_the_interval_counted_from_each_call() -> None:
    run = drive(
        policy(interval=30), [status("queued"), status("running"), status("running"), status("succeeded")]
    )
    times = [t for t, _ in run.asks]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [30.0, 30.0, 30.0]


def test_retry_after_paces_the_wait_within_the_floor_and_the_cap() -> None:
    for hint, expected in ((5.0, 5.0), (0.001, 1.0), (0.0, 30.0), (10**7, MAX_VENDOR_PACING)):
        run = drive(
            policy(interval=30, timeout=10**8), [status("running", retry_after=hint), status("succeeded")]
        )
        (first, _), (second, _) = run.asks
        assert round(second - first, 6) == expected, hint
    # a poll interval longer than the cap is the cap
    run = drive(
        policy(interval=900, timeout=10**8), [status("running", retry_after=10**7), status("succeeded")]
    )
    assert round(run.asks[1][0] - run.asks[0][0], 6) == 900


def test_an_unknown_status_is_warned_once_and_the_deadline_reports_it() -> None:
    run = drive(policy(interval=30, timeout=300), [], then=status("unknown", raw="weird"))
    assert run.end is not None and run.end["status"] == "timeout" and run.end["reason"] == "timeout"
    assert "last seen" in run.end["message"] and "'weird'" in run.end["message"]
    assert run.ended_at == T0 + 300
    warnings = [text for level, text in run.notes if level == logging.WARNING]
    assert len(warnings) == 1 and "not a status we know" in warnings[0]


def test_the_nearer_deadline_names_itself() -> None:
    run = drive(policy(timeout=300, execution_timeout=100), [])
    assert run.end is not None and run.end["reason"] == "execution_timeout"
    assert run.ended_at == T0 + 100


def test_faults_shorter_than_the_tolerance_do_not_end_the_wait() -> None:
    answers: list[Answer] = [fault()] * 20 + [status("running"), status("succeeded")]
    run = drive(policy(tolerance=10**6), answers)
    assert run.end is not None and run.end["status"] == "done"
    assert any("answering again after 20 faults" in text for _, text in run.notes)


def test_faults_past_the_tolerance_fail_with_the_last_error() -> None:
    run = drive(policy(tolerance=120), [], then=fault())
    assert run.end is not None and run.end["status"] == "error" and run.end["retryable"] is True
    assert "HTTP 503" in run.end["message"] and "faults persisted for" in run.end["message"]
    first_fault = run.answers[0][0]
    assert run.ended_at - first_fault >= 120
    malformed = MalformedResponseError("PDF.co", "j1", "not JSON")
    run = drive(policy(tolerance=120), [], then=malformed)
    assert run.end is not None and "not JSON" in run.end["message"]


def test_a_faults_retry_after_is_honoured() -> None:
    run = drive(policy(tolerance=10**6), [fault(retry_after=45), status("succeeded")])
    assert run.asks[1][0] - run.asks[0][0] >= 45


def test_refusals_fail_at_once_without_retry() -> None:
    for error in (
        AuthenticationError("PDF.co", "j1", "credentials refused (HTTP 401)"),
        VendorRequestError("PDF.co", "j1", "bad request (HTTP 400)", status_code=400),
        ConfigurationError("PDF.co", None, "TLS to a plain port"),
    ):
        run = drive(policy(), [error])
        assert run.end is not None and run.end["status"] == "error" and run.end["retryable"] is False
        assert len(run.asks) == 1 and str(error) in run.end["message"]


def test_a_404_is_given_the_grace_then_fails() -> None:
    run = drive(policy(grace=60), [], then=missing())
    assert run.end is not None and run.end["error"] == "JobNotFoundError"
    first = run.answers[0][0]
    assert 60 <= run.ended_at - first < 60 + 30
    ok = drive(policy(grace=60), [missing(), missing(), status("running"), status("succeeded")])
    assert ok.end is not None and ok.end["status"] == "done"


def test_a_404_after_a_fault_streak_longer_than_the_grace_gets_the_whole_grace() -> None:
    answers: list[Answer] = [fault()] * 12  # several minutes of faults: longer than the grace
    run = drive(policy(grace=60, tolerance=10**6), answers, then=missing())
    first_404 = next(t for t, a in run.answers if isinstance(a, JobNotFoundError))
    assert run.answers[0][0] + 60 < first_404
    assert run.end is not None and run.end["error"] == "JobNotFoundError"
    assert run.ended_at - first_404 >= 60


def test_the_vendors_probe_finds_an_id_it_does_not_know_after_the_grace() -> None:
    """PDF.co answers ``working`` for an id it has never seen; only ``force`` says so."""
    answers: list[Answer] = []

    def answer_for(ask: Ask) -> Answer:
        return missing() if ask.options.get("force") else status("running", raw="working")

    p = policy(interval=30, grace=120, timeout=86400, probe={"force": True})
    now, step = T0, p.next(T0)
    while not isinstance(step, End):
        if isinstance(step, Sleep):
            now = step.until
            step = p.next(now)
            continue
        answers.append(answer_for(step))
        step = p.answer(answers[-1], now)
    assert step.event["error"] == "JobNotFoundError"
    assert now == T0 + 120  # within minutes, not at the day-long deadline
    assert sum(isinstance(a, JobNotFoundError) for a in answers) == 1


def test_a_short_wait_probes_once_before_its_deadline() -> None:
    p = policy(interval=30, grace=600, timeout=100, probe={"force": True})
    run = drive(p, [], then=status("running", raw="working"))
    probes = [t for t, ask in run.asks if ask.probe]
    assert len(probes) == 1 and probes[0] <= T0 + 100
    assert (
        run.asks[-1][1].probe or run.asks[-1][0] < probes[0]
    )  # nothing regular after it is due past the end
    assert run.end is not None and run.end["status"] == "timeout"


def test_clocks_survive_a_reschedule() -> None:
    first = policy(tolerance=120)
    assert isinstance(first.next(T0), Ask)
    first.answer(fault(), T0)
    saved = first.clocks.to_dict()
    later = WaitPolicy(
        first.rules,
        vendor="PDF.co",
        job_id="j1",
        deadline=first.deadline,
        reason="timeout",
        now=T0 + 500,
        clocks=saved,
    )
    assert later.clocks.faults_since == T0
    step = later.next(T0 + 500)
    assert isinstance(step, Ask)
    end = later.answer(fault(), T0 + 500)
    assert isinstance(end, End) and "faults persisted for 500 s" in end.event["message"]


def test_durations_must_be_positive() -> None:
    from datetime import timedelta

    assert positive_seconds(timedelta(minutes=2), "x") == 120
    for bad in (0, -5, float("nan"), "30", None, True):
        try:
            positive_seconds(bad, "JobStatusSensor 'w': poke_interval")
        except ValueError as exc:
            assert "JobStatusSensor 'w': poke_interval" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


# -- properties -----------------------------------------------------------------------------------

states = st.sampled_from(["queued", "running", "unknown", "succeeded", "failed", "canceled"])
hints = st.one_of(st.none(), st.sampled_from([0.0, 0.001, 0.5, 3.0, 40.0, 1e9]))
answers = st.one_of(
    st.builds(lambda s, h: status(s, retry_after=h), states, hints),
    st.builds(fault, hints),
    st.just(missing()),
)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.lists(answers, max_size=60),
    interval=st.sampled_from([0.01, 0.5, 5.0, 30.0]),
    floor=st.sampled_from([0.5, 1.0, 2.0]),
    tolerance=st.sampled_from([1.0, 30.0, 300.0]),
    grace=st.sampled_from([1.0, 60.0]),
    timeout=st.sampled_from([1.0, 45.0, 400.0]),
    call=st.sampled_from([0.0, 0.3, 2.5]),
    probe=st.booleans(),
)
def test_properties_of_any_wait(
    seq: list[Answer],
    interval: float,
    floor: float,
    tolerance: float,
    grace: float,
    timeout: float,
    call: float,
    probe: bool,
) -> None:
    p = policy(
        interval=interval,
        floor=floor,
        tolerance=tolerance,
        grace=grace,
        timeout=timeout,
        probe={"force": True} if probe else None,
    )
    run = drive(p, seq, call=call)
    assert run.end is not None
    # never asks sooner than its floor after the last call was made
    times = [t for t, _ in run.asks]
    assert all(b - a >= floor - 1e-9 for a, b in itertools.pairwise(times))
    # always ends by its deadline, plus at most one call
    assert all(t <= T0 + timeout for t in times)
    assert run.ended_at <= T0 + timeout + call + 1e-9
    # never ends succeeded without a succeeded status
    if run.end["status"] == "done" and run.end["job"]["state"] == "succeeded":
        assert isinstance(run.answers[-1][1], JobStatus) and run.answers[-1][1].state is JobState.SUCCEEDED
    # never fails on faults shorter than the tolerance, nor on 404s inside the grace
    if run.end["status"] == "error":
        last = run.answers[-1][1]
        if isinstance(last, TransientVendorError):
            since = _streak_start(run.answers, lambda a: isinstance(a, JobStatus))
            assert run.ended_at - since >= tolerance
        elif isinstance(last, JobNotFoundError) and not run.asks[-1][1].probe:
            since = _first_of_streak(run.answers, JobNotFoundError)
            assert run.ended_at - since >= grace


def _streak_start(answers: list[tuple[float, Answer]], ends_streak: Any) -> float:
    """When the current run of faults began: the first fault after the last status answer."""
    start = None
    for t, a in answers:
        if ends_streak(a):
            start = None
        elif isinstance(a, TransientVendorError) and start is None:
            start = t
    assert start is not None
    return start


def _first_of_streak(answers: list[tuple[float, Answer]], kind: type[JobStatusError]) -> float:
    start = None
    for t, a in answers:
        if isinstance(a, JobStatus):
            start = None
        elif isinstance(a, kind) and start is None:
            start = t
    assert start is not None
    return start
