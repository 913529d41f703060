"""Playment (GT Studio): ``GET /v1/projects/{project_id}/jobs/{job_id}`` with ``x-api-key``.

Only ``completed`` is documented, and its ``result`` may be empty for a while: a job is done when it
says completed *and* has a result URL. Results are private; the attachment API redirects to a
signed URL. Errors come as ``{"error": {"code", "message"}, "success": false}``, even with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    DuplicateJobError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.status import BatchJob, BatchPage, JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._form import ConnectionForm, text_field
from airflow_provider_jobstatus.vendors._json import field_of, id_of, join_text, optional_field
from airflow_provider_jobstatus.vendors._protocol import (
    ApiRequest,
    ApiResponse,
    Credentials,
    ResultRequest,
    VendorApi,
    path_segment,
    retry_after_seconds,
)
from airflow_provider_jobstatus.vendors._results import require_succeeded, safe_file_name, select_results

_AUTH_CODES = frozenset({"auth-failure", "unauthorized", "core.webutil.auther", "core.webutil.token_auth"})
#: "Something went wrong ... try again"
_TRANSIENT_CODES = frozenset({"FS_0000", "FS_0008", "api_error"})
#: Playment's own SDK retries these non-standard codes.
_TRANSIENT_HTTP = frozenset({443, 444})


class PlaymentApi(VendorApi):
    name = "playment"
    display_name = "Playment"
    hook_class_name = "PlaymentHook"
    form = ConnectionForm(
        title="Playment (GT Studio)",
        password_placeholder="x-api-key from the GT Studio dashboard",
        fields={
            "project_id": text_field("Project ID", "The GT Studio project the jobs belong to.", minLength=1)
        },
    )
    default_base_url = "https://api.playment.io"
    has_batches = True
    required_extras: ClassVar[Mapping[str, str]] = {
        "project_id": "the GT Studio project the jobs and batches belong to"
    }

    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        return {"x-api-key": creds.secret}

    def _project(self, job_id: str | None, options: Mapping[str, Any]) -> str:
        return path_segment(self.display_name, job_id, self.required_extra(options, "project_id"))

    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        project = self._project(job_id, options)
        path = f"/v1/projects/{project}/jobs/{path_segment(self.display_name, job_id, job_id)}"
        return ApiRequest("GET", path, headers=_JSON)

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        body = self._envelope(job_id, resp)
        data = field_of(self.display_name, job_id, body, "data", dict)
        raw = field_of(self.display_name, job_id, data, "status", str)
        details = {k: data[k] for k in ("reference_id", "batch_id") if isinstance(data.get(k), str)}
        if not raw:
            return self.unknown_status(job_id, raw, body, details=details)
        if raw != "completed":
            return self.status_of(job_id, JobState.RUNNING, raw, body, details=details)
        result = optional_field(self.display_name, job_id, data, "result", str)
        if not result:
            message = "completed, but the result is not populated yet"
            return self.status_of(job_id, JobState.RUNNING, raw, body, message=message, details=details)
        results = [ResultFile(url=result, name=_result_name(job_id))]
        return self.status_of(job_id, JobState.SUCCEEDED, raw, body, results=results, details=details)

    def start_request(
        self,
        options: Mapping[str, Any],
        reference_id: str,
        data: Mapping[str, Any],
        work_flow_id: str,
        batch_id: str | None = None,
    ) -> ApiRequest:
        """``POST /v1/projects/{project_id}/jobs``. ``reference_id`` is the idempotency key: a
        second create with it answers ``FS_0001`` instead of making a second job."""
        for label, value in (("reference_id", reference_id), ("work_flow_id", work_flow_id)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(self.display_name, None, f"{label} is empty")
        if not isinstance(data, Mapping):
            raise ConfigurationError(self.display_name, None, "data should be a JSON object")
        body: dict[str, Any] = {
            "reference_id": reference_id,
            "data": dict(data),
            "work_flow_id": work_flow_id,
        }
        if batch_id:
            body["batch_id"] = batch_id
        return ApiRequest(
            "POST", f"/v1/projects/{self._project(None, options)}/jobs", json=body, headers=_JSON
        )

    def parse_start(self, resp: ApiResponse) -> str:
        """``{"data": {"job_id", "reference_id", "work_flow_id"}, "success": true}``; ``FS_0001``
        (duplicate reference_id) is :class:`DuplicateJobError`: the job exists, adopt it."""
        body = self._json_or_none(resp)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("code") == "FS_0001":
            raise DuplicateJobError(
                self.display_name, None, f"a job with this reference_id exists ({self.error_message(body)})"
            )
        if resp.status_code not in _TRANSIENT_HTTP and not 200 <= resp.status_code < 300:
            self._raise_coded(None, resp, body)
            self.start_refused(resp)
        data = field_of(self.display_name, None, self._envelope(None, resp), "data", dict)
        return self.started_id(data, "job_id")

    def _envelope(self, job_id: str | None, resp: ApiResponse) -> dict[str, Any]:
        """The answer's object, after turning an error envelope (any HTTP code) into the contract's error."""
        code = resp.status_code
        if code in _TRANSIENT_HTTP:
            after = retry_after_seconds(resp.headers.get("retry-after"))
            raise TransientVendorError(
                self.display_name, job_id, f"HTTP {code}", status_code=code, retry_after=after
            )
        if not 200 <= code < 300:
            self._raise_coded(job_id, resp, self._json_or_none(resp))
            self.check_http(job_id, resp)
        body = self.decode_object(job_id, resp)
        if body.get("success") is False or body.get("error") is not None:
            self._raise_coded(job_id, resp, body)
            said = self.error_message(body)
            raise VendorRequestError(
                self.display_name, job_id, f"request refused: {said or 'the answer says success: false'}"
            )
        return body

    def _raise_coded(self, job_id: str | None, resp: ApiResponse, body: Any) -> None:
        """Auth and try-again codes mean the same whatever the HTTP status says."""
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        code = code if isinstance(code, str) else None
        said = self.error_message(body)
        if code in _AUTH_CODES:
            raise AuthenticationError(self.display_name, job_id, f"credentials refused: {said}")
        if code in _TRANSIENT_CODES:
            raise TransientVendorError(
                self.display_name,
                job_id,
                f"vendor asks to try again: {said}",
                status_code=resp.status_code,
                retry_after=retry_after_seconds(resp.headers.get("retry-after")),
            )

    def _json_or_none(self, resp: ApiResponse) -> Any:
        try:
            return self.decode_json(None, resp)
        except MalformedResponseError:
            return None

    def error_message(self, data: Any) -> str | None:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            return join_text(error.get("code"), error.get("message"))
        return join_text(error)

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        """The attachment API redirects to a signed URL; the hook keeps the API key off that hop."""
        require_succeeded(self.display_name, status)
        picked = select_results(self.display_name, status.job_id, status.results, selector)
        return [
            ResultRequest(
                ApiRequest("GET", "/v1/attachments", params={"url": r.url or ""}, headers={"Accept": "*/*"}),
                _result_name(status.job_id),
                r,
                follow_redirects=True,
            )
            for r in picked
            if r.url
        ]

    def batch_page_request(
        self, batch_id: str, page_token: str | None, options: Mapping[str, Any]
    ) -> ApiRequest:
        project = self._project(batch_id, options)
        path = f"/v1/projects/{project}/batch/{path_segment(self.display_name, batch_id, batch_id)}"
        params = {"page_token": page_token} if page_token else None
        return ApiRequest("GET", path, params=params, headers=_JSON)

    def parse_batch_page(self, batch_id: str, resp: ApiResponse) -> BatchPage:
        body = self._envelope(batch_id, resp)
        data = field_of(self.display_name, batch_id, body, "data", dict)
        if "jobs" not in data:
            raise MalformedResponseError(self.display_name, batch_id, "field 'jobs' missing from the answer")
        jobs = optional_field(self.display_name, batch_id, data, "jobs", list) or []  # Go sends null for none
        token = data.get("next_page_token")
        return BatchPage(
            batch_id=batch_id,
            jobs=[self._batch_job(batch_id, job) for job in jobs],
            next_page_token=token if isinstance(token, str) and token else None,
        )

    def _batch_job(self, batch_id: str, job: Any) -> BatchJob:
        if not isinstance(job, dict):
            raise MalformedResponseError(
                self.display_name, batch_id, "each entry of 'jobs' should be an object"
            )
        status = optional_field(self.display_name, batch_id, job, "status", str)
        result = optional_field(self.display_name, batch_id, job, "result", str)
        return BatchJob(
            id=id_of(self.display_name, batch_id, job),
            reference_id=optional_field(self.display_name, batch_id, job, "reference_id", str),
            status=status,
            state=_listing_state(status),
            result_url=result or None,
        )


def _listing_state(status: str | None) -> JobState:
    """Listings carry no result, so ``completed`` counts as done there."""
    if not status:
        return JobState.UNKNOWN
    return JobState.SUCCEEDED if status == "completed" else JobState.RUNNING


def _result_name(job_id: str) -> str:
    return safe_file_name(f"{job_id}.json", "result.json")


_JSON = {"Accept": "application/json"}

API = PlaymentApi()
