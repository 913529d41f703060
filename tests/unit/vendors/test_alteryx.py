from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobStatusError,
    MalformedResponseError,
)
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors import VENDORS, ApiResponse, Credentials, get_vendor
from airflow_provider_jobstatus.vendors.alteryx import API

JOB = "66ebd18d3d6200007e000d8c"
Respond = Callable[..., ApiResponse]
Fixture = Callable[[str], bytes]

FORMULA_ERROR = 'Formula (3): Parse Error at char(0): Unknown variable "Amount"'


def job(
    status: str = "Completed", disposition: Any = "Success", messages: Any = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"id": JOB, "status": status, "messages": messages or [], "outputs": [], **extra}
    if disposition is not None:
        body["disposition"] = disposition
    return body


def msg(code: int, text: str) -> dict[str, Any]:
    return {"status": code, "text": text, "toolId": 1}


def status_of(resp: ApiResponse, job_id: str = JOB, **options: Any) -> JobStatus:
    return API.parse_status(job_id, resp, options)


def test_registered() -> None:
    assert VENDORS["alteryx"] is API and get_vendor("alteryx") is API
    assert (API.display_name, API.default_base_url) == ("Alteryx Server", None)
    assert API.needs_login and API.uses_token and not API.has_batches


# -- token --------------------------------------------------------------------------------------


def test_token_request_is_client_credentials_with_basic_auth() -> None:
    req = API.token_request(Credentials(login="key-1", secret="secret-1"))
    assert (req.method, req.url) == ("POST", "/oauth2/token")
    assert req.form == {"grant_type": "client_credentials"}
    assert req.basic_auth == ("key-1", "secret-1")
    assert req.json is None and req.authenticated is False


def test_token_request_needs_login() -> None:
    with pytest.raises(ConfigurationError, match="login"):
        API.token_request(Credentials(login="", secret="s"))


def test_parse_token(load_fixture: Fixture, response: Respond) -> None:
    grant = API.parse_token(response(200, load_fixture("alteryx_token.json")))
    assert (grant.access_token, grant.expires_in) == ("alteryx-access-token-value", 3600.0)


@pytest.mark.parametrize("code", [400, 401])
def test_parse_token_refused(code: int, response: Respond) -> None:
    with pytest.raises(AuthenticationError, match="invalid_client"):
        API.parse_token(response(code, {"error": "invalid_client"}))


def test_parse_token_malformed(response: Respond) -> None:
    with pytest.raises(MalformedResponseError, match="access_token"):
        API.parse_token(response(200, {"token_type": "bearer"}))


def test_auth_headers() -> None:
    assert API.auth_headers(Credentials(login="k", secret="s"), "tok") == {"Authorization": "Bearer tok"}
    with pytest.raises(ConfigurationError):
        API.auth_headers(Credentials(login="k", secret="s"), None)


# -- request ------------------------------------------------------------------------------------


def test_status_request() -> None:
    req = API.status_request(JOB, {})
    assert (req.method, req.url) == ("GET", f"/v3/jobs/{JOB}")
    assert req.params == {"includeMessages": "true"}
    assert req.headers == {"Accept": "application/json"} and req.authenticated


@pytest.mark.parametrize(
    ("job_id", "segment"),
    [
        ("a/../b", "a%2F..%2Fb"),
        ("x?y#z", "x%3Fy%23z"),
        ("sp ace", "sp%20ace"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
    ],
)
def test_status_request_encodes_ids(job_id: str, segment: str) -> None:
    assert API.status_request(job_id, {}).url == f"/v3/jobs/{segment}"


# -- every status -------------------------------------------------------------------------------


def test_completed_success_fixture(load_fixture: Fixture, response: Respond) -> None:
    body = load_fixture("alteryx_job.json")
    status = status_of(response(200, body))
    assert (status.state, status.raw_status) == (JobState.SUCCEEDED, "Completed")
    assert status.results == [ResultFile(id="O1", name="output.csv", formats=["Raw", "Csv"])]
    assert status.details == {"disposition": "Success"}
    assert status.raw == json.loads(body) and status.vendor == "alteryx"


def test_completed_error_fixture(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("alteryx_job_error.json")))
    assert (status.state, status.message) == (JobState.FAILED, FORMULA_ERROR)
    assert status.details["disposition"] == "Error"


def test_doc_example_placeholder_status_is_unknown(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("alteryx_job_doc_example.json")))
    assert (status.state, status.raw_status) == (JobState.UNKNOWN, "string")


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("Created", JobState.QUEUED),
        ("Queued", JobState.QUEUED),
        ("Running", JobState.RUNNING),
        ("Cancelled", JobState.CANCELED),
        ("Paused", JobState.UNKNOWN),
        ("Success", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
    ],
)
def test_status_values(raw: str, state: JobState, response: Respond) -> None:
    status = status_of(response(200, job(raw, disposition="Success")))
    assert (status.state, status.raw_status) == (state, raw)


def test_warning_succeeds_unless_strict(response: Respond) -> None:
    body = job(disposition="Warning", messages=[msg(2, "Output (4): 3 records truncated"), msg(1, "info")])
    status = status_of(response(200, body))
    assert status.state is JobState.SUCCEEDED
    assert status.details["warnings"] == ["Output (4): 3 records truncated"]
    for strict in (True, "true"):
        failed = status_of(response(200, body), fail_on_warning=strict)
        assert failed.state is JobState.FAILED
        assert "warning" in (failed.message or "") and "3 records truncated" in (failed.message or "")
    assert status_of(response(200, body), fail_on_warning=False).state is JobState.SUCCEEDED


