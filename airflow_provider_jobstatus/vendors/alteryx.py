"""Alteryx Server API v3 (self-hosted): OAuth2 client credentials, ``GET /v3/jobs/{id}``.

"Completed" only means the workflow ran: the ``disposition`` says whether it worked, and the
error messages (``messages[].status == 3``) say why not. A workflow's job listing
(``GET /v3/workflows/{id}/jobs``) has no disposition at all: a job listed as Completed must be
asked about once more to tell success from error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from airflow_provider_jobstatus.errors import ConfigurationError, MalformedResponseError
from airflow_provider_jobstatus.status import BatchJob, JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._form import ConnectionForm
from airflow_provider_jobstatus.vendors._json import bool_option, field_of, id_of, join_text, optional_field
from airflow_provider_jobstatus.vendors._protocol import (
    ApiRequest,
    ApiResponse,
    Credentials,
    OffsetListing,
    ResultRequest,
    TokenGrant,
    VendorApi,
    path_segment,
)
from airflow_provider_jobstatus.vendors._results import require_succeeded, safe_file_name, unique_names

#: AlteryxEngine message codes; the transient flag is masked off before comparing.
_WARNING, _ERROR, _TRANSIENT_FLAG = 2, 3, 0x40000000

_STATES = {
    "created": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "running": JobState.RUNNING,
    "cancelled": JobState.CANCELED,
    "canceled": JobState.CANCELED,
}


class AlteryxApi(VendorApi):
    name = "alteryx"
    display_name = "Alteryx Server"
    hook_class_name = "AlteryxHook"
    form = ConnectionForm(
        login_label="API access key",
        password_label="API access secret",
        password_placeholder="API access secret",
        host_placeholder="https://alteryx.example.com/webapi",
    )
    default_base_url = None
    needs_login = True
    uses_token = True

    def token_request(self, creds: Credentials) -> ApiRequest:
        if not creds.login:
            raise ConfigurationError(
                self.display_name, None, "the connection's login (API access key) is empty"
            )
        return ApiRequest(
            "POST",
            "/oauth2/token",
            form={"grant_type": "client_credentials"},
            headers=_JSON,
            authenticated=False,
            basic_auth=(creds.login, creds.secret),
        )

    def parse_token(self, resp: ApiResponse) -> TokenGrant:
        return self.read_token(resp, ("access_token",), ("expires_in",))

    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        if not token:
            raise ConfigurationError(self.display_name, None, "no access token: request one first")
        return {"Authorization": f"Bearer {token}"}

    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        bool_option(self.display_name, options, "fail_on_warning")  # a bad value fails now, not hours later
        path = f"/v3/jobs/{path_segment(self.display_name, job_id, job_id)}"
        return ApiRequest("GET", path, params={"includeMessages": "true"}, headers=_JSON)

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        self.check_http(job_id, resp)
        data = self.decode_object(job_id, resp)
        raw = field_of(self.display_name, job_id, data, "status", str)
        errors, warnings = self._messages(job_id, data)
        results = self._outputs(job_id, data)
        if raw.lower() == "completed":
            return self._completed(job_id, data, errors, warnings, results, options)
        state = _STATES.get(raw.lower())
        if state is None:
            return self.unknown_status(job_id, raw, data)
        return self.status_of(job_id, state, raw, data)

    def _completed(
        self,
        job_id: str,
        data: dict[str, Any],
        errors: list[str],
        warnings: list[str],
        results: list[ResultFile],
        options: Mapping[str, Any],
    ) -> JobStatus:
        """The disposition is authoritative: Success (and Warning unless strict) is success."""
        disposition = optional_field(self.display_name, job_id, data, "disposition", str) or ""
        details: dict[str, Any] = {"disposition": disposition or None}
        if errors:
            details["errors"] = errors
        if warnings:
            details["warnings"] = warnings
        strict = bool_option(self.display_name, options, "fail_on_warning")
        kind = disposition.lower()
        if kind == "success" or (kind == "warning" and not strict):
            message = "completed with warnings" if kind == "warning" else None
            return self.status_of(
                job_id,
                JobState.SUCCEEDED,
                "Completed",
                data,
                message=message,
                results=results,
                details=details,
            )
        if kind == "warning":
            message = "completed with warnings and fail_on_warning is set"
            message += f": {'; '.join(warnings)}" if warnings else ""
        elif disposition:
            message = "; ".join(errors) or f"completed with disposition {disposition!r}"
        else:
            message = "; ".join(errors) or "completed without a disposition"
        return self.status_of(
            job_id, JobState.FAILED, "Completed", data, message=message, results=results, details=details
        )

    def _messages(self, job_id: str, data: dict[str, Any]) -> tuple[list[str], list[str]]:
        """The error and warning texts among ``messages``."""
        messages = optional_field(self.display_name, job_id, data, "messages", list) or []
        errors: list[str] = []
        warnings: list[str] = []
        for item in messages:
            if not isinstance(item, dict):
                raise MalformedResponseError(
                    self.display_name, job_id, "each entry of 'messages' should be an object"
                )
            code = field_of(self.display_name, job_id, item, "status", int) & ~_TRANSIENT_FLAG
            text = optional_field(self.display_name, job_id, item, "text", str) or ""
            if code == _ERROR:
                errors.append(text)
            elif code == _WARNING:
                warnings.append(text)
        return [t for t in errors if t], [t for t in warnings if t]

    def _outputs(self, job_id: str, data: dict[str, Any]) -> list[ResultFile]:
        outputs = optional_field(self.display_name, job_id, data, "outputs", list) or []
        results = []
        for item in outputs:
            if not isinstance(item, dict):
                raise MalformedResponseError(
                    self.display_name, job_id, "each entry of 'outputs' should be an object"
                )
            formats = optional_field(self.display_name, job_id, item, "availableFormats", list) or []
            if not all(isinstance(f, str) for f in formats):
                raise MalformedResponseError(
                    self.display_name, job_id, "field 'availableFormats' should be a list of strings"
                )
            results.append(
                ResultFile(
                    id=field_of(self.display_name, job_id, item, "id", str),
                    name=optional_field(self.display_name, job_id, item, "fileName", str),
                    formats=formats,
                )
            )
        return results

    def parse_start(self, resp: ApiResponse) -> str:
        """The ``JobView`` of the queued job."""
        self.start_refused(resp)
        return self.started_id(self.decode_object(None, resp), "id")

    def cancel_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest | None:
        """``DELETE /v3/jobs/{id}``: seen only in an unofficial client; a refusal is reported, not hidden."""
        return ApiRequest(
            "DELETE", f"/v3/jobs/{path_segment(self.display_name, job_id, job_id)}", headers=_JSON
        )

    def error_message(self, data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        return join_text(data.get("error"), data.get("error_description")) or join_text(data.get("message"))

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        """One request per output, each in the selector's format or the output's first format."""
        job_id = status.job_id
        require_succeeded(self.display_name, status)
        unknown = sorted(set(selector) - {"output", "format"})
        if unknown:
            raise ConfigurationError(
                self.display_name, job_id, f"unknown result selector {unknown}; use 'output' or 'format'"
            )
        outputs = self._pick(job_id, status.results, selector.get("output"))
        wanted = selector.get("format")
        plans = [(out, self._format(job_id, out, wanted)) for out in outputs]
        names = unique_names([_file_name(out, fmt) for out, fmt in plans])
        job = path_segment(self.display_name, job_id, job_id)
        return [
            ResultRequest(
                ApiRequest(
                    "GET",
                    f"/v1/jobs/{job}/output/{path_segment(self.display_name, job_id, out.id or '')}",
                    params={"format": fmt},
                ),
                name,
                out,
            )
            for (out, fmt), name in zip(plans, names, strict=True)
        ]

    def _pick(self, job_id: str, outputs: list[ResultFile], wanted: Any) -> list[ResultFile]:
        if wanted is None:
            return outputs
        picked = [o for o in outputs if o.id == wanted] or [o for o in outputs if o.name == wanted]
        if not picked:
            known = [o.id for o in outputs]
            raise ConfigurationError(
                self.display_name, job_id, f"no output {wanted!r}; the job has outputs {known}"
            )
        return picked[:1]

    def _format(self, job_id: str, output: ResultFile, wanted: Any) -> str:
        if wanted is None:
            if not output.formats:
                raise MalformedResponseError(
                    self.display_name, job_id, f"output {output.id!r} lists no availableFormats"
                )
            return output.formats[0]
        if wanted not in output.formats:
            raise ConfigurationError(
                self.display_name,
                job_id,
                f"output {output.id!r} is not available as {wanted!r}; availableFormats: {output.formats}",
            )
        return str(wanted)

    def workflow_jobs(self, workflow_id: str) -> OffsetListing:
        """The workflow's job listing, 100 jobs a page."""
        return OffsetListing(
            "workflow",
            workflow_id,
            WORKFLOW_JOBS_PAGE,
            lambda offset, limit: self.workflow_jobs_request(workflow_id, offset, limit),
            lambda resp: self.parse_workflow_jobs(workflow_id, resp),
        )

    def workflow_jobs_request(self, workflow_id: str, offset: int, limit: int) -> ApiRequest:
        """One page of a workflow's jobs. Only ``offset``/``limit`` are used: the values that
        ``sortField`` accepts are not documented, and the caller reads every page anyway."""
        segment = path_segment(self.display_name, workflow_id, workflow_id)
        params = {"offset": str(offset), "limit": str(limit)}
        return ApiRequest("GET", f"/v3/workflows/{segment}/jobs", params=params, headers=_JSON)

    def parse_workflow_jobs(self, workflow_id: str, resp: ApiResponse) -> list[BatchJob]:
        """A page of ``WorkflowJobView`` objects. A Completed job's state is ``unknown`` here: only
        its status answer (its disposition) says whether it succeeded."""
        self.check_http(workflow_id, resp)
        data = self.decode_json(workflow_id, resp)
        if not isinstance(data, list):
            raise MalformedResponseError(
                self.display_name, workflow_id, "the workflow's job listing should be a JSON array"
            )
        jobs = []
        for item in data:
            if not isinstance(item, dict):
                raise MalformedResponseError(
                    self.display_name, workflow_id, "each entry of the job listing should be an object"
                )
            raw = field_of(self.display_name, workflow_id, item, "status", str)
            jobs.append(
                BatchJob(
                    id=id_of(self.display_name, workflow_id, item),
                    status=raw,
                    state=_STATES.get(raw.lower(), JobState.UNKNOWN),
                    created=_moment(item.get("createDate")),
                )
            )
        return jobs


