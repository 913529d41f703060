"""Fault injection: shares, determinism, and what each kind of fault looks like to a client."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.simulator.simkit import Calls

DOCUMENTED = {"working", "success", "failed", "aborted", "unknown"}


def _codes(calls: Calls, job: str, n: int) -> list[int]:
    return [calls.status_response("pdfco", job).status_code for _ in range(n)]


def test_faults_hit_at_roughly_the_configured_shares(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("pdfco", polls=10_000)["job_id"]
    resp = http.post(
        sim.url + "/_sim/faults", json={"vendor": "pdfco", "seed": 1, "error_5xx": 0.2, "rate_429": 0.1}
    )
    assert resp.status_code == 200 and resp.json()["vendors"] == ["pdfco"]
    counts = Counter(_codes(calls, job, 600))
    assert 80 <= counts[500] + counts[503] <= 160  # expected 120
    assert counts[500] > 0 and counts[503] > 0
    assert 35 <= counts[429] <= 85  # expected 60
    assert counts[200] == 600 - counts[500] - counts[503] - counts[429]
    log = sim.requests()["log"]
    assert Counter(e["fault"] for e in log if e["fault"]) == {
        "error_5xx": counts[500] + counts[503],
        "rate_429": counts[429],
    }


def test_faults_are_deterministic_for_a_seed(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("pdfco", polls=10_000)["job_id"]
    runs = []
    for seed in (5, 5, 6):
        sim.set_faults("pdfco", seed=seed, error_5xx=0.3, html_error=0.1)
        runs.append(_codes(calls, job, 60))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    sim.clear_faults()
    assert set(_codes(calls, job, 20)) == {200}


def test_429_carries_retry_after_and_the_vendor_error_body(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("apidatatools")["job_id"]
    sim.set_faults("apidatatools", rate_429=1.0, retry_after=7)
    resp = calls.status_response("apidatatools", job)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "7"
    assert resp.json()["error"] == "RATE_LIMITED"


def test_reset_is_a_connection_error(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("nitro")["job_id"]
    calls.token("nitro")
    sim.set_faults("nitro", reset=1.0, paths=["status"])
    with pytest.raises(httpx.TransportError):
        calls.status_response("nitro", job)
    assert sim.requests()["log"][-1]["fault"] == "reset"
    sim.clear_faults("nitro")
    assert calls.status_response("nitro", job).status_code == 200


def test_truncate_cuts_downloads_after_the_full_content_length(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("pdfco", result_bytes=300_000)["job_id"]
    url = calls.status("pdfco", job)["url"]
    sim.set_faults("pdfco", truncate=1.0)
    assert calls.status_response("pdfco", job).status_code == 200  # not a download: untouched
    with pytest.raises(httpx.RemoteProtocolError, match="300000"):
        http.get(url)
    alteryx = sim.create_job("alteryx", result_bytes=300_000)["job_id"]
    sim.set_faults("alteryx", truncate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(
            f"{sim.base_url('alteryx')}/v1/jobs/{alteryx}/output/O1",
            params={"format": "Csv"},
            headers=calls.headers("alteryx"),
        )


def test_malformed_json_html_error_and_unknown_status(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("pdfco", polls=1)["job_id"]
    sim.set_faults("pdfco", malformed_json=1.0)
    resp = calls.status_response("pdfco", job)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)
    sim.set_faults("pdfco", html_error=1.0)
    resp = calls.status_response("pdfco", job)
    assert resp.status_code == 502 and resp.headers["content-type"] == "text/html" and "<html>" in resp.text
    sim.set_faults("pdfco", unknown_status=1.0)
    body = calls.status("pdfco", job)
    assert body["status"] not in DOCUMENTED
    sim.clear_faults()
    # none of the faulted answers counted as one of the job's polls
    assert [calls.status("pdfco", job)["status"] for _ in range(2)] == ["working", "success"]


def test_slow_answers_late(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("playment")["job_id"]
    sim.set_faults("playment", slow=1.0, slow_seconds=0.3)
    started = time.monotonic()
    assert calls.status("playment", job)["data"]["status"] == "completed"
    assert time.monotonic() - started >= 0.3


def test_star_applies_to_every_vendor_paths_filter_and_delete(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    jobs = {v: sim.create_job(v)["job_id"] for v in ("nitro", "pdfco", "alteryx", "apidatatools", "playment")}
    calls.token("nitro")
    calls.token("alteryx")
    http.post(
        sim.url + "/_sim/faults",
        json={"vendor": "*", "error_5xx": 1.0, "paths": ["status", "pdfco.status"]},
    )
    assert {v: calls.status_response(v, j).status_code >= 500 for v, j in jobs.items()} == {
        "nitro": True,
        "pdfco": True,
        "alteryx": True,
        "apidatatools": True,
        "playment": True,
    }
    assert calls.nitro_token_response().status_code == 200  # "token" is not in paths
    assert http.delete(sim.url + "/_sim/faults").json() == {"faults": {}}
    assert all(calls.status_response(v, j).status_code == 200 for v, j in jobs.items())
    # the control API never gets faults
    sim.set_faults("*", error_5xx=1.0)
    assert http.get(sim.url + "/_sim/requests", params={"log": "0"}).status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"vendor": "pdfco", "error_5xx": 1.5},
        {"vendor": "pdfco", "error_5xx": 0.6, "reset": 0.6},
        {"vendor": "pdfco", "explode": 0.1},
        {"vendor": "acme", "reset": 0.1},
        {"reset": 0.1},
    ],
)
def test_bad_fault_specs_are_refused(spec: dict[str, object], sim: Simulator, http: httpx.Client) -> None:
    resp = http.post(sim.url + "/_sim/faults", json=spec)
    assert resp.status_code == 400 and resp.json()["error"]


def test_request_log_counts_and_clear(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    job = sim.create_job("alteryx")["job_id"]
    calls.token("alteryx", fresh=True)
    calls.status("alteryx", job)
    calls.status("alteryx", job)
    snapshot = http.get(sim.url + "/_sim/requests").json()
    assert snapshot["counts"] == {"alteryx.token": 1, "alteryx.status": 2}
    entry = snapshot["log"][-1]
    assert entry["origin"] == "api" and entry["vendor"] == "alteryx" and entry["route"] == "status"
    assert (
        entry["method"] == "GET"
        and entry["path"] == f"/alteryx/webapi/v3/jobs/{job}"
        and entry["status"] == 200
    )
    assert entry["auth_headers"] == ["authorization"] and isinstance(entry["t"], float)
    assert http.delete(sim.url + "/_sim/requests").status_code == 200
    assert sim.requests()["counts"] == {}
