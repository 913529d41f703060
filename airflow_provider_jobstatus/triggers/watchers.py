"""Asset watchers: schedule a DAG when work that Airflow did not start finishes at the vendor.

Put one in an ``Asset``'s ``watchers`` and schedule a DAG on that asset::

    workflow = Asset(
        "alteryx-nightly-load",
        watchers=[AssetWatcher(name="nightly", trigger=AlteryxWorkflowJobsTrigger("alteryx", "64a1..."))],
    )

Each event lists the jobs that finished since the last one (at most :data:`MAX_JOBS_PER_EVENT`;
the rest follow at once in further events). The kwargs are plain data (no credential: the
connection is looked up in the triggerer). What was announced is kept in the asset's state store
(Airflow 3.3+), so a triggerer restart neither repeats nor skips announcements; see
:mod:`._watch` for the exact guarantees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_jobstatus.triggers.job_status import import_off_loop

#: the most jobs one event lists; more finished jobs follow in the next events, without waiting
MAX_JOBS_PER_EVENT = 1000


class _JobsWatcher(BaseEventTrigger):
    """What the two watchers share: a connection, the id of what is watched, an interval."""

    vendor_name: ClassVar[str]
    #: the event field naming what is watched: ``workflow_id`` or ``batch_id``
    id_field: ClassVar[str]

    def __init__(self, conn_id: str, watched_id: str, poll_interval: float) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if not isinstance(conn_id, str) or not conn_id:
            raise ValueError(f"{type(self).__name__}: conn_id must be a connection id, got {conn_id!r}")
        if not isinstance(watched_id, str) or not watched_id.strip():
            raise ValueError(
                f"{type(self).__name__}: {self.id_field} must be a non-empty id, got {watched_id!r}"
            )
        if not isinstance(poll_interval, (int, float)) or not poll_interval >= 1:
            raise ValueError(
                f"{type(self).__name__}: poll_interval must be at least 1 second, got {poll_interval!r}"
            )
        self.conn_id = conn_id
        self.watched_id = watched_id.strip()
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"conn_id": self.conn_id, self.id_field: self.watched_id, "poll_interval": self.poll_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch: Any = await import_off_loop(_WATCH_MODULE)
        async for payload in watch.watch(self):
            yield TriggerEvent(payload)  # type: ignore[no-untyped-call]


class AlteryxWorkflowJobsTrigger(_JobsWatcher):
    """Fires when jobs of an Alteryx Server workflow finish (Completed, with its disposition
    read from each job's status, or Cancelled), however they were started.

    :param conn_id: an Alteryx connection.
    :param workflow_id: the workflow whose jobs are watched (``GET /v3/workflows/{id}/jobs``).
    :param poll_interval: seconds between listings (one listing per interval per workflow and
        connection in a triggerer, however many assets watch it).
    """

    vendor_name = "alteryx"
    id_field = "workflow_id"

    def __init__(self, conn_id: str, workflow_id: str, poll_interval: float = 60) -> None:
        super().__init__(conn_id, workflow_id, poll_interval)

    @property
    def workflow_id(self) -> str:
        return self.watched_id


class PlaymentBatchJobsTrigger(_JobsWatcher):
    """Fires when jobs of a Playment batch are newly ``completed`` (the batch listing).

    :param conn_id: a Playment connection (its ``project_id`` extra names the project).
    :param batch_id: the batch whose jobs are watched.
    :param poll_interval: seconds between listings (one listing per interval per batch and
        connection in a triggerer, shared with the sensors waiting on jobs of that batch).
    """

    vendor_name = "playment"
    id_field = "batch_id"

    def __init__(self, conn_id: str, batch_id: str, poll_interval: float = 300) -> None:
        super().__init__(conn_id, batch_id, poll_interval)

    @property
    def batch_id(self) -> str:
        return self.watched_id


_WATCH_MODULE = "airflow_provider_jobstatus.triggers._watch"
