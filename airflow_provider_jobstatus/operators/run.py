"""Start a vendor job and wait for it: one base class does the work, one thin class per vendor.

Airflow's retries of a run never start a second job: the job id (with when it was first started,
and the run of tries it belongs to) goes to Airflow's task state store (3.3+) the moment the vendor
returns it, and every later try of that run takes that job's outcome: it reattaches to a job still
running, and a job that has ended ends the task as it did (a try whose end Airflow never received,
its worker killed, is retried). A Clear starts a new run: it reattaches only to a job still running.
A start whose outcome is unknown (sent, no answer) is never sent again without the user's word: a
"starting" record goes to the store before the start is sent, and a later try first looks for the
job where the vendor can find it (Playment's ``reference_id`` in the batch listing, the Alteryx
workflow's jobs made since that start) and adopts it; where the vendor cannot (Nitro, PDF.co,
APIDataTools) it fails naming the possible orphan, unless ``on_unknown_start="start_again"``. The
wait is the sensor's
:class:`~airflow_provider_jobstatus.triggers.job_status.JobStatusTrigger`, so it ends exactly as
:class:`~airflow_provider_jobstatus.sensors.job_status.JobStatusSensor` does; a wait that is killed
or times out cancels the job where the vendor has a cancel call.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from typing import IO, Any, ClassVar, Literal, get_args

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowTaskTimeout,
    BaseOperator,
)

from airflow_provider_jobstatus import metrics
from airflow_provider_jobstatus.airflow_workarounds import resume_not_before
from airflow_provider_jobstatus.cancel import cancel_job
from airflow_provider_jobstatus.errors import (
    ConfigurationError,
    DuplicateJobError,
    JobNotFoundError,
    JobStatusError,
    TransientVendorError,
)
from airflow_provider_jobstatus.hooks import JobStatusHook
from airflow_provider_jobstatus.operators.links import JobAtVendorLink
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.task_arguments import default_deferrable
from airflow_provider_jobstatus.task_errors import airflow_error, hook_for
from airflow_provider_jobstatus.triggers.job_status import (
    DEFAULT_FAULT_TOLERANCE,
    DEFAULT_NOT_FOUND_GRACE,
    JobStatusTrigger,
)
from airflow_provider_jobstatus.triggers.outcome import (
    DEFER_TIMEOUT_MARGIN,
    Ending,
    event_outcome,
    status_outcome,
    timeout_cancels,
)
from airflow_provider_jobstatus.triggers.policy import End, policy_for, positive_seconds
from airflow_provider_jobstatus.vendors import (
    ApiRequest,
    alteryx,
    apidatatools,
    describe_status,
    jobapi,
    nitro,
    pdfco,
    playment,
)
from airflow_provider_jobstatus.worker_wait import drive

#: the task state store key holding ``{"job_id", "submitted_at", "conn_id", "max_tries"}`` across
#: tries, or ``{"sent_at", "conn_id", "max_tries"}`` while a start is on its way (its outcome
#: unknown until it answers); ``max_tries`` names the run of tries (a Clear raises it, Airflow's
#: retries keep it)
STATE_KEY = "jobstatus_run"
#: seconds by which the vendor's clock may run behind ours when a job it made is looked for by
#: when it was made (the Alteryx workflow's jobs made since a start whose answer was lost)
CLOCK_MARGIN = 60.0
UnknownStart = Literal["fail", "start_again"]
DEFAULT_TIMEOUT = 24 * 3600.0
#: how many times a start that provably made no job (not sent, or 429) is sent
START_ATTEMPTS = 5


class RunJobOperator(BaseOperator):
    """Start one vendor job, push its id to XCom (key ``job_id``) and wait for it to end.

    :param conn_id: a connection of the operator's vendor type.
    :param wait: wait for the job (default); False returns ``{"vendor", "job_id"}`` at once.
    :param deferrable: wait in the triggerer (default True, or ``[operators] default_deferrable``
        where its environment variable is set) rather than on the worker.
    :param poll_interval: seconds between status checks.
    :param timeout: seconds from the job's first start (kept across retries) before the wait
        fails and the job is cancelled; default 24 h.
    :param cancel_on_kill: cancel the job when the wait is killed or times out.
    :param fail_on_warning: Alteryx: a job that completed with disposition Warning fails.
    :param canceled_as_skipped: a canceled job skips the task instead of failing it.
    :param transient_fault_tolerance: seconds of uninterrupted faults before the wait fails.
    :param not_found_grace: seconds a 404 counts as "not visible yet".
    :param hook_params: keyword arguments for the hook (``timeout``, ``transport``, ...).
    :param end_from_trigger: the triggerer ends the task itself where it can end it exactly as a
        worker would (as the sensor's ``end_from_trigger``); a timeout then cancels the job there.
    :param on_unknown_start: what a retry does after a start that was sent but never answered,
        where the vendor cannot be asked whether it made a job (Nitro, PDF.co, APIDataTools):
        ``"fail"`` (default) names the possible orphan and starts nothing; ``"start_again"``
        starts a new job (the earlier one, if it exists, runs on and is billed).
    """

    #: the connection type this operator starts jobs for: its vendor module's ``API.name``
    vendor_name: ClassVar[str] = ""
    #: a second start with the same arguments cannot make a second job (Playment's reference_id)
    idempotent_start: ClassVar[bool] = False
    template_fields: Sequence[str] = ("conn_id",)
    ui_color = "#d7ecfb"
    operator_extra_links = (JobAtVendorLink(),)

    def __init__(
        self,
        *,
        conn_id: str,
        wait: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float | timedelta = 30.0,
        timeout: float | timedelta = DEFAULT_TIMEOUT,
        cancel_on_kill: bool = True,
        fail_on_warning: bool = False,
        canceled_as_skipped: bool = False,
        transient_fault_tolerance: float | timedelta = DEFAULT_FAULT_TOLERANCE,
        not_found_grace: float | timedelta = DEFAULT_NOT_FOUND_GRACE,
        hook_params: Mapping[str, Any] | None = None,
        end_from_trigger: bool = False,
        on_unknown_start: UnknownStart = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = f"{type(self).__name__} {self.task_id!r}"
        if on_unknown_start not in get_args(UnknownStart):
            raise AirflowException(
                f'{where}: on_unknown_start must be "fail" or "start_again", not {on_unknown_start!r}'
            )
        self.on_unknown_start = on_unknown_start
        try:
            self.poll_interval = positive_seconds(poll_interval, f"{where}: poll_interval")
            self.timeout = positive_seconds(timeout, f"{where}: timeout")
            self.transient_fault_tolerance = positive_seconds(
                transient_fault_tolerance, f"{where}: transient_fault_tolerance"
            )
            self.not_found_grace = positive_seconds(not_found_grace, f"{where}: not_found_grace")
        except ValueError as exc:
            raise AirflowException(str(exc)) from None
        if self.timeout < self.poll_interval:
            raise AirflowException(
                f"{where}: timeout ({self.timeout:.0f} s) is shorter than poll_interval "
                f"({self.poll_interval:.0f} s): the job would be started and time out before its "
                "first check; raise timeout or lower poll_interval"
            )
        self.conn_id = conn_id
        self.end_from_trigger = end_from_trigger
        self.hook_params = dict(hook_params or {})
        self.wait = wait
        self.deferrable = deferrable
        self.cancel_on_kill = cancel_on_kill
        self.fail_on_warning = fail_on_warning
        self.canceled_as_skipped = canceled_as_skipped
        self.start_backoff = Backoff()
        self._job_id: str | None = None

    # -- what a vendor class provides ----------------------------------------------------------
    @contextmanager
    def start_request(self, hook: JobStatusHook) -> Iterator[ApiRequest]:
        """The start request (files it uploads stay open while it is sent)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def adopt(self, hook: JobStatusHook, exc: DuplicateJobError) -> str:
        """The id of the job a duplicate start points to."""
        raise AirflowFailException(f"{exc} (connection {self.conn_id!r})")

    def find_start(self, hook: JobStatusHook, sent_at: float) -> str | None:
        """The job a start sent at ``sent_at`` (whose answer was lost) made, or None if it made
        none. Raises :class:`StartNotFindable` where the vendor cannot be asked."""
        raise StartNotFindable

    # -- execution ------------------------------------------------------------------------------
    def hook(self) -> JobStatusHook:
        hook = hook_for(self.conn_id, self.hook_params)
        if hook.vendor.name != self.vendor_name:
            raise AirflowFailException(
                f"{type(self).__name__} {self.task_id}: connection {self.conn_id!r} is of type "
                f"{hook.vendor.name!r}; it needs a {self.vendor_name!r} connection"
            )
        return hook

    def _options(self) -> dict[str, Any]:
        return {"fail_on_warning": True} if self.fail_on_warning else {}

    def execute(self, context: Any) -> Any:
        hook = self.hook()
        store = context.get("task_state_store")
        if store is None:
            self.log.warning(
                "No task state store (Airflow < 3.3): a retry of this task cannot know the job an "
                "earlier try started, so it starts a new one, and a start whose answer is lost may "
                "leave a job running at the vendor that no try adopts"
            )
        run = _run_of(context)
        job_id, started_at, status = self._resume(hook, store, run)
        if job_id is None:
            job_id, started_at = self._start(hook, store, run), time.time()
        self._job_id = job_id
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="job_id", value=job_id)
        if not self.wait:
            return {"vendor": hook.vendor.name, "job_id": job_id}
        deadline = started_at + self.timeout
        if status is not None and status.state.is_terminal:
            if status.state is not JobState.SUCCEEDED and time.time() >= deadline:
                raise self._timed_out(hook, job_id)  # an earlier try's wait timed out (and cancelled it)
            return self._finish(status, context)
        if not self.deferrable:
            return self._wait_here(hook, job_id, deadline, context)
        now = time.time()
        execution_deadline = now + self.execution_timeout.total_seconds() if self.execution_timeout else None
        end = min(deadline, execution_deadline or deadline)
        self.defer(
            trigger=JobStatusTrigger(
                conn_id=self.conn_id,
                job_id=job_id,
                poll_interval=self.poll_interval,
                timeout_at=deadline,
                execution_deadline=execution_deadline,
                vendor_options=self._options(),
                transient_fault_tolerance=self.transient_fault_tolerance,
                not_found_grace=self.not_found_grace,
                seen_status=status.raw_status if status is not None else None,
                cancel_on_kill=self.cancel_on_kill,
                # the job was just started or checked: as the sensor's, the first poll comes at a
                # random point of the first interval, so that waits re-created together (a triggerer
                # taking over another's, or restarted) do not all poll in one loop iteration
                spread_start=True,
                end_from_trigger=Ending.of(self, context).to_kwargs() if self.end_from_trigger else None,
                not_before=resume_not_before(now),
            ),
            method_name="execute_complete",
            # the trigger's deadline ends the wait (and cancels the job), not Airflow's check
            timeout=timedelta(seconds=max(0.0, end - now) + DEFER_TIMEOUT_MARGIN),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """The wait's end as the task's outcome (as the sensor's); a timeout cancels the job first."""
        if timeout_cancels(event) and isinstance(event, dict):
            self._cancel(self.hook(), str(event.get("job_id")), "the wait timed out")
        outcome = event_outcome(event, Ending.of(self, context), f"{type(self).__name__} {self.task_id}")
        if isinstance(event, dict) and event.get("status") == "done":
            self.log.info("%s; the wait is over", outcome.message)  # the trigger leaves this line to us
        return outcome.apply()

    def on_kill(self) -> None:
        """The task was killed on its worker (while starting or waiting there)."""
        if self._job_id is not None:
            self._cancel(self.hook(), self._job_id, "the task was killed")

    # -- steps ----------------------------------------------------------------------------------
    def _resume(
        self, hook: JobStatusHook, store: Any, run: int | None
    ) -> tuple[str | None, float, JobStatus | None]:
        """The job an earlier try started, if this try takes its outcome: any job of this run of
        tries (Airflow's retries), only a job still running after a Clear (a new run)."""
        saved = store.get(STATE_KEY) if store is not None else None
        if isinstance(saved, dict) and isinstance(saved.get("sent_at"), (int, float)):
            if self._unknown_start(hook, store, run, saved) is None:
                return None, 0.0, None
            return self._resume(hook, store, run)
        if not isinstance(saved, dict) or not isinstance(saved.get("job_id"), str):
            return None, 0.0, None
        job_id = saved["job_id"]
        started_at = float(saved.get("submitted_at") or time.time())
        name = hook.vendor.display_name
        if saved.get("conn_id") != self.conn_id:
            self.log.warning("Job %r was started through another connection: starting a new job", job_id)
            return None, 0.0, None
        same_run = run is not None and saved.get("max_tries") == run
        if same_run and not self.wait:
            self.log.info("%s job %r was started by an earlier try of this run", name, job_id)
            metrics.reattached(hook.vendor.name, self.conn_id)
            return job_id, started_at, None
        try:
            status = hook.get_job_status(job_id, **self._options())
        except JobNotFoundError as exc:
            self.log.warning("%s; starting a new job", exc)
            return None, 0.0, None
        except JobStatusError as exc:
            if not exc.transient:
                raise airflow_error(exc) from exc
            self.log.warning("%s; reattaching to it anyway (the wait tolerates faults)", exc)
            metrics.reattached(hook.vendor.name, self.conn_id)
            return job_id, started_at, None
        if status.state.is_terminal and not same_run:
            self.log.warning(
                "The %s, for an earlier run of this task (it was cleared); starting a new job",
                describe_status(status),
            )
            return None, 0.0, None
        metrics.reattached(hook.vendor.name, self.conn_id)
        self.log.info(
            "Reattaching to %s job %r started by an earlier try %.0f s ago (%s)",
            name,
            job_id,
            time.time() - started_at,
            status.raw_status,
        )
        return job_id, started_at, status

    def _unknown_start(
        self, hook: JobStatusHook, store: Any, run: int | None, saved: dict[str, Any]
    ) -> str | None:
        """An earlier try sent a start and never heard back: the job it may have made, adopted
        (recorded in the store), or None when a new start may be sent."""
        name = hook.vendor.display_name
        sent_at = float(saved["sent_at"])
        ago = f"{max(0.0, time.time() - sent_at):.0f} s ago"
        where = f"connection {self.conn_id!r}"
        if saved.get("conn_id") != self.conn_id:
            self.log.warning("A start was sent %s through another connection: starting a new job", ago)
            return None
        try:
            job_id = self.find_start(hook, sent_at)
        except StartNotFindable as exc:
            cannot = exc.why or f"{name} offers no way to look it up"
            orphan = (
                f"an earlier try sent {name} a start {ago} and got no answer, so a job may exist there "
                f"(a possible orphan, running and billed) and {cannot}"
            )
            if self.on_unknown_start == "start_again":
                self.log.warning(
                    "%s; starting a new job (on_unknown_start='start_again') (%s)", orphan, where
                )
                return None
            if run is not None and saved.get("max_tries") != run:
                self.log.warning("%s; the task was cleared, so starting a new job (%s)", orphan, where)
                return None
            raise AirflowFailException(
                f"{type(self).__name__} {self.task_id}: {orphan}. Not starting another: check {name} "
                f'for that job; to start a new one anyway, set on_unknown_start="start_again" ({where})'
            ) from None
        except JobStatusError as exc:
            raise airflow_error(exc, f"looking for the job of the start sent {ago}") from exc
        if job_id is None:
            self.log.info("The start an earlier try sent %s made no %s job: starting one", ago, name)
            return None
        store.set(
            STATE_KEY,
            {
                "job_id": job_id,
                "submitted_at": sent_at,
                "conn_id": self.conn_id,
                "max_tries": saved.get("max_tries"),
            },
        )
        self.log.info("Adopted %s job %r, made by the start an earlier try sent %s", name, job_id, ago)
        return job_id

    def _start(self, hook: JobStatusHook, store: Any, run: int | None) -> str:
        """Send the start; again only while the vendor provably made no job (or it is idempotent).
        The store says a start is on its way before it is sent, so a try that never hears back
        leaves the next one a trace to follow."""
        name = hook.vendor.display_name
        if store is not None:
            store.set(STATE_KEY, {"sent_at": time.time(), "conn_id": self.conn_id, "max_tries": run})
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                with self.start_request(hook) as req:
                    resp = hook.request(req)
                job_id = hook.vendor.parse_start(resp)
            except DuplicateJobError as exc:
                job_id = self.adopt(hook, exc)
                self.log.info("%s; adopted job %r", exc, job_id)
            except JobStatusError as exc:
                if attempt == START_ATTEMPTS or not self._may_resend(exc):
                    if store is not None and _made_no_job(exc):
                        store.delete(STATE_KEY)
                    raise self._start_failed(exc, attempt, store is not None) from exc
                delay = self.start_backoff.delay(attempt, getattr(exc, "retry_after", None))
                self.log.warning("%s; no job was made, starting again in %.1f s", exc, delay)
                time.sleep(delay)
                continue
            if store is not None:  # before anything else: a retry must find it
                record = {"job_id": job_id, "submitted_at": time.time(), "conn_id": self.conn_id}
                store.set(STATE_KEY, {**record, "max_tries": run})
            self.log.info("%s job %r started", name, job_id)
            metrics.started(hook.vendor.name, self.conn_id)
            return job_id
        raise AssertionError("unreachable")  # pragma: no cover

    def _may_resend(self, exc: JobStatusError) -> bool:
        return exc.transient and (self.idempotent_start or _made_no_job(exc))

    def _start_failed(self, exc: JobStatusError, attempts: int, recorded: bool) -> AirflowException:
        where = f"connection {self.conn_id!r}"
        if not exc.transient:
            return AirflowFailException(f"{exc}; no job was started ({where})")
        if _made_no_job(exc):
            return AirflowException(f"{exc}; no job was started after {attempts} attempts ({where})")
        retry = (
            "a retry of this task looks for that job where the vendor can be asked, and elsewhere "
            'fails naming it unless on_unknown_start="start_again"'
            if recorded
            else "without a task state store (Airflow < 3.3) a retry of this task cannot know of it "
            "and starts a new one"
        )
        return AirflowException(
            f"{exc}; the start may have reached the vendor, so a job may have been created "
            f"({where}). It is not sent again here; {retry}."
        )

    def _wait_here(self, hook: JobStatusHook, job_id: str, deadline: float, context: Any) -> Any:
        """The wait on the worker (``deferrable=False``): the trigger's policy, with the sync hook."""
        now = time.time()
        limit = self.execution_timeout
        policy = policy_for(
            hook.vendor,
            job_id,
            poll_interval=self.poll_interval,
            transient_fault_tolerance=self.transient_fault_tolerance,
            not_found_grace=self.not_found_grace,
            timeout_at=deadline,
            execution_deadline=now + limit.total_seconds() if limit else None,
            vendor_options=self._options(),
            now=now,
        )
        try:
            step = drive(policy, hook, self.log, sleep=True)
        except AirflowTaskTimeout:
            self._cancel(hook, job_id, "the task's execution_timeout was reached")
            raise
        assert isinstance(step, End)  # sleep=True runs to the end
        return self.execute_complete(context, step.event)

    def _finish(self, status: JobStatus, context: Any) -> dict[str, Any] | None:
        outcome = status_outcome(status, Ending.of(self, context))
        self.log.info("%s; the wait is over", outcome.message)
        return outcome.apply()

    def _timed_out(self, hook: JobStatusHook, job_id: str) -> AirflowSensorTimeout:
        return AirflowSensorTimeout(
            f"{hook.vendor.display_name} job {job_id!r}: the timeout of {self.timeout:.0f} s "
            "from its start was reached"
        )

    def _cancel(self, hook: JobStatusHook, job_id: str, why: str) -> None:
        if self.cancel_on_kill:
            cancel_job(hook, job_id, why, self.log)


class StartNotFindable(Exception):
    """The job a start made without its answer cannot be found: the vendor offers no way to look
    it up, or (``why``) what it lists cannot tell which job it is."""

    def __init__(self, why: str = "") -> None:
        self.why = why
        super().__init__(why)


def _made_no_job(exc: JobStatusError) -> bool:
    """Whether a failed start provably made no job: refused, never sent, or rate-limited."""
    if not exc.transient or not exc.sent:
        return True
    return isinstance(exc, TransientVendorError) and exc.status_code == 429


def _run_of(context: Any) -> int | None:
    """The run of tries this try belongs to: its ``max_tries``, which Airflow's retries keep and a
    Clear raises (``clear_task_instances``); None when unknown."""
    ti = context.get("ti") if context else None
    max_tries = getattr(ti, "max_tries", None)
    return max_tries if isinstance(max_tries, int) else None


class NitroRunJobOperator(RunJobOperator):
    """Run a Nitro PDF Services operation (``POST /{operation}``, asynchronously) and wait for it.

    :param operation: ``conversions``, ``transformations``, ``extractions`` or ``generations``.
    :param method: the tool, e.g. ``compress``; ``method_params`` goes as Nitro's ``params``.
    :param file: one input: an ``https://`` URL Nitro fetches, or a local or object-storage path
        (``s3://...``) uploaded from the worker, streamed.
    :param files: several inputs, for multi-input methods such as ``merge``.
    :param storage_conn_id: the connection object-storage paths are read with.
    """

    vendor_name = nitro.API.name
    template_fields: Sequence[str] = ("conn_id", "operation", "method", "method_params", "file", "files")

    def __init__(
        self,
        *,
        operation: str,
        method: str,
        method_params: Mapping[str, Any] | None = None,
        file: str | None = None,
        files: Sequence[str] | None = None,
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.operation = operation
        self.method = method
        self.method_params = dict(method_params or {})
        self.file = file
        self.files = list(files or [])
        self.storage_conn_id = storage_conn_id

    @contextmanager
    def start_request(self, hook: JobStatusHook) -> Iterator[ApiRequest]:
        if bool(self.file) == bool(self.files):
            raise AirflowFailException(f"NitroRunJobOperator {self.task_id}: give either file= or files=")
        sources = [self.file] if self.file else self.files
        with ExitStack() as stack:
            inputs = [_nitro_input(stack, str(s), self.storage_conn_id) for s in sources]
            yield nitro.start_request(self.operation, self.method, self.method_params, inputs)


def _nitro_input(stack: ExitStack, source: str, conn_id: str | None) -> nitro.NitroInput:
    """A URL stays a URL (Nitro fetches it); a path is opened for a streamed upload."""
    if source.startswith(("https://", "http://")):
        return source
    from airflow_provider_jobstatus.operators._storage import is_local

    handle: IO[bytes]
    try:
        if is_local(source):
            handle = stack.enter_context(open(source.removeprefix("file://"), "rb"))  # noqa: SIM115
        else:
            from airflow.sdk import ObjectStoragePath

            path: Any = ObjectStoragePath(source, conn_id=conn_id)
            handle = stack.enter_context(path.open("rb"))
    except OSError as exc:
        raise ConfigurationError(
            nitro.API.display_name, None, f"cannot read the input {source!r}: {exc.strerror or exc}"
        ) from exc
    name = source.rstrip("/").rsplit("/", 1)[-1] or "input"
    return (name, handle, mimetypes.guess_type(name)[0] or "application/octet-stream")


class PdfCoRunJobOperator(RunJobOperator):
    """Run a PDF.co endpoint as a background job (``"async": true`` added) and wait for it.

    :param endpoint: e.g. ``/v1/pdf/convert/to/text``.
    :param payload: the endpoint's JSON body (``url``, ``pages``, ...).
    """

    vendor_name = pdfco.API.name
    template_fields: Sequence[str] = ("conn_id", "endpoint", "payload")

    def __init__(self, *, endpoint: str, payload: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.payload = dict(payload)

    @contextmanager
    def start_request(self, hook: JobStatusHook) -> Iterator[ApiRequest]:
        yield pdfco.start_request(self.endpoint, self.payload)


class AlteryxRunWorkflowOperator(RunJobOperator):
    """Queue an Alteryx Server workflow (``POST /v3/workflows/{id}/jobs``) and wait for the job.

    :param workflow_id: the workflow (an app workflow).
    :param questions: analytic-app answers, ``{"name": "value"}``.
    :param priority: Default, Low, Medium, High or Critical.
    :param worker_tag: run on workers with this tag.
    :param credential_id: run with this stored credential.
    """

    vendor_name = alteryx.API.name
    template_fields: Sequence[str] = (
        "conn_id",
        "workflow_id",
        "questions",
        "priority",
        "worker_tag",
        "credential_id",
    )

    def __init__(
        self,
        *,
        workflow_id: str,
        questions: Mapping[str, Any] | None = None,
        priority: str = "Default",
        worker_tag: str | None = None,
        credential_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workflow_id = workflow_id
        self.questions = dict(questions or {})
        self.priority = priority
        self.worker_tag = worker_tag
        self.credential_id = credential_id

    @contextmanager
    def start_request(self, hook: JobStatusHook) -> Iterator[ApiRequest]:
        yield alteryx.start_request(
            self.workflow_id, self.questions, self.priority, self.worker_tag, self.credential_id
        )

    def find_start(self, hook: JobStatusHook, sent_at: float) -> str | None:
        """The one job of the workflow the server says it made since the start was sent (less
        :data:`CLOCK_MARGIN`); several are ambiguous (another user's or a schedule's)."""
        since = datetime.fromtimestamp(sent_at - CLOCK_MARGIN, tz=timezone.utc)
        listed = hook.list_by_offset(alteryx.API.workflow_jobs(self.workflow_id))
        made = [j.id for j in listed if j.created is None or j.created >= since]
        if len(made) > 1:
            shown = ", ".join(repr(job_id) for job_id in made[:5]) + (", ..." if len(made) > 5 else "")
            raise StartNotFindable(
                f"workflow {self.workflow_id!r} has {len(made)} jobs made since then ({shown}): "
                "which one that start made cannot be told"
            )
        return made[0] if made else None


class ApiDataToolsRunJobOperator(RunJobOperator):
    """Run an APIDataTools tool on a URL (``x-source-type: url``, asynchronous) and wait for it.

    :param tool: the tool's path, e.g. ``/json-to-csv-api``.
    :param source_url: the input the tool fetches.
    """

    vendor_name = apidatatools.API.name
    template_fields: Sequence[str] = ("conn_id", "tool", "source_url")

    def __init__(self, *, tool: str, source_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tool = tool
        self.source_url = source_url

    @contextmanager
    def start_request(self, hook: JobStatusHook) -> Iterator[ApiRequest]:
        yield apidatatools.start_request(self.tool, self.source_url)


class PlaymentCreateJobOperator(RunJobOperator):
    """Create a Playment job (``POST /v1/projects/{project_id}/jobs``) and wait for its result.

    ``reference_id`` makes the start idempotent: a start whose answer was lost is sent again, and
    Playment's ``FS_0001`` (duplicate) is answered by adopting the job found under that
    ``reference_id`` in ``batch_id``'s listing (Playment documents no lookup by reference id, so
    without ``batch_id`` the task fails naming it).

    :param reference_id: your unique id for this job.
    :param data: the task payload (``image_url``, ``video_data``, ...).
    :param work_flow_id: the workflow the job goes through.
    :param batch_id: the batch to add it to (Playment's default batch when None).
    """

    vendor_name = playment.API.name
    idempotent_start = True
    template_fields: Sequence[str] = ("conn_id", "reference_id", "data", "work_flow_id", "batch_id")

    def __init__(
        self,
        *,
        reference_id: str,
        data: Mapping[str, Any],
        work_flow_id: str,
        batch_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.reference_id = reference_id
        self.data = dict(data)
        self.work_flow_id = work_flow_id
        self.batch_id = batch_id

    @contextmanager
    def start_request(self, hook: JobStatusHook) -> Iterator[ApiRequest]:
        yield playment.API.start_request(
            hook.options(hook.settings(), {}), self.reference_id, self.data, self.work_flow_id, self.batch_id
        )

    def find_start(self, hook: JobStatusHook, sent_at: float) -> str | None:
        """The job under this ``reference_id`` in ``batch_id``'s listing. Without ``batch_id``
        none is looked for: starting again is safe, a duplicate is answered ``FS_0001``."""
        return self._by_reference(hook, self.batch_id) if self.batch_id else None

    def _by_reference(self, hook: JobStatusHook, batch_id: str) -> str | None:
        return next(
            (j.id for j in hook.iter_batch_jobs(batch_id) if j.reference_id == self.reference_id), None
        )

    def adopt(self, hook: JobStatusHook, exc: DuplicateJobError) -> str:
        where = f"connection {self.conn_id!r}"
        if not self.batch_id:
            raise AirflowFailException(
                f"{exc}: reference_id {self.reference_id!r} is taken and without batch_id its job cannot "
                f"be found (Playment has no lookup by reference id); give batch_id or a new reference_id "
                f"({where})"
            )
        try:
            match = self._by_reference(hook, self.batch_id)
            status = hook.get_job_status(match) if match else None
        except JobStatusError as exc2:
            raise airflow_error(exc2, f"looking for reference_id {self.reference_id!r}") from exc2
        if match is None or status is None:
            raise AirflowFailException(
                f"{exc}: no job with reference_id {self.reference_id!r} in batch {self.batch_id!r}; "
                f"it is in another batch: give that batch_id or a new reference_id ({where})"
            )
        data = status.raw.get("data") if isinstance(status.raw, dict) else None
        flow = data.get("work_flow_id") if isinstance(data, dict) else None
        if flow is not None and flow != self.work_flow_id:
            raise AirflowFailException(
                f"{exc}: reference_id {self.reference_id!r} belongs to job {match!r} of work flow {flow!r}, "
                f"not {self.work_flow_id!r}; use a new reference_id ({where})"
            )
        return match


class JobApiRunJobOperator(RunJobOperator):
    """Start a job at an API declared in a ``jobapi`` connection (its ``profile``) and wait for it.

    A declared start is never sent twice (it may not be idempotent): a retry reattaches to the job
    the first try started. A timeout or kill cancels the job where the profile declares ``cancel``,
    and warns that it is left running where not.

    :param payload: the start call's body: JSON (default), or a flat form where the profile's
        ``start.body`` is ``form``; None sends no body.
    """

    vendor_name = jobapi.API.name
    template_fields: Sequence[str] = ("conn_id", "payload")

    def __init__(self, *, payload: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.payload = payload

    @contextmanager
    def start_request(self, hook: JobStatusHook) -> Iterator[ApiRequest]:
        api = hook.vendor
        if not isinstance(api, jobapi.JobApi):  # the hook's check of the connection type ran first
            raise AirflowFailException(f"{type(self).__name__} {self.task_id}: no declared API")
        yield api.start_request(self.payload)


__all__ = [
    "AlteryxRunWorkflowOperator",
    "ApiDataToolsRunJobOperator",
    "JobApiRunJobOperator",
    "NitroRunJobOperator",
    "PdfCoRunJobOperator",
    "PlaymentCreateJobOperator",
    "RunJobOperator",
]
