"""The loop of an asset watcher: list, announce what newly finished, remember it, wait, repeat.

Guarantees (Airflow 3.3+, where the triggerer gives event triggers the asset state store):

- A job is announced once. The cursor (:class:`._announced.Announced`) lives in the watched
  asset's state store, so a restarted watcher (triggerer restart, trigger moved to another
  triggerer) goes on where it was: nothing announced again, nothing that finished meanwhile lost.
- The cursor is written :data:`COMMIT_DELAY` seconds after an event is handed to the triggerer,
  which persists events about once a second: a triggerer that stops (gracefully or ``kill -9``)
  within those seconds announces that round again when it comes back (at least once, never
  lost). Exactly once even then would need the persistence confirmations of Airflow 3.3's
  shared-stream ack mode (``BaseEventTrigger.create_shared_stream_producer``). Events carry job
  ids so consumers can deduplicate; a trigger briefly running in two triggerers at once can
  announce a round twice for the same reason.
- A new watcher (no cursor yet) announces only jobs that finish after it starts.
- Without the store (Airflow 3.1/3.2, or one trigger shared by several assets, which Airflow
  does when their watchers are identical) the cursor is kept in memory only: a restart starts a
  new baseline, so nothing is announced twice, but jobs that finished while the watcher was not
  running are never announced.

Faults never end a watcher (it has no task to fail): transient ones are retried with capped
backoff, anything else (401/403, a workflow or batch that does not exist, a bad connection) is
logged as an error and retried at the longest backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobStatusError,
    TransientVendorError,
)
from airflow_provider_jobstatus.hooks import JobStatusHook
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import BatchJob, JobState, cut_text
from airflow_provider_jobstatus.triggers._announced import Announced
from airflow_provider_jobstatus.triggers._sleep import sleep as pause
from airflow_provider_jobstatus.triggers.watchers import (
    MAX_JOBS_PER_EVENT,
    AlteryxWorkflowJobsTrigger,
    _JobsWatcher,
)
from airflow_provider_jobstatus.vendors import get_vendor
from airflow_provider_jobstatus.vendors.alteryx import API as ALTERYX
from airflow_provider_jobstatus.vendors.alteryx import listed_as_completed

#: seconds between handing an event to the triggerer and recording it as announced: the
#: triggerer's runner hands events to its supervisor about once a second, and on a graceful stop
#: it drops the events it has not handed over yet (Airflow 3.3.2), so a round recorded sooner could
#: be lost; one recorded later is announced again by a stop in between
COMMIT_DELAY = 2.0
#: status requests in flight at once for the Completed jobs of one listing
DETAIL_CONCURRENCY = 8
_BACKOFF = Backoff(base=1.0, cap=300.0)


async def watch(trigger: _JobsWatcher) -> AsyncIterator[dict[str, Any]]:
    """Yield event payloads forever."""
    w = _Watch(trigger)
    async for payload in w.run():
        yield payload


class _Watch:
    def __init__(self, trigger: _JobsWatcher) -> None:
        self.t = trigger
        self.alteryx = isinstance(trigger, AlteryxWorkflowJobsTrigger)
        self.what = (
            f"Alteryx Server workflow {trigger.watched_id!r}"
            if self.alteryx
            else f"Playment batch {trigger.watched_id!r}"
        )
        self.store = _CursorStore(
            trigger, f"airflow_provider_jobstatus:{trigger.vendor_name}:{trigger.watched_id}"
        )
        self.cursor: Announced | None = None
        self.unsaved = False
        self.failures = 0
        self.backlog = False
        self.hook: JobStatusHook | None = None

    @property
    def log(self) -> Any:
        return self.t.log

    def finished(self, job: BatchJob) -> bool:
        if self.alteryx:
            return listed_as_completed(job) or job.state is JobState.CANCELED
        return job.state is JobState.SUCCEEDED

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                started = time.monotonic()
                try:
                    more = False
                    async for payload in self.round():
                        yield payload
                        more = True
                    self.recovered()
                except Exception as exc:  # a watcher never ends: every fault is retried
                    await pause(self.fault(exc))
                    continue
                if not more or not self.backlog:
                    await pause(self.t.poll_interval - (time.monotonic() - started))
        finally:
            if self.hook is not None:
                await self.hook.aclose()

    async def round(self) -> AsyncIterator[dict[str, Any]]:
        """One listing; at most one event. Sets :attr:`backlog` when more is waiting."""
        self.backlog = False
        if self.hook is None:
            self.hook = await JobStatusHook.afor_connection(self.t.conn_id, retries=1)
            if self.hook.vendor.name != self.t.vendor_name:
                hook, self.hook = self.hook, None
                await hook.aclose()
                raise ConfigurationError(
                    get_vendor(self.t.vendor_name).display_name,
                    None,
                    f"connection {self.t.conn_id!r} is a {hook.vendor.display_name} connection; "
                    f"{type(self.t).__name__} needs a {self.t.vendor_name} connection",
                )
        if self.cursor is None:
            self.cursor = await self.store.load()
            where = "the asset's state store" if self.store.durable else "memory only"
            self.log.info(
                "Watching %s through connection %r every %.0f s (announced jobs kept in %s)",
                self.what,
                self.t.conn_id,
                self.t.poll_interval,
                where,
            )
        listing = await self.listing(self.hook)
        if self.cursor is None:
            self.cursor = Announced.baseline(listing, self.finished)
            self.unsaved = True
            self.log.info(
                "%s: %d jobs had finished before this watcher started; they are not announced",
                self.what,
                len(self.cursor.settled),
            )
        else:
            news = self.cursor.news(listing, self.finished)
            if news:
                batch = news[:MAX_JOBS_PER_EVENT]
                jobs = await self.describe(self.hook, batch)
                if jobs:
                    self.log.info("%s: %d newly finished jobs", self.what, len(jobs))
                    yield self.payload(jobs, more=len(news) - len(jobs))
                    await asyncio.sleep(COMMIT_DELAY)  # the triggerer persists the event meanwhile
                self.cursor = self.cursor.after(listing, self.finished, [j["id"] for j in jobs])
                self.unsaved = True
                self.backlog = len(news) > len(batch)
        if self.unsaved:
            await self.store.save(self.cursor)
            self.unsaved = False

    async def listing(self, hook: JobStatusHook) -> list[BatchJob]:
        """Every job of the workflow or batch, from one listing per interval shared by every
        watcher (and every wait) on it in this triggerer."""
        max_age = self.t.poll_interval
        if not self.alteryx:
            return list((await hook.abatch_snapshot(self.t.watched_id, max_age=max_age)).values())
        workflow_id = self.t.watched_id

        async def fetch() -> list[BatchJob]:
            return await hook.alist_by_offset(ALTERYX.workflow_jobs(workflow_id))

        return await hook.ashared(("alteryx-workflow-jobs", workflow_id), fetch, max_age=max_age)

    async def describe(self, hook: JobStatusHook, jobs: list[BatchJob]) -> list[dict[str, Any]]:
        """The event entries of newly finished jobs. An Alteryx job listed as Completed is asked
        about once (its disposition tells success from error); one whose answer does not come
        now is left for the next round, not announced without it."""
        if not self.alteryx:
            return [{"id": j.id, "state": j.state.value, "status": j.status} for j in jobs]
        gate = asyncio.Semaphore(DETAIL_CONCURRENCY)
        problems: list[JobStatusError] = []

        async def one(job: BatchJob) -> dict[str, Any] | None:
            if not listed_as_completed(job):
                return {"id": job.id, "state": job.state.value, "status": job.status}
            async with gate:
                try:
                    status = await hook.aget_job_status(job.id, retries=1, max_age=self.t.poll_interval)
                except AuthenticationError:
                    raise
                except JobStatusError as exc:
                    problems.append(exc)
                    return None
            if not status.state.is_terminal:
                return None
            disposition = status.details.get("disposition")
            return {
                "id": job.id,
                "state": status.state.value,
                "status": status.raw_status,
                "disposition": disposition,
            }

        entries = await asyncio.gather(*(one(job) for job in jobs))
        if problems:
            self.log.warning(
                "%s: %d finished jobs could not be read yet (first: %s); they are announced when they can be",
                self.what,
                len(problems),
                problems[0],
            )
        return [e for e in entries if e is not None]

    def payload(self, jobs: list[dict[str, Any]], more: int) -> dict[str, Any]:
        """The event: vendor text in each entry cut to a few KiB (the full text goes to the log)."""
        entries = [cut_text(j, f"{self.what}, job {j['id']!r}", keep=("id", "state")) for j in jobs]
        return {
            "vendor": self.t.vendor_name,
            "conn_id": self.t.conn_id,
            self.t.id_field: self.t.watched_id,
            "jobs": entries,
            "more": more,
        }

    def fault(self, exc: Exception) -> float:
        """Log the fault (once per streak for transient ones) and return the seconds to wait."""
        self.failures += 1
        transient = isinstance(exc, JobStatusError) and exc.transient
        said = str(exc) if str(exc).startswith(self.what) else f"{self.what}: {exc}"
        if transient:
            if self.failures == 1:
                self.log.warning("%s; retrying with backoff", said)
            hint = exc.retry_after if isinstance(exc, TransientVendorError) else None
            return _BACKOFF.delay(self.failures, hint)
        if isinstance(exc, JobStatusError):
            self.log.error("%s; the watcher keeps trying", said)
        else:
            self.log.exception("%s: unexpected error; the watcher keeps trying", self.what)
        return _BACKOFF.cap

    def recovered(self) -> None:
        if self.failures:
            self.log.info("%s: answering again after %d faults", self.what, self.failures)
        self.failures = 0


class _CursorStore:
    """The cursor in the watched asset's state store, or in memory where there is none."""

    def __init__(self, trigger: _JobsWatcher, key: str) -> None:
        self.key = key
        self.accessors = getattr(trigger, "asset_state_store", None)
        self.durable = self.accessors is not None
        self.log = trigger.log

    async def load(self) -> Announced | None:
        if self.accessors is None:
            return None
        try:
            value = await self.accessors.aget(self.key)
        except ValueError:  # several assets: Airflow merged identical watcher triggers
            self.log.warning(
                "This watcher trigger watches several assets (Airflow shares one trigger among "
                "identical watchers): announced jobs are kept in memory only. Give each asset its own "
                "watcher (see docs/asset-watchers.md)."
            )
            self.accessors, self.durable = None, False
            return None
        return Announced.from_state(value)

    async def save(self, cursor: Announced) -> None:
        if self.accessors is not None:
            await self.accessors.aset(self.key, cursor.to_state())
