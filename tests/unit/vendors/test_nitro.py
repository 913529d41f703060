from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    JobStatusError,
    MalformedResponseError,
    ResultExpiredError,
    TransientVendorError,
)
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors import VENDORS, ApiResponse, Credentials, get_vendor
from airflow_provider_jobstatus.vendors.nitro import API

JOB = "01234567-89ab-cdef-0123-456789abcdef"
CREDS = Credentials(login="client-id-1", secret="s3cret-value")
Respond = Callable[..., ApiResponse]


def status_of(resp: ApiResponse, job_id: str = JOB) -> JobStatus:
    return API.parse_status(job_id, resp, {})


def completed(result: Any) -> dict[str, Any]:
    return {"jobID": JOB, "status": "completed", "result": result}


def file_info(url: str | None, size: int | None = 10) -> dict[str, Any]:
    return {"URL": url, "contentType": "application/pdf", "metadata": {"fileSizeBytes": size, "pageCount": 1}}


def test_registered() -> None:
    assert VENDORS["nitro"] is API
    assert get_vendor("nitro") is API
    assert (API.display_name, API.default_base_url) == ("Nitro PDF Services", "https://api.gonitro.dev")
    assert API.needs_login and API.uses_token and not API.has_batches


# -- token --------------------------------------------------------------------------------------


def test_token_request_is_json_with_nitro_key_names() -> None:
    req = API.token_request(CREDS)
    assert (req.method, req.url) == ("POST", "/oauth/token")
    assert req.json == {"clientID": "client-id-1", "clientSecret": "s3cret-value"}
    assert req.form is None and req.basic_auth is None
    assert req.authenticated is False


def test_token_request_without_login() -> None:
    with pytest.raises(ConfigurationError, match="login"):
        API.token_request(Credentials(login=None, secret="x"))


@pytest.mark.parametrize("name", ["nitro_token_camel.json", "nitro_token_snake.json"])
def test_parse_token_both_spellings(
    name: str, load_fixture: Callable[[str], bytes], response: Respond
) -> None:
    grant = API.parse_token(response(200, load_fixture(name)))
    assert grant.access_token.startswith("eyJhbGciOiJIUzI1NiJ9.")
    assert grant.expires_in == 86400.0
    assert grant.access_token not in repr(grant)


def test_parse_token_without_expiry(response: Respond) -> None:
    assert API.parse_token(response(200, {"accessToken": "t"})).expires_in is None


@pytest.mark.parametrize("status", [400, 401, 403])
def test_parse_token_refused_is_authentication_error(status: int, response: Respond) -> None:
    body = {"error": "invalid_client", "error_description": "Client authentication failed"}
    with pytest.raises(AuthenticationError) as info:
        API.parse_token(response(status, body))
    assert "Nitro PDF Services" in str(info.value)
    assert "invalid_client: Client authentication failed" in str(info.value)


def test_parse_token_server_error_is_transient(response: Respond) -> None:
    with pytest.raises(TransientVendorError):
        API.parse_token(response(500, {"error": "server_error"}))


@pytest.mark.parametrize(
    "body",
    [
        {"tokenType": "Bearer"},
        {"accessToken": ""},
        {"accessToken": 5},
        {"accessToken": "t", "expiresIn": "x"},
    ],
)
def test_parse_token_malformed(body: dict[str, Any], response: Respond) -> None:
    with pytest.raises(MalformedResponseError, match="Nitro PDF Services"):
        API.parse_token(response(200, body))


def test_auth_headers() -> None:
    assert API.auth_headers(CREDS, "tok") == {"Authorization": "Bearer tok"}


# -- status request -----------------------------------------------------------------------------


def test_status_request() -> None:
    req = API.status_request(JOB, {})
    assert (req.method, req.url, req.params, req.json) == ("GET", f"/jobs/{JOB}/status", None, None)
    assert req.headers == {"Accept": "application/json"}
    assert req.authenticated is True


@pytest.mark.parametrize(
    ("job_id", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("../admin", "..%2Fadmin"),
        ("a?b#c", "a%3Fb%23c"),
        ("a b", "a%20b"),
        ("jöb", "j%C3%B6b"),
        ("%2e%2e", "%252e%252e"),
    ],
)
def test_status_request_encodes_ids(job_id: str, segment: str) -> None:
    assert API.status_request(job_id, {}).url == f"/jobs/{segment}/status"


@pytest.mark.parametrize("job_id", ["", " ", ".", ".."])
def test_status_request_rejects_unusable_ids(job_id: str) -> None:
    with pytest.raises(ConfigurationError):
        API.status_request(job_id, {})


# -- status parsing: every documented status ----------------------------------------------------


