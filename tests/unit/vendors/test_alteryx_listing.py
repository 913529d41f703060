"""The Alteryx workflow job listing (``GET /v3/workflows/{id}/jobs``), sans-IO."""

from __future__ import annotations

import pytest

from airflow_provider_jobstatus.errors import AuthenticationError, ConfigurationError, MalformedResponseError
from airflow_provider_jobstatus.status import JobState
from airflow_provider_jobstatus.vendors.alteryx import API, listed_as_completed
from tests.unit.vendors.conftest import make_response

WORKFLOW = "5f1e3c0a9b8d7e6f5a4b3c2d"


def view(job_id: str, status: str) -> dict[str, object]:
    return {"id": job_id, "createDate": "2024-09-19T10:02:54.589Z", "status": status, "priority": "Default"}


def test_the_request_pages_by_offset_and_limit() -> None:
    req = API.workflow_jobs_request(WORKFLOW, 200, 100)
    assert (req.method, req.url, dict(req.params or {})) == (
        "GET",
        f"/v3/workflows/{WORKFLOW}/jobs",
        {"offset": "200", "limit": "100"},
    )


def test_a_workflow_id_cannot_reach_another_path() -> None:
    assert API.workflow_jobs_request("../jobs?x", 0, 100).url == "/v3/workflows/..%2Fjobs%3Fx/jobs"
    with pytest.raises(ConfigurationError, match="Alteryx Server"):
        API.workflow_jobs_request("..", 0, 100)


def test_listed_states_and_completed_without_a_disposition() -> None:
    body = [view("a", "Queued"), view("b", "Running"), view("c", "Completed"), view("d", "Cancelled")]
    jobs = API.parse_workflow_jobs(WORKFLOW, make_response(200, body))
    assert [(j.id, j.state) for j in jobs] == [
        ("a", JobState.QUEUED),
        ("b", JobState.RUNNING),
        ("c", JobState.UNKNOWN),  # success or error: only the job's own status says
        ("d", JobState.CANCELED),
    ]
    assert [listed_as_completed(j) for j in jobs] == [False, False, True, False]


@pytest.mark.parametrize(
    "body", [{"jobs": []}, [1], [{"status": "Completed"}], [{"id": "a", "status": 3}], "<html>"]
)
def test_malformed_listings_are_errors(body: object) -> None:
    with pytest.raises(MalformedResponseError, match="Alteryx Server"):
        API.parse_workflow_jobs(WORKFLOW, make_response(200, body))


def test_refused_token_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError):
        API.parse_workflow_jobs(WORKFLOW, make_response(401, {"message": "Authorization has been denied"}))