#: jobs per page of a workflow's job listing
WORKFLOW_JOBS_PAGE = 100


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 ``createDate`` (UTC when it names no zone), or None when there is none to read."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def listed_as_completed(job: BatchJob) -> bool:
    """A listed job that has run (its disposition, from its status, says how it went)."""
    return (job.status or "").lower() == "completed"


def _file_name(output: ResultFile, fmt: str) -> str:
    """The output's file name (Windows paths cut to the base name), with the format's extension
    when a converted format was asked for; ``Raw`` is the file as the workflow wrote it."""
    name = safe_file_name(output.name, safe_file_name(output.id, "output"))
    if fmt.lower() == "raw":
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and ext.lower() == fmt.lower():
        return name
    return f"{stem if dot else name}.{fmt.lower()}"


PRIORITIES = ("Default", "Low", "Medium", "High", "Critical")


def start_request(
    workflow_id: str,
    questions: Mapping[str, Any] | None = None,
    priority: str = "Default",
    worker_tag: str | None = None,
    credential_id: str | None = None,
) -> ApiRequest:
    """``POST /v3/workflows/{id}/jobs`` with an ``EnqueueJobContract``: analytic-app questions as
    ``[{name, value}]`` (values are text to Alteryx), a priority, optional worker tag and credential."""
    name = AlteryxApi.display_name
    if priority not in PRIORITIES:
        raise ConfigurationError(name, None, f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    answers = []
    for key, value in (questions or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigurationError(
                name, None, f"question {key!r}: the value should be text, got {type(value).__name__}"
            )
        answers.append({"name": str(key), "value": value})
    body: dict[str, Any] = {"questions": answers, "priority": priority}
    if worker_tag:
        body["workerTag"] = worker_tag
    if credential_id:
        body["credentialId"] = credential_id
    path = f"/v3/workflows/{path_segment(name, workflow_id, workflow_id)}/jobs"
    return ApiRequest("POST", path, json=body, headers=_JSON)


_JSON = {"Accept": "application/json"}

API = AlteryxApi()
