"""PDF.co: ``POST /v1/job/check`` with ``x-api-key``; results are pre-signed S3 links that expire.

PDF.co answers ``working`` for job ids it has never seen; only a ``force`` check says ``unknown``,
which is read as "job not found" (:class:`JobNotFoundError`), never as a status to wait on.
Errors come as ``{"error": true, "status": N, "message"}``, sometimes with HTTP 200.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, ClassVar

from airflow_provider_jobstatus.errors import (
    ConfigurationError,
    JobNotFoundError,
    MalformedResponseError,
    VendorRequestError,
)
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._form import ConnectionForm
from airflow_provider_jobstatus.vendors._json import bool_option, field_of, join_text, optional_field
from airflow_provider_jobstatus.vendors._protocol import (
    ApiRequest,
    ApiResponse,
    Credentials,
    ResultRequest,
    VendorApi,
)
from airflow_provider_jobstatus.vendors._results import signed_url_requests, unique_names, url_file_name

#: Status fields worth keeping: cost, timing, and when the output links stop working.
_DETAIL_KEYS = ("credits", "remainingCredits", "duration", "jobDuration", "pageCount", "outputLinkValidTill")

_STATES = {
    "working": JobState.RUNNING,
    "success": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "aborted": JobState.CANCELED,
}


#: start refusals worth explaining (PDF.co's response-code table)
_START_REFUSALS = {
    402: "not enough credits on the PDF.co account",
    403: "PDF.co may not read the input URL (forbidden); make it public or prefix it with 'cache:'",
}


class PdfCoApi(VendorApi):
    name = "pdfco"
    display_name = "PDF.co"
    hook_class_name = "PdfCoHook"
    form = ConnectionForm(password_placeholder="x-api-key from the PDF.co dashboard")
    default_base_url = "https://api.pdf.co"
    #: ``working`` also means "no such job"; only ``force`` makes PDF.co say ``unknown``
    final_check_options: ClassVar[dict[str, Any]] = {"force": True}

    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        return {"x-api-key": creds.secret}

    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        if not job_id.strip():
            raise ConfigurationError(self.display_name, job_id, "the job id is empty")
        # Every documented example sends lowercase ``jobid``, whatever the attribute table says.
        body: dict[str, Any] = {"jobid": job_id}
        if bool_option(self.display_name, options, "force"):
            body["force"] = True
        return ApiRequest("POST", "/v1/job/check", json=body, headers={"Accept": "application/json"})

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        self.check_http(job_id, resp)
        data = self.decode_object(job_id, resp)
        self._check_envelope(job_id, resp, data)
        raw = field_of(self.display_name, job_id, data, "status", str)
        message = optional_field(self.display_name, job_id, data, "message", str)
        details = {k: data[k] for k in _DETAIL_KEYS if data.get(k) is not None}
        if raw == "unknown":
            raise JobNotFoundError(
                self.display_name,
                job_id,
                "unknown job id: PDF.co does not know it (the id is wrong, or the job expired); "
                "check the id the task was given",
            )
        state = _STATES.get(raw)
        if state is None:
            return self.unknown_status(job_id, raw, data, details=details)
        if state is JobState.FAILED:
            message = message or "the job failed"
        results = self._results(job_id, data) if state is JobState.SUCCEEDED else []
        return self.status_of(job_id, state, raw, data, message=message, results=results, details=details)

    def _check_envelope(self, job_id: str, resp: ApiResponse, data: dict[str, Any]) -> None:
        """An error envelope in a 2xx answer: classify its inner status as if it were the HTTP code."""
        if not data.get("error") or isinstance(data.get("status"), str):
            return  # a job status (a string) always wins over the error flag
        inner = data.get("status")
        code = inner if isinstance(inner, int) and not isinstance(inner, bool) and inner >= 400 else 400
        self.check_http(job_id, replace(resp, status_code=code))

    def _results(self, job_id: str, data: dict[str, Any]) -> list[ResultFile]:
        urls = optional_field(self.display_name, job_id, data, "urls", list) or []
        if not all(isinstance(u, str) and u for u in urls):
            raise MalformedResponseError(self.display_name, job_id, "field 'urls' should be a list of URLs")
        if not urls:
            url = optional_field(self.display_name, job_id, data, "url", str)
            urls = [url] if url else []
        names = unique_names([url_file_name(u) for u in urls])
        return [ResultFile(url=u, name=n) for u, n in zip(urls, names, strict=True)]

    def parse_start(self, resp: ApiResponse) -> str:
        """``{"error": false, "jobId", "url"}``; the ``url`` is not usable until a check says success.
        Errors may come with HTTP 200 (the envelope's own ``status``), so that code is read too."""
        data = self.decode_object(None, resp) if 200 <= resp.status_code < 300 else None
        code = resp.status_code
        if data is not None and data.get("error"):
            inner = data.get("status")
            code = inner if isinstance(inner, int) and not isinstance(inner, bool) and inner >= 400 else 400
        hint = _START_REFUSALS.get(code)
        if hint is not None:
            said = self._error_text(resp)
            raise VendorRequestError(
                self.display_name,
                None,
                f"refused to start the job (HTTP {code}): {hint}{said}",
                status_code=code,
            )
        self.start_refused(replace(resp, status_code=code))
        return self.started_id(data or {}, "jobId")

    def error_message(self, data: Any) -> str | None:
        return join_text(data.get("message")) if isinstance(data, dict) else None

    def results_expired(self, status: JobStatus, now: datetime) -> bool:
        return link_expired(status, now)

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        return signed_url_requests(self.display_name, status, selector)


def start_request(endpoint: str, payload: Mapping[str, Any]) -> ApiRequest:
    """``POST {endpoint}`` with the payload and ``"async": true`` (a background job, up to 15-20 min;
    synchronous calls time out after about 25 s)."""
    name = PdfCoApi.display_name
    if not isinstance(endpoint, str) or not re.fullmatch(
        r"/v1(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+", endpoint.strip()
    ):
        raise ConfigurationError(
            name, None, f"endpoint {endpoint!r} should be a path like /v1/pdf/convert/to/text"
        )
    if not isinstance(payload, Mapping):
        raise ConfigurationError(name, None, f"payload should be a JSON object, got {type(payload).__name__}")
    body = {**payload, "async": True}
    return ApiRequest("POST", endpoint.strip(), json=body, headers={"Accept": "application/json"})


def link_expired(status: JobStatus, now: datetime) -> bool:
    """Whether the output links are past ``outputLinkValidTill`` (False when PDF.co did not say)."""
    till = _parse_time(status.details.get("outputLinkValidTill"))
    if till is None:
        return False
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now >= till


def _parse_time(value: Any) -> datetime | None:
    """An ISO timestamp (``Z`` and 7-digit .NET fractions allowed); naive means UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = re.sub(r"[zZ]$", "+00:00", value.strip())
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


API = PdfCoApi()
