"""Download what a succeeded job produced, the vendor's way, to a local path or object storage."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from airflow_provider_jobstatus.errors import (
    JobStatusError,
    ResultExpiredError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.hooks import JobStatusHook, origin_of
from airflow_provider_jobstatus.operators._lineage import ReportsLineage, stored, vendor_job
from airflow_provider_jobstatus.operators._storage import (
    CHUNK,
    Overwrite,
    Target,
    Written,
    is_local,
    sha256_of_target,
    targets_for,
    unwritable,
)
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import JobState
from airflow_provider_jobstatus.task_arguments import require_id
from airflow_provider_jobstatus.task_errors import airflow_error, hook_for
from airflow_provider_jobstatus.vendors import (
    ApiResponse,
    ResultRequest,
    describe_status,
    safe_file_name,
    unique_names,
)

#: Most of an error body read to explain a refused download (the rest is not worth memory).
_ERROR_BODY_BYTES = 64 * 1024


class DownloadJobResultOperator(ReportsLineage, BaseOperator):
    """Fetch a succeeded job's results and write them, verified, under ``destination``.

    :param conn_id: the vendor connection (its type picks the vendor).
    :param job_id: the vendor's job id (templated).
    :param destination: a local file or folder, or an object storage URL such as ``s3://b/k/``
        (templated). A folder, which receives every result under its own name, ends with ``/``
        (or already exists as a folder); a file has an extension in its last part
        (``report.pdf``). Anything else is refused as ambiguous.
    :param result: picks some results: ``{"index": 0}``, ``{"name": "x.pdf"}``, Alteryx
        ``{"output": "O1", "format": "Csv"}``. Default: all of them.
    :param destination_conn_id: Airflow connection for the object store.
    :param overwrite: ``replace`` (default), ``skip`` (keep what is there) or ``fail``.
    :param max_bytes: refuse a result larger than this.
    :param download_attempts: tries per file for transient faults and truncated bodies.
    :param backoff: first retry delay in seconds (doubling, with jitter).
    :param hook_params: keyword arguments for the hook (``retries``, ``backoff``, ``timeout``, ...).

    Returns one dict per result: ``destination`` (path or URL), ``name``, ``bytes``, ``sha256``,
    ``content_type`` and ``skipped`` (True when ``overwrite="skip"`` kept an existing file).

    OpenLineage: the job is the input dataset (the API's origin, ``jobs/<job id>``), each file
    written is an output (a file ``overwrite="skip"`` kept was not written by this run).
    """

    template_fields: Sequence[str] = ("conn_id", "job_id", "destination", "result", "destination_conn_id")
    ui_color = "#e8fdf0"

    def __init__(
        self,
        *,
        conn_id: str,
        job_id: str,
        destination: str,
        result: dict[str, Any] | None = None,
        destination_conn_id: str | None = None,
        overwrite: Overwrite = "replace",
        max_bytes: int | None = None,
        download_attempts: int = 5,
        backoff: float = 1.0,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if overwrite not in ("replace", "skip", "fail"):
            raise ValueError(f"overwrite must be 'replace', 'skip' or 'fail', not {overwrite!r}")
        self.conn_id = conn_id
        self.job_id = job_id
        self.destination = destination
        self.result = result
        self.destination_conn_id = destination_conn_id
        self.overwrite = overwrite
        self.max_bytes = max_bytes
        self.download_attempts = max(1, download_attempts)
        self.backoff = Backoff(base=backoff, cap=60.0)
        self.hook_params = dict(hook_params or {})

    def execute(self, context: Any) -> list[dict[str, Any]]:
        require_id(self, "job_id", self.job_id)
        hook = hook_for(self.conn_id, self.hook_params)
        requests = self._result_requests(hook)
        names = unique_names([safe_file_name(r.name, "result") for r in requests])
        job = f"{hook.vendor.display_name} job {self.job_id!r}"
        written: list[Written] = []
        try:
            try:
                targets = targets_for(self.destination, names, self.destination_conn_id)
            except ValueError as exc:
                raise AirflowFailException(f"{job}: destination {exc}") from exc
            if self.overwrite == "fail":
                # Check every target first: failing on the third would leave two written.
                there = [t.describe() for t in targets if t.exists()]
                if there:
                    raise AirflowFailException(
                        f"{job}: {', '.join(there)} already exist(s) and overwrite='fail'"
                    )
            for rr, name, target in zip(requests, names, targets, strict=True):
                written.append(self._fetch(hook, rr, name, target))
        except OSError as exc:  # the destination's fault, not the vendor's
            done = [w.destination for w in written if not w.skipped]
            kept = f"; already written: {', '.join(done)}" if done else ""
            what = unwritable("destination", self.destination, exc)
            raise AirflowFailException(f"{job}: {what}{kept}") from exc
        for w in written:
            verb = "kept" if w.skipped else "wrote"
            self.log.info("%s %s: %d bytes, sha256 %s", verb, w.destination, w.bytes, w.sha256)
        self.record_lineage(
            [vendor_job(hook, self.job_id)],
            [stored(w.destination, size=w.bytes) for w in written if not w.skipped],
        )
        return [w.as_dict() for w in written]

    def _result_requests(self, hook: JobStatusHook) -> list[ResultRequest]:
        """Ask the vendor again (events and XCom carry no signed URL) and plan the fetches."""
        vendor = hook.vendor
        try:
            status = hook.get_job_status(self.job_id)
            if not status.state.is_terminal and vendor.final_check_options:
                # PDF.co says "working" for ids it never saw: ask the way that tells them apart
                status = hook.get_job_status(self.job_id, **vendor.final_check_options)
            if status.state is not JobState.SUCCEEDED:
                todo = "" if status.state.is_terminal else "; wait for it first (JobStatusSensor)"
                raise AirflowFailException(
                    f"{describe_status(status)}: only a succeeded job has results to download{todo}"
                )
            if vendor.results_expired(status, datetime.now(timezone.utc)):
                raise ResultExpiredError(
                    vendor.display_name,
                    self.job_id,
                    "the result links have expired; a new link needs a new job",
                )
            return vendor.result_requests(status, self.result or {}, hook.options(hook.settings(), {}))
        except JobStatusError as exc:
            raise airflow_error(exc) from exc

    def _fetch(self, hook: JobStatusHook, rr: ResultRequest, name: str, target: Target) -> Written:
        if self.overwrite == "skip" and target.exists():
            size, digest = sha256_of_target(target)
            return Written(self._location(target), name, size, digest, None, skipped=True)
        for attempt in range(1, self.download_attempts + 1):
            try:
                return self._fetch_once(hook, rr, name, target)
            except JobStatusError as exc:
                if not exc.transient or attempt == self.download_attempts:
                    raise airflow_error(exc, f"after {attempt} attempt(s)") from exc
                hint = exc.retry_after if isinstance(exc, TransientVendorError) else None
                wait = self.backoff.delay(attempt, hint)
                self.log.warning(
                    "%s; retrying %s in %.1f s (attempt %d of %d)",
                    exc,
                    name,
                    wait,
                    attempt + 1,
                    self.download_attempts,
                )
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _fetch_once(self, hook: JobStatusHook, rr: ResultRequest, name: str, target: Target) -> Written:
        """Stream one result into the target's temporary name; move it only when its size is right."""
        vendor = hook.vendor
        with hook.open_result(rr, self.job_id) as resp:
            self._check_answer(hook, resp)
            announced = _content_length(resp)
            expected = {s for s in (announced, rr.result.size) if s is not None}
            if self.max_bytes is not None and expected and max(expected) > self.max_bytes:
                raise VendorRequestError(
                    vendor.display_name,
                    self.job_id,
                    f"{name} is {max(expected)} bytes, over max_bytes={self.max_bytes}",
                )
            digest = hashlib.sha256()
            size = 0
            # one step never decodes more than max_bytes allows: memory is bounded as the file is
            step = CHUNK if self.max_bytes is None else max(1, min(CHUNK, self.max_bytes + 1))
            with target.writing() as out:
                for chunk in hook.iter_result(resp, self.job_id, step=step):
                    size += len(chunk)
                    if self.max_bytes is not None and size > self.max_bytes:
                        raise VendorRequestError(
                            vendor.display_name, self.job_id, f"{name} exceeds max_bytes={self.max_bytes}"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                if announced is not None and size != announced:
                    raise TransientVendorError(
                        vendor.display_name,
                        self.job_id,
                        f"{name} truncated: received {size} of {announced} bytes",
                    )
                if rr.result.size is not None and size != rr.result.size:
                    raise TransientVendorError(
                        vendor.display_name,
                        self.job_id,
                        f"{name} is {size} bytes but the vendor announced {rr.result.size}",
                    )
        content_type = resp.headers.get("content-type") or rr.result.content_type
        return Written(self._location(target), name, size, digest.hexdigest(), content_type)

    def _location(self, target: Target) -> str:
        """What XCom gets, in the form the destination was given: a path, a ``file://`` URL, or
        an object storage URL without a query (never a signature)."""
        where = target.describe()
        if not is_local(self.destination):
            return where
        return Path(where).as_uri() if self.destination.startswith("file:") else where

    def _check_answer(self, hook: JobStatusHook, resp: httpx.Response) -> None:
        """Refuse anything but a 2xx; an expired link is named as such."""
        if 200 <= resp.status_code < 300:
            return
        vendor = hook.vendor
        body = b""
        try:
            for chunk in hook.iter_result(resp, self.job_id, step=_ERROR_BODY_BYTES):
                body += chunk
                if len(body) >= _ERROR_BODY_BYTES:
                    break
        except JobStatusError:  # an error page that does not decode: its status still speaks
            pass
        foreign = origin_of(str(resp.url)) != hook.settings().origin
        if resp.status_code == 410 or (foreign and resp.status_code in (401, 403)):
            hint = _s3_message(body)
            raise ResultExpiredError(
                vendor.display_name,
                self.job_id,
                f"result link expired or refused (HTTP {resp.status_code}{': ' + hint if hint else ''}); "
                "a new link needs a new job",
            )
        vendor.check_http(self.job_id, ApiResponse(resp.status_code, resp.headers, body))


def _content_length(resp: httpx.Response) -> int | None:
    """The body's length on the wire, when it is also the file's (no content encoding)."""
    if "content-encoding" in resp.headers:
        return None
    try:
        return int(resp.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _s3_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    start, end = text.find("<Message>"), text.find("</Message>")
    return text[start + 9 : end].strip()[:200] if 0 <= start < end else ""
