"""Nitro PDF Services: JSON client-credentials token, ``GET /jobs/{id}/status``, results by URL or by id.

Nitro has no queued state, answers 410 once a job's files are gone, and its result endpoint 404s
while the job runs: we poll ``/status`` only and fetch from ``/jobs/{id}`` once it says completed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import IO, Any

from airflow_provider_jobstatus.errors import (
    ConfigurationError,
    JobStatusError,
    MalformedResponseError,
    ResultExpiredError,
)
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._form import ConnectionForm
from airflow_provider_jobstatus.vendors._json import field_of, join_text, optional_field
from airflow_provider_jobstatus.vendors._protocol import (
    ApiRequest,
    ApiResponse,
    Credentials,
    ResultRequest,
    TokenGrant,
    VendorApi,
    path_segment,
)
from airflow_provider_jobstatus.vendors._results import (
    download_url,
    require_succeeded,
    select_results,
    unique_names,
    url_file_name,
)

#: ``details["result_kind"]``: how the result was delivered, which decides how to fetch it.
FILE, FILES, DATA = "file", "files", "data"

#: the polymorphic start endpoints (each takes a ``method``)
OPERATIONS = frozenset({"conversions", "transformations", "extractions", "generations"})
#: one input: a remote URL Nitro fetches itself, or ``(file name, binary file object, content type)``
NitroInput = str | tuple[str, IO[bytes], str]
_URL_PART = "application/vnd.gonitro.url+json"


class NitroApi(VendorApi):
    name = "nitro"
    display_name = "Nitro PDF Services"
    hook_class_name = "NitroHook"
    form = ConnectionForm(password_label="Client secret", password_placeholder="clientSecret")
    default_base_url = "https://api.gonitro.dev"
    needs_login = True
    uses_token = True

    def token_request(self, creds: Credentials) -> ApiRequest:
        if not creds.login:
            raise ConfigurationError(self.display_name, None, "the connection's login (client ID) is empty")
        body = {"clientID": creds.login, "clientSecret": creds.secret}
        return ApiRequest("POST", "/oauth/token", json=body, headers=_JSON, authenticated=False)

    def parse_token(self, resp: ApiResponse) -> TokenGrant:
        # The docs show camelCase; the schema also allows RFC 6749 snake_case. Both are seconds.
        return self.read_token(resp, ("accessToken", "access_token"), ("expiresIn", "expires_in"))

    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        if not token:
            raise ConfigurationError(self.display_name, None, "no access token: request one first")
        return {"Authorization": f"Bearer {token}"}

    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        return ApiRequest(
            "GET", f"/jobs/{path_segment(self.display_name, job_id, job_id)}/status", headers=_JSON
        )

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        if resp.status_code == 410:
            return self._expired(job_id, resp)
        self.check_http(job_id, resp)
        data = self.decode_object(job_id, resp)
        raw = field_of(self.display_name, job_id, data, "status", str)
        if raw == "running":
            progress = optional_field(self.display_name, job_id, data, "progress", (int, float))
            return self.status_of(job_id, JobState.RUNNING, raw, data, progress=progress)
        if raw == "completed":
            kind, results = self._results(job_id, data.get("result"))
            return self.status_of(
                job_id, JobState.SUCCEEDED, raw, data, results=results, details={"result_kind": kind}
            )
        if raw == "failed":
            error = optional_field(self.display_name, job_id, data, "error", dict) or {}
            message = join_text(error.get("title")) or "the job failed"
            return self.status_of(
                job_id, JobState.FAILED, raw, data, message=message, details={"error_type": error.get("type")}
            )
        if raw == "canceled":
            return self.status_of(job_id, JobState.CANCELED, raw, data, message="the job was canceled")
        return self.unknown_status(job_id, raw, data)

    def _expired(self, job_id: str, resp: ApiResponse) -> JobStatus:
        """410 FileNoLongerAvailable: terminal, and worth saying plainly (resubmit the job)."""
        try:
            body: Any = self.decode_object(job_id, resp)
        except JobStatusError:
            body = None
        said = self.error_message(body)
        message = "the job's result expired (HTTP 410)" + (f": {said}" if said else "")
        details = {"error_type": body.get("type") if body else None}
        return self.status_of(job_id, JobState.FAILED, "expired", body, message=message, details=details)

    def _results(self, job_id: str, result: Any) -> tuple[str, list[ResultFile]]:
        """``{"file"}``, ``{"files": []}`` or anything else (text, extraction objects) kept as JSON."""
        if isinstance(result, dict) and "file" in result:
            return FILE, [self._file(job_id, field_of(self.display_name, job_id, result, "file", dict))]
        if isinstance(result, dict) and "files" in result:
            files = field_of(self.display_name, job_id, result, "files", list)
            parsed = [self._file(job_id, f) for f in files]
            names = unique_names([f.name or "result" for f in parsed])
            return FILES, [f.model_copy(update={"name": n}) for f, n in zip(parsed, names, strict=True)]
        if result is None:
            return DATA, []
        return DATA, [ResultFile(name="result.json", content_type="application/json")]

    def _file(self, job_id: str, info: Any) -> ResultFile:
        if not isinstance(info, dict):
            raise MalformedResponseError(
                self.display_name, job_id, "each entry of 'files' should be an object"
            )
        url = optional_field(self.display_name, job_id, info, "URL", str)
        metadata = optional_field(self.display_name, job_id, info, "metadata", dict) or {}
        return ResultFile(
            url=url,
            name=url_file_name(url),
            content_type=optional_field(self.display_name, job_id, info, "contentType", str),
            size=optional_field(self.display_name, job_id, metadata, "fileSizeBytes", int),
        )

    def parse_start(self, resp: ApiResponse) -> str:
        """``{"jobID", "status": "running"}``; an answer without a job id came synchronously."""
        self.start_refused(resp)
        return self.started_id(self.decode_object(None, resp), "jobID")

    def error_message(self, data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        return join_text(data.get("title"), data.get("detail")) or join_text(
            data.get("error"), data.get("error_description")
        )

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        job_id = status.job_id
        if status.raw_status == "expired":
            raise ResultExpiredError(self.display_name, job_id, "the job's result expired; resubmit the job")
        require_succeeded(self.display_name, status)
        picked = select_results(self.display_name, job_id, status.results, selector)
        kind = status.details.get("result_kind") or (FILES if len(status.results) > 1 else FILE)
        path = f"/jobs/{path_segment(self.display_name, job_id, job_id)}"
        if kind == DATA:
            req = ApiRequest("GET", path, headers=_JSON)
            return [ResultRequest(req, "result.json", r) for r in picked]
        with_url = [r for r in picked if r.url]
        if not with_url:
            raise JobStatusError(
                self.display_name,
                job_id,
                "no result has a download URL: Nitro delivered the files to the request's own upload target",
            )
        if kind == FILE:
            req = ApiRequest("GET", path, headers={"Accept": "application/octet-stream"})
            return [ResultRequest(req, r.name or "result", r) for r in with_url]
        return [
            ResultRequest(
                ApiRequest("GET", download_url(self.display_name, job_id, r.url), authenticated=False),
                r.name or "result",
                r,
            )
            for r in with_url
        ]


def start_request(
    operation: str, method: str, method_params: Mapping[str, Any] | None, inputs: Sequence[NitroInput]
) -> ApiRequest:
    """``POST /{operation}`` multipart with ``Prefer: respond-async`` (without it Nitro answers
    synchronously): ``method``, ``params`` as JSON, one ``file`` part or several ``files`` parts.
    A URL input is a part of type ``application/vnd.gonitro.url+json`` that Nitro downloads itself."""
    name = NitroApi.display_name
    if operation not in OPERATIONS:
        raise ConfigurationError(name, None, f"operation {operation!r} is not one of {sorted(OPERATIONS)}")
    if not isinstance(method, str) or not method.strip():
        raise ConfigurationError(name, None, "method is empty (e.g. 'compress' for transformations)")
    if not inputs:
        raise ConfigurationError(name, None, "no input: give file= (a URL or a path) or files=[...]")
    field_name = "file" if len(inputs) == 1 else "files"
    parts = [(field_name, _part(i, item)) for i, item in enumerate(inputs)]
    form = {"method": method.strip(), "params": json.dumps(dict(method_params or {}))}
    headers = {**_JSON, "Prefer": "respond-async"}
    return ApiRequest("POST", f"/{operation}", form=form, files=parts, headers=headers)


def _part(index: int, item: NitroInput) -> tuple[str, Any, str]:
    if isinstance(item, str):
        body = json.dumps({"URL": item}).encode()
        return (f"input-{index + 1}.url.json", body, _URL_PART)
    return item


_JSON = {"Accept": "application/json"}

API = NitroApi()
