"""The simulator's request-rate limit: a sliding one-second window per vendor and API key."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.simulator.simkit import Calls


def test_requests_over_the_limit_are_answered_429_per_key(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("pdfco", polls=10_000)["job_id"]
    resp = http.post(
        sim.url + "/_sim/rate_limits", json={"vendor": "pdfco", "per_second": 3, "retry_after": 2}
    )
    assert resp.json()["limits"] == {"pdfco": {"per_second": 3, "retry_after": 2}}
    answers = [calls.status_response("pdfco", job) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].headers["retry-after"] == "2"
    other_key = {**calls.headers("pdfco"), "x-api-key": "another-key"}
    assert calls.status_response("pdfco", job, headers=other_key).status_code != 429  # its own window
    log = sim.requests()["log"]
    assert [e["fault"] for e in log if e["route"] == "status"][:5] == [
        None,
        None,
        None,
        "rate_limit",
        "rate_limit",
    ]
    assert http.get(sim.url + "/_sim/rate_limits").json()["refused"] == 2


def test_other_vendors_and_a_cleared_limit_are_not_limited(calls: Calls, sim: Simulator) -> None:
    sim.set_rate_limit("pdfco", 1)
    nitro = sim.create_job("nitro", polls=10_000)["job_id"]
    assert {calls.status_response("nitro", nitro).status_code for _ in range(4)} == {200}
    pdf = sim.create_job("pdfco", polls=10_000)["job_id"]
    sim.clear_rate_limits()
    assert {calls.status_response("pdfco", pdf).status_code for _ in range(4)} == {200}


@pytest.mark.parametrize("bad", [{"per_second": 0}, {"per_second": "20"}, {"per_second": 5, "burst": 1}])
def test_a_bad_limit_is_refused(sim: Simulator, http: httpx.Client, bad: dict[str, object]) -> None:
    resp = http.post(sim.url + "/_sim/rate_limits", json={"vendor": "pdfco", **bad})
    assert resp.status_code == 400
