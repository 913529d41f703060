"""APIDataTools: ``GET /jobs/{job_id}`` with ``x-api-key``; ``retry_after`` paces the polling.

The docs declare ``/jobs/{job_id}`` but their own examples call ``/status-api/{job_id}``: the path is
a connection extra, and with the default we try the other documented path once on a 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from airflow_provider_jobstatus.errors import ConfigurationError, VendorRequestError
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._form import ConnectionForm, text_field
from airflow_provider_jobstatus.vendors._json import field_of, join_text, optional_field
from airflow_provider_jobstatus.vendors._protocol import (
    ApiRequest,
    ApiResponse,
    Credentials,
    ResultRequest,
    VendorApi,
    path_segment,
)
from airflow_provider_jobstatus.vendors._results import signed_url_requests, url_file_name

DEFAULT_STATUS_PATH = "/jobs/{job_id}"
FALLBACK_STATUS_PATH = "/status-api/{job_id}"

_STATES = {
    "queued": JobState.QUEUED,
    "processing": JobState.RUNNING,
    "success": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
}

#: The documented error codes and the HTTP status each comes with (for bodies that arrive as 200).
_ERROR_CODES = {
    "INVALID_JOB_ID": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "JOB_NOT_FOUND": 404,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
}


class ApiDataToolsApi(VendorApi):
    name = "apidatatools"
    display_name = "APIDataTools"
    hook_class_name = "ApiDataToolsHook"
    form = ConnectionForm(
        password_placeholder="x-api-key",
        fields={
            "status_path": text_field(
                "Status path",
                "Path of the job status endpoint; {job_id} is replaced by the job id.",
                default="/jobs/{job_id}",
            )
        },
    )
    default_base_url = "https://api.apidatatools.com"

    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        return {"x-api-key": creds.secret}

    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        return self._get(job_id, self._status_path(options))

    def fallback_status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest | None:
        if self._status_path(options) != DEFAULT_STATUS_PATH:
            return None  # the user chose a path: do not second-guess it
        return self._get(job_id, FALLBACK_STATUS_PATH)

    def _get(self, job_id: str, template: str) -> ApiRequest:
        url = template.replace("{job_id}", path_segment(self.display_name, job_id, job_id))
        return ApiRequest("GET", url, headers={"Accept": "application/json"})

    def _status_path(self, options: Mapping[str, Any]) -> str:
        path = options.get("status_path")
        if path is None or path == "":
            return DEFAULT_STATUS_PATH
        if not isinstance(path, str) or "{job_id}" not in path:
            raise ConfigurationError(
                self.display_name,
                None,
                f"connection extra 'status_path' must contain {{job_id}} "
                f"(e.g. {DEFAULT_STATUS_PATH!r}), got {path!r}",
            )
        path = path.strip()
        return path if path.startswith(("/", "http://", "https://")) else "/" + path

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        self.check_http(job_id, resp)
        data = self.decode_object(job_id, resp)
        if data.get("status") == "error":
            code = data.get("error")
            self.check_http(
                job_id,
                replace(resp, status_code=_ERROR_CODES.get(code, 400) if isinstance(code, str) else 400),
            )
        raw = field_of(self.display_name, job_id, data, "status", str)
        retry_after = optional_field(self.display_name, job_id, data, "retry_after", (int, float))
        pacing: dict[str, float] = (
            {"retry_after": max(0.0, float(retry_after))} if retry_after is not None else {}
        )
        message = optional_field(self.display_name, job_id, data, "message", str)
        state = _STATES.get(raw)
        if state is None:
            return self.unknown_status(job_id, raw, data, **pacing)
        if state is JobState.SUCCEEDED:
            return self._success(job_id, data)
        if state is JobState.FAILED:
            error = data.get("error")
            message = self.error_message({"error": error}) or "the job failed"
            return self.status_of(job_id, state, raw, data, message=message, details={"error": error})
        return self.status_of(job_id, state, raw, data, message=message, **pacing)

    def _success(self, job_id: str, data: dict[str, Any]) -> JobStatus:
        """Keep the file link and request id; the inline ``preview`` is left in ``raw`` only."""
        result = optional_field(self.display_name, job_id, data, "result", dict) or {}
        file = optional_field(self.display_name, job_id, result, "file", str)
        request_id = optional_field(self.display_name, job_id, result, "request_id", str)
        results = [ResultFile(url=file, name=url_file_name(file))] if file else []
        details = {"request_id": request_id} if request_id else {}
        return self.status_of(job_id, JobState.SUCCEEDED, "success", data, results=results, details=details)

    def parse_start(self, resp: ApiResponse) -> str:
        """The acknowledgement of an async (``x-source-type: url``) call carries the ``job_id``
        (its exact shape is undocumented: an error status in a 2xx body is still a refusal)."""
        self.start_refused(resp)
        data = self.decode_object(None, resp)
        if data.get("status") in ("error", "failed"):
            said = self.error_message(data)
            raise VendorRequestError(
                self.display_name, None, f"refused to start the job: {said or data['status']}"
            )
        return self.started_id(data, "job_id")

    def error_message(self, data: Any) -> str | None:
        """Error bodies: ``{"error": "CODE", "details": {"message"}}``.

        Failed jobs: ``{"error": {"code", "message"}}``.
        """
        if not isinstance(data, dict):
            return None
        error, details = data.get("error"), data.get("details")
        if isinstance(error, dict):
            return join_text(error.get("code"), error.get("message"))
        said = details.get("message") if isinstance(details, dict) else None
        return join_text(error, said) or join_text(data.get("message"))

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        return signed_url_requests(self.display_name, status, selector)


def start_request(tool: str, source_url: str) -> ApiRequest:
    """``POST {tool}`` with ``x-source-type: url``: the asynchronous mode, where the tool fetches
    ``source_url`` itself (the default ``body`` mode answers synchronously)."""
    name = ApiDataToolsApi.display_name
    if not isinstance(tool, str) or not re.fullmatch(r"/[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*", tool.strip()):
        raise ConfigurationError(name, None, f"tool {tool!r} should be a path like /json-to-csv-api")
    if not isinstance(source_url, str) or not source_url.startswith(("https://", "http://")):
        raise ConfigurationError(name, None, f"source_url {source_url!r} should be an http(s) URL")
    headers = {"Accept": "application/json", "x-source-type": "url"}
    return ApiRequest("POST", tool.strip(), json={"url": source_url}, headers=headers)


API = ApiDataToolsApi()