@pytest.mark.parametrize("disposition", ["Error", "Cancelled", "Partial", "", None])
def test_any_other_disposition_fails(disposition: Any, response: Respond) -> None:
    status = status_of(response(200, job(disposition=disposition)))
    assert status.state is JobState.FAILED
    assert status.message  # says which disposition, or that there was none


def test_failure_message_joins_error_texts(response: Respond) -> None:
    messages = [msg(3, "Tool 1 failed"), msg(0x40000003, "Tool 2 failed"), msg(2, "a warning"), msg(3, "")]
    status = status_of(response(200, job(disposition="Error", messages=messages)))
    assert status.message == "Tool 1 failed; Tool 2 failed"


def test_success_with_error_messages_is_still_success(response: Respond) -> None:
    status = status_of(response(200, job(disposition="Success", messages=[msg(3, "recoverable")])))
    assert status.state is JobState.SUCCEEDED
    assert status.details["errors"] == ["recoverable"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": JOB}, "status"),
        ({"id": JOB, "status": ["Completed"]}, "status"),
        (job(disposition=7), "disposition"),
        (job(messages="oops"), "messages"),
        (job(messages=[{"status": "3", "text": "x"}]), "status"),
        (job(messages=[{"status": 3, "text": 4}]), "text"),
        (job(outputs={"id": "O1"}), "outputs"),
        (job(outputs=[{"fileName": "a.csv"}]), "id"),
        (job(outputs=[{"id": "O1", "availableFormats": "Csv"}]), "availableFormats"),
        (job(outputs=[{"id": "O1", "availableFormats": [1]}]), "availableFormats"),
    ],
)
def test_malformed_fields_are_named(body: dict[str, Any], field: str, response: Respond) -> None:
    with pytest.raises(MalformedResponseError) as info:
        status_of(response(200, body), "job-5")
    assert field in str(info.value) and "Alteryx Server" in str(info.value) and "job-5" in str(info.value)


def test_bad_answers(bad_answer: Any) -> None:
    with pytest.raises(bad_answer.error) as info:
        status_of(bad_answer.resp, "job/odd id")
    assert "Alteryx Server" in str(info.value) and "job/odd id" in str(info.value)


def test_http_error_message_is_shown(response: Respond) -> None:
    with pytest.raises(JobStatusError, match="Job not found"):
        status_of(response(404, {"message": "Job not found"}))


# -- results ------------------------------------------------------------------------------------


def succeeded(outputs: list[dict[str, Any]], job_id: str = JOB) -> JobStatus:
    return API.parse_status(job_id, ApiResponse(200, {}, json.dumps(job(outputs=outputs)).encode()), {})


OUTPUTS = [
    {"id": "O1", "availableFormats": ["Raw", "Csv"], "fileName": "output.csv"},
    {"id": "O2", "availableFormats": ["Yxdb"], "fileName": "C:\\ProgramData\\Alteryx\\out\\totals.yxdb"},
]


def test_result_requests_default_first_format(response: Respond) -> None:
    reqs = API.result_requests(succeeded(OUTPUTS, "a/b"), {}, {})
    assert [(r.request.method, r.request.url, r.request.params, r.name) for r in reqs] == [
        ("GET", "/v1/jobs/a%2Fb/output/O1", {"format": "Raw"}, "output.csv"),
        ("GET", "/v1/jobs/a%2Fb/output/O2", {"format": "Yxdb"}, "totals.yxdb"),
    ]
    assert all(r.request.authenticated for r in reqs)
    assert reqs[0].result.id == "O1"


def test_result_requests_selector(response: Respond) -> None:
    status = succeeded(OUTPUTS)
    [by_id] = API.result_requests(status, {"output": "O1", "format": "Csv"}, {})
    assert (by_id.request.params, by_id.name) == ({"format": "Csv"}, "output.csv")
    [by_name] = API.result_requests(status, {"output": "output.csv"}, {})
    assert by_name.request.url.endswith("/output/O1")
    with pytest.raises(ConfigurationError, match=r"\['Raw', 'Csv'\]"):
        API.result_requests(status, {"output": "O1", "format": "Pdf"}, {})
    with pytest.raises(ConfigurationError, match="Yxdb"):
        API.result_requests(status, {"format": "Csv"}, {})  # O2 has no Csv
    with pytest.raises(ConfigurationError, match="O3"):
        API.result_requests(status, {"output": "O3"}, {})
    with pytest.raises(ConfigurationError, match="index"):
        API.result_requests(status, {"index": 0}, {})


def test_result_name_follows_a_converted_format() -> None:
    outputs = [{"id": "O/1", "availableFormats": ["Raw", "Xlsx"], "fileName": "report.csv"}]
    [req] = API.result_requests(succeeded(outputs), {"format": "Xlsx"}, {})
    assert (req.request.url, req.name) == (f"/v1/jobs/{JOB}/output/O%2F1", "report.xlsx")


def test_output_without_formats_or_name() -> None:
    [req] = API.result_requests(succeeded([{"id": "O1", "availableFormats": ["Csv"]}]), {}, {})
    assert req.name == "O1.csv"
    with pytest.raises(MalformedResponseError, match="availableFormats"):
        API.result_requests(succeeded([{"id": "O1", "availableFormats": []}]), {}, {})


def test_no_results_unless_succeeded(load_fixture: Fixture, response: Respond) -> None:
    failed = status_of(response(200, load_fixture("alteryx_job_error.json")))
    with pytest.raises(JobStatusError, match="failed"):
        API.result_requests(failed, {}, {})
    with pytest.raises(JobStatusError, match="no result"):
        API.result_requests(succeeded([]), {}, {})
