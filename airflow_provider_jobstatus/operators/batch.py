"""Page through a batch of jobs into XCom (or, past XCom's size, into object storage)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from airflow_provider_jobstatus.errors import JobStatusError, ListingTooLongError
from airflow_provider_jobstatus.hooks import JobStatusHook
from airflow_provider_jobstatus.operators._lineage import ReportsLineage, stored, vendor_batch
from airflow_provider_jobstatus.operators._storage import targets_for, unwritable
from airflow_provider_jobstatus.status import BatchJob, cut_text, strip_query
from airflow_provider_jobstatus.task_arguments import require_id
from airflow_provider_jobstatus.task_errors import airflow_error, hook_for

#: XCom is not a data store: Airflow's own guidance caps what we push.
DEFAULT_MAX_XCOM_BYTES = 256 * 1024


def job_row(job: BatchJob) -> dict[str, Any]:
    """One row; vendor text cut to a few KiB a field (the full text goes to the task log)."""
    row = {
        "id": job.id,
        "reference_id": job.reference_id,
        "status": job.status,
        "state": job.state.value,
        "result_url": strip_query(job.result_url),
    }
    return cut_text(row, f"job {job.id!r}", keep=("id", "state"))  # type: ignore[no-any-return]


class BatchJobsToXComOperator(ReportsLineage, BaseOperator):
    """List a batch's jobs (Playment) page by page, for a downstream ``.expand()``.

    :param conn_id: a connection whose vendor has batch listings (Playment).
    :param batch_id: the batch (templated).
    :param status: keep only jobs with this raw status, or any of a list of them.
    :param max_pages: read only the first this many pages (a partial listing, without error).
        Without it, a listing longer than the connection's page cap (extra ``max_pages``,
        1,000 pages by default) fails: a vendor that pages forever cannot hold the task.
    :param output_path: write every row (JSON lines) here and return ``{"path", "count", "pages"}``.
    :param output_conn_id: Airflow connection for the object store of ``output_path``.
    :param chunk_size: return a list of lists of at most this many rows, to stay under
        ``[core] max_map_length`` (1,024 by default) when mapping over chunks.
    :param max_xcom_bytes: a list larger than this fails with a message naming ``output_path``.
    :param hook_params: keyword arguments for the hook (``retries``, ``backoff``, ``timeout``, ...).

    Returns: the rows (``id, reference_id, status, state, result_url``), the chunks when
    ``chunk_size`` is set, or the summary when ``output_path`` is set: one shape per configuration.

    ``result_url`` is filled only when Playment's listing itself carries a job's ``result`` (query
    string removed). Its documented listing does not, so completed rows usually have ``None``: pass
    the row's ``id`` to :class:`DownloadJobResultOperator`, which asks the job endpoint (where the
    result is) and fetches it through the attachment API. ``state`` is ``succeeded`` for a row the
    listing calls ``completed``, though the job endpoint may say running until its result is set.

    OpenLineage: the batch is the input dataset (the API's origin, ``batches/<batch id>``: one
    dataset, not one per job), the ``output_path`` file or object the output (none for XCom).
    """

    template_fields: Sequence[str] = ("conn_id", "batch_id", "status", "output_path")
    ui_color = "#fdf6e8"

    def __init__(
        self,
        *,
        conn_id: str,
        batch_id: str,
        status: str | list[str] | None = None,
        max_pages: int | None = None,
        output_path: str | None = None,
        output_conn_id: str | None = None,
        chunk_size: int | None = None,
        max_xcom_bytes: int = DEFAULT_MAX_XCOM_BYTES,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size!r}")
        self.conn_id = conn_id
        self.batch_id = batch_id
        self.status = status
        self.max_pages = max_pages
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.chunk_size = chunk_size
        self.max_xcom_bytes = max_xcom_bytes
        self.hook_params = dict(hook_params or {})

    def execute(self, context: Any) -> Any:
        require_id(self, "batch_id", self.batch_id)
        hook = hook_for(self.conn_id, self.hook_params)
        if not hook.vendor.has_batches:
            raise AirflowFailException(f"{hook.vendor.display_name} has no batch listing")
        if self.output_path:
            return self._write(hook, self.output_path)
        self.record_lineage([vendor_batch(hook, self.batch_id)])
        rows: list[dict[str, Any]] = []
        size = pages = 0
        for pages, page_rows in self._pages(hook):
            rows.extend(page_rows)
            size += sum(len(json.dumps(row)) + 2 for row in page_rows)
            if size > self.max_xcom_bytes:  # no use reading the remaining pages
                self._too_large(hook, f"more than {size} bytes of JSON after {pages} pages")
        self.log.info("%s: %d jobs over %d pages", self._batch(hook), len(rows), pages)
        result: Any = rows
        if self.chunk_size:
            result = [rows[i : i + self.chunk_size] for i in range(0, len(rows), self.chunk_size)]
        size = len(json.dumps(result))
        if size > self.max_xcom_bytes:
            self._too_large(hook, f"{len(rows)} jobs are {size} bytes of JSON")
        return result

    def _pages(self, hook: JobStatusHook) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(pages read so far, the wanted rows of the last page). ``iter_batch_pages`` retries a failing
        page in place and stops on a repeated token, so page one is never fetched twice."""
        wanted = {self.status} if isinstance(self.status, str) else set(self.status or [])
        pages = 0
        try:
            for pages, page in enumerate(hook.iter_batch_pages(self.batch_id, self.max_pages), 1):
                yield pages, [job_row(j) for j in page.jobs if not wanted or j.status in wanted]
        except ListingTooLongError as exc:
            raise airflow_error(
                exc, f"task {self.task_id!r}; or pass max_pages= to read only the first pages"
            ) from exc
        except JobStatusError as exc:
            raise airflow_error(exc, f"after {pages} pages") from exc

    def _batch(self, hook: JobStatusHook) -> str:
        """How messages name the batch: "Playment batch 'b1'"."""
        return f"{hook.vendor.display_name} batch {self.batch_id!r}"

    def _too_large(self, hook: JobStatusHook, what: str) -> NoReturn:
        raise AirflowFailException(
            f"{self._batch(hook)}: {what}, over the XCom cap of {self.max_xcom_bytes} bytes; "
            "set output_path= to write them to object storage instead"
        )

    def _write(self, hook: JobStatusHook, output_path: str) -> dict[str, Any]:
        """Stream rows to JSON lines page by page, so the batch's size never matters."""
        count = pages = 0
        try:
            try:
                (target,) = targets_for(output_path, ["jobs.jsonl"], self.output_conn_id)
            except ValueError as exc:
                raise AirflowFailException(f"{self._batch(hook)}: output_path {exc}") from exc
            with target.writing() as out:
                for read, rows in self._pages(hook):
                    pages = read
                    out.write(b"".join(json.dumps(row).encode() + b"\n" for row in rows))
                    count += len(rows)
        except OSError as exc:
            what = unwritable("output_path", output_path, exc)
            raise AirflowFailException(f"{self._batch(hook)}: {what}") from exc
        self.log.info(
            "%s: %d jobs over %d pages written to %s", self._batch(hook), count, pages, target.describe()
        )
        self.record_lineage([vendor_batch(hook, self.batch_id)], [stored(target.describe(), rows=count)])
        return {"path": target.describe(), "count": count, "pages": pages}
