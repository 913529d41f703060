"""Page through a batch of jobs into XCom (or, past XCom's size, into object storage)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_jobstatus.errors import JobStatusError
from airflow_provider_jobstatus.hooks.base import JobStatusHook, iter_pages
from airflow_provider_jobstatus.operators._storage import targets_for
from airflow_provider_jobstatus.status import BatchJob, strip_query

#: XCom is not a data store: Airflow's own guidance caps what we push.
DEFAULT_MAX_XCOM_BYTES = 256 * 1024


def job_row(job: BatchJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "reference_id": job.reference_id,
        "status": job.status,
        "state": job.state.value,
        "result_url": strip_query(job.result_url),
    }


class BatchJobsToXComOperator(BaseOperator):
    """List a batch's jobs (Playment) page by page, for a downstream ``.expand()``.

    :param conn_id: a connection whose vendor has batch listings (Playment).
    :param batch_id: the batch (templated).
    :param status: keep only jobs with this raw status, or any of a list of them.
    :param max_pages: stop after this many pages.
    :param output_path: write every row (JSON lines) here and return ``{"path", "count", "pages"}``.
    :param output_conn_id: Airflow connection for the object store of ``output_path``.
    :param chunk_size: return a list of lists of at most this many rows, to stay under
        ``[core] max_map_length`` (1,024 by default) when mapping over chunks.
    :param max_xcom_bytes: a list larger than this fails with a message naming ``output_path``.

    Returns: the rows (``id, reference_id, status, state, result_url``), the chunks when
    ``chunk_size`` is set, or the summary when ``output_path`` is set: one shape per configuration.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.batch_id = batch_id
        self.status = status
        self.max_pages = max_pages
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.chunk_size = chunk_size
        self.max_xcom_bytes = max_xcom_bytes

    def execute(self, context: Any) -> Any:
        wanted = {self.status} if isinstance(self.status, str) else set(self.status or [])
        rows: list[dict[str, Any]] = []
        pages = 0
        try:
            hook = JobStatusHook.for_connection(self.conn_id)
            if not hook.vendor.has_batches:
                raise AirflowFailException(f"{hook.vendor.display_name} has no batch listing")
            for page in iter_pages(hook, self.batch_id, self.max_pages):
                pages += 1
                rows.extend(job_row(j) for j in page.jobs if not wanted or j.status in wanted)
        except JobStatusError as exc:
            raise AirflowException(f"{exc} (after {pages} pages)") from exc
        self.log.info("batch %r: %d jobs over %d pages", self.batch_id, len(rows), pages)
        if self.output_path:
            return self._write(rows, pages)
        result: Any = rows
        if self.chunk_size:
            result = [rows[i : i + self.chunk_size] for i in range(0, len(rows), self.chunk_size)]
        size = len(json.dumps(result))
        if size > self.max_xcom_bytes:
            raise AirflowFailException(
                f"batch {self.batch_id!r}: {len(rows)} jobs are {size} bytes of JSON, over the XCom cap of "
                f"{self.max_xcom_bytes}; set output_path= to write them to object storage instead"
            )
        return result

    def _write(self, rows: list[dict[str, Any]], pages: int) -> dict[str, Any]:
        (target,) = targets_for(self.output_path or "", ["jobs.jsonl"], self.output_conn_id)
        try:
            with target.open_temp() as out:
                for row in rows:
                    out.write(json.dumps(row).encode() + b"\n")
            target.commit()
        except BaseException:
            target.discard()
            raise
        return {"path": target.describe(), "count": len(rows), "pages": pages}
