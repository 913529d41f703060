"""Download what a succeeded job produced, the vendor's way, to a local path or object storage."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import httpx
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_jobstatus.errors import (
    JobStatusError,
    ResultExpiredError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.hooks._settings import origin_of
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.operators._storage import (
    Overwrite,
    Target,
    Written,
    sha256_of_target,
    targets_for,
)
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import JobState, strip_query
from airflow_provider_jobstatus.vendors._base import ApiResponse, ResultRequest, safe_file_name, unique_names

CHUNK = 1024 * 1024


class DownloadJobResultOperator(BaseOperator):
    """Fetch a succeeded job's results and write them, verified, under ``destination``.

    :param conn_id: the vendor connection (its type picks the vendor).
    :param job_id: the vendor's job id (templated).
    :param destination: a local file or folder, or an object storage URL such as ``s3://b/k/``
        (templated). A trailing ``/`` means a folder that receives every result.
    :param result: picks some results: ``{"index": 0}``, ``{"name": "x.pdf"}``, Alteryx
        ``{"output": "O1", "format": "Csv"}``. Default: all of them.
    :param destination_conn_id: Airflow connection for the object store.
    :param overwrite: ``replace`` (default), ``skip`` (keep what is there) or ``fail``.
    :param max_bytes: refuse a result larger than this.
    :param download_attempts: tries per file for transient faults and truncated bodies.
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

    def execute(self, context: Any) -> list[dict[str, Any]]:
        try:
            hook = JobStatusHook.for_connection(self.conn_id)
            status = hook.get_job_status(self.job_id)
        except JobStatusError as exc:
            raise AirflowException(str(exc)) from exc
        if status.state is not JobState.SUCCEEDED:
            raise AirflowFailException(f"{status.describe()}: only a succeeded job has results to download")
        vendor = hook.vendor
        try:
            if vendor.results_expired(status, datetime.now(timezone.utc)):
                raise ResultExpiredError(vendor.display_name, self.job_id, "the result links have expired")
            requests = vendor.result_requests(status, self.result or {}, hook.options(hook.settings(), {}))
        except JobStatusError as exc:
            raise AirflowFailException(str(exc)) from exc
        names = unique_names([safe_file_name(r.name, "result") for r in requests])
        try:
            targets = targets_for(self.destination, names, self.destination_conn_id)
        except ValueError as exc:
            raise AirflowFailException(f"{vendor.display_name} job {self.job_id!r}: {exc}") from exc
        written = [
            self._fetch(hook, rr, name, target)
            for rr, name, target in zip(requests, names, targets, strict=True)
        ]
        for w in written:
            self.log.info(
                "%s %s: %d bytes, sha256 %s",
                "kept" if w.skipped else "wrote",
                w.destination,
                w.bytes,
                w.sha256,
            )
        return [w.as_dict() for w in written]

    def _fetch(self, hook: JobStatusHook, rr: ResultRequest, name: str, target: Target) -> Written:
        if target.exists():
            if self.overwrite == "fail":
                raise AirflowFailException(f"{target.describe()} already exists and overwrite='fail'")
            if self.overwrite == "skip":
                size, digest = sha256_of_target(target)
                return Written(strip_query(target.describe()) or "", name, size, digest, None, skipped=True)
        for attempt in range(1, self.download_attempts + 1):
            try:
                return self._fetch_once(hook, rr, name, target)
            except JobStatusError as exc:
                if not exc.transient or attempt == self.download_attempts:
                    raise (AirflowException if exc.transient else AirflowFailException)(str(exc)) from exc
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
        vendor = hook.vendor
        with hook.open_result(rr) as resp:
            self._check_answer(hook, rr, resp)
            expected = _expected_size(resp, rr)
            if self.max_bytes is not None and expected is not None and expected > self.max_bytes:
                raise VendorRequestError(
                    vendor.display_name,
                    self.job_id,
                    f"{name} is {expected} bytes, over max_bytes={self.max_bytes}",
                )
            digest = hashlib.sha256()
            size = 0
            try:
                with target.open_temp() as out:
                    for chunk in resp.iter_bytes(CHUNK):
                        size += len(chunk)
                        if self.max_bytes is not None and size > self.max_bytes:
                            raise VendorRequestError(
                                vendor.display_name, self.job_id, f"{name} exceeds max_bytes={self.max_bytes}"
                            )
                        digest.update(chunk)
                        out.write(chunk)
                if expected is not None and size != expected:
                    raise TransientVendorError(
                        vendor.display_name,
                        self.job_id,
                        f"{name} truncated: received {size} of {expected} bytes",
                    )
                target.commit()
            except BaseException:
                target.discard()
                raise
        content_type = resp.headers.get("content-type") or rr.result.content_type
        return Written(strip_query(target.describe()) or "", name, size, digest.hexdigest(), content_type)

    def _check_answer(self, hook: JobStatusHook, rr: ResultRequest, resp: httpx.Response) -> None:
        """Refuse anything but a 2xx with a body: an expired link is named as such."""
        if 200 <= resp.status_code < 300:
            return
        vendor = hook.vendor
        body = resp.read()[:4096]
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


def _expected_size(resp: httpx.Response, rr: ResultRequest) -> int | None:
    if "content-encoding" not in resp.headers:
        try:
            return int(resp.headers["content-length"])
        except (KeyError, ValueError):
            pass
    return rr.result.size


def _s3_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    start, end = text.find("<Message>"), text.find("</Message>")
    return text[start + 9 : end].strip()[:200] if 0 <= start < end else ""