def test_running_keeps_progress(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    status = status_of(response(200, load_fixture("nitro_status_running.json")))
    assert (status.state, status.raw_status, status.progress) == (JobState.RUNNING, "running", 0.42)
    assert status.vendor == "nitro" and status.job_id == JOB
    assert status.raw == json.loads(load_fixture("nitro_status_running.json"))


def test_running_without_progress(response: Respond) -> None:
    status = status_of(response(200, {"jobID": JOB, "status": "running"}))
    assert status.state is JobState.RUNNING and status.progress is None


def test_completed_single_file(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    status = status_of(response(200, load_fixture("nitro_status_completed.json")))
    assert status.state is JobState.SUCCEEDED
    assert status.results == [
        ResultFile(
            url="https://files.gonitro.example/out/result.pdf?X-Amz-Signature=abc123secret",
            name="result.pdf",
            content_type="application/pdf",
            size=123,
        )
    ]
    assert status.details["result_kind"] == "file"
    assert "abc123secret" not in json.dumps(status.to_event())


def test_completed_doc_example_with_placeholder_url(
    load_fixture: Callable[[str], bytes], response: Respond
) -> None:
    status = status_of(response(200, load_fixture("nitro_job_result.json")))
    assert status.state is JobState.SUCCEEDED
    assert status.results[0].name == "result"
    assert (status.results[0].content_type, status.results[0].size) == ("application/json", 123)


def test_completed_several_files_get_distinct_names(response: Respond) -> None:
    files = [
        file_info("https://s3.example/a/page.png?sig=1"),
        file_info("https://s3.example/b/page.png?sig=2"),
        file_info(None, size=None),
    ]
    status = status_of(response(200, completed({"files": files})))
    assert [r.name for r in status.results] == ["page.png", "page-2.png", "result"]
    assert status.results[2].url is None and status.results[2].size is None
    assert status.details["result_kind"] == "files"


@pytest.mark.parametrize("result", ["plain text output", {"tables": [{"rows": []}]}, {"fields": [], "x": 1}])
def test_completed_non_file_result_is_result_json(result: Any, response: Respond) -> None:
    status = status_of(response(200, completed(result)))
    assert status.state is JobState.SUCCEEDED
    assert status.results == [ResultFile(name="result.json", content_type="application/json")]
    assert status.details["result_kind"] == "data"


def test_failed(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    status = status_of(response(200, load_fixture("nitro_status_failed.json")))
    assert (status.state, status.raw_status) == (JobState.FAILED, "failed")
    assert status.message == "PDF is password protected"
    assert status.details == {"error_type": "PDFIsPasswordProtected"}


def test_failed_without_error_object(response: Respond) -> None:
    status = status_of(response(200, {"jobID": JOB, "status": "failed"}))
    assert status.state is JobState.FAILED and status.message


def test_canceled(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    status = status_of(response(200, load_fixture("nitro_status_canceled.json")))
    assert (status.state, status.raw_status) == (JobState.CANCELED, "canceled")


def test_410_is_failed_expired(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    status = status_of(response(410, load_fixture("nitro_error_410.json")))
    assert (status.state, status.raw_status) == (JobState.FAILED, "expired")
    assert "expired" in (status.message or "")
    assert "The file is no longer available" in (status.message or "")
    assert status.details["error_type"] == "FileNoLongerAvailable"


def test_410_with_html_body_is_still_expired(response: Respond) -> None:
    status = status_of(response(410, b"<html>Gone</html>"))
    assert (status.state, status.raw_status) == (JobState.FAILED, "expired")


def test_404_names_the_vendor_text(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    with pytest.raises(JobNotFoundError) as info:
        status_of(response(404, load_fixture("nitro_error_404.json")))
    assert "Not Found: Resource not found" in str(info.value)
    assert JOB in str(info.value)


@pytest.mark.parametrize("raw", ["queued", "Completed", "succeeded", "paused"])
def test_unknown_status_is_never_success(raw: str, response: Respond) -> None:
    status = status_of(
        response(200, {"jobID": JOB, "status": raw, "result": {"file": file_info("https://x/y")}})
    )
    assert (status.state, status.raw_status) == (JobState.UNKNOWN, raw)
    assert status.results == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jobID": JOB}, "status"),
        ({"jobID": JOB, "status": 3}, "status"),
        ({"jobID": JOB, "status": None}, "status"),
        ({"jobID": JOB, "status": "running", "progress": "42%"}, "progress"),
        ({"jobID": JOB, "status": "running", "progress": True}, "progress"),
        ({"jobID": JOB, "status": "failed", "error": "boom"}, "error"),
        (completed({"file": "https://x/y"}), "file"),
        (completed({"files": {"a": 1}}), "files"),
        (completed({"files": ["https://x/y"]}), "files"),
        (completed({"file": {"URL": 5}}), "URL"),
        (completed({"file": {"URL": "https://x/y", "metadata": {"fileSizeBytes": "12"}}}), "fileSizeBytes"),
    ],
)
def test_malformed_fields_are_named(body: dict[str, Any], field: str, response: Respond) -> None:
    with pytest.raises(MalformedResponseError) as info:
        status_of(response(200, body), "job-9")
    assert field in str(info.value)
    assert "Nitro PDF Services" in str(info.value) and "job-9" in str(info.value)


def test_bad_answers(bad_answer: Any) -> None:
    with pytest.raises(bad_answer.error) as info:
        status_of(bad_answer.resp, "job/odd id")
    text = str(info.value)
    assert "Nitro PDF Services" in text and "job/odd id" in text
    if bad_answer.resp.status_code == 429:
        assert info.value.retry_after == 7.0


# -- results ------------------------------------------------------------------------------------


def test_single_file_is_fetched_from_the_api_as_octet_stream(
    load_fixture: Callable[[str], bytes], response: Respond
) -> None:
    status = status_of(response(200, load_fixture("nitro_status_completed.json")), "a/b")
    [req] = API.result_requests(status, {}, {})
    assert (req.request.method, req.request.url) == ("GET", "/jobs/a%2Fb")
    assert req.request.headers == {"Accept": "application/octet-stream"}
    assert req.request.authenticated is True
    assert req.name == "result.pdf" and req.result == status.results[0]


def test_several_files_use_their_urls_without_credentials(response: Respond) -> None:
    files = [
        file_info("https://s3.example/a.pdf?sig=1"),
        file_info(None),
        file_info("https://s3.example/b.pdf"),
    ]
    status = status_of(response(200, completed({"files": files})))
    reqs = API.result_requests(status, {}, {})
    assert [(r.request.url, r.request.authenticated, r.name) for r in reqs] == [
        ("https://s3.example/a.pdf?sig=1", False, "a.pdf"),
        ("https://s3.example/b.pdf", False, "b.pdf"),
    ]


def test_selector_picks_one_file(response: Respond) -> None:
    files = [file_info("https://s3.example/a.pdf"), file_info("https://s3.example/b.pdf")]
    status = status_of(response(200, completed({"files": files})))
    assert [r.name for r in API.result_requests(status, {"index": 1}, {})] == ["b.pdf"]
    assert [r.name for r in API.result_requests(status, {"name": "a.pdf"}, {})] == ["a.pdf"]
    for bad in ({"index": 2}, {"index": -1}, {"index": True}, {"name": "c.pdf"}, {"output": "x"}):
        with pytest.raises(ConfigurationError):
            API.result_requests(status, bad, {})


def test_files_all_delivered_elsewhere(response: Respond) -> None:
    status = status_of(response(200, completed({"files": [file_info(None), file_info(None)]})))
    with pytest.raises(JobStatusError, match="upload target"):
        API.result_requests(status, {}, {})
    single = status_of(response(200, completed({"file": file_info(None)})))
    with pytest.raises(JobStatusError, match="upload target"):
        API.result_requests(single, {}, {})


def test_non_file_result_is_fetched_as_json(response: Respond) -> None:
    status = status_of(response(200, completed({"tables": []})))
    [req] = API.result_requests(status, {}, {})
    assert (req.request.url, req.request.headers, req.name) == (
        f"/jobs/{JOB}",
        {"Accept": "application/json"},
        "result.json",
    )
    assert req.request.authenticated is True


def test_result_url_must_be_http(response: Respond) -> None:
    files = [file_info("file:///etc/passwd"), file_info("https://s3.example/b.pdf")]
    status = status_of(response(200, completed({"files": files})))
    with pytest.raises(MalformedResponseError, match="http"):
        API.result_requests(status, {}, {})


def test_results_of_unfinished_or_expired_jobs(
    load_fixture: Callable[[str], bytes], response: Respond
) -> None:
    running = status_of(response(200, load_fixture("nitro_status_running.json")))
    with pytest.raises(JobStatusError, match="running"):
        API.result_requests(running, {}, {})
    expired = status_of(response(410, load_fixture("nitro_error_410.json")))
    with pytest.raises(ResultExpiredError):
        API.result_requests(expired, {}, {})


def test_results_never_expire_by_clock(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    status = status_of(response(200, load_fixture("nitro_status_completed.json")))
    assert API.results_expired(status, datetime(2100, 1, 1, tzinfo=timezone.utc)) is False


def test_results_from_an_event_round_trip(load_fixture: Callable[[str], bytes], response: Respond) -> None:
    status = status_of(response(200, load_fixture("nitro_status_completed.json")))
    again = JobStatus.from_event(status.to_event())
    [req] = API.result_requests(again, {}, {})
    assert req.request.url == f"/jobs/{JOB}"
