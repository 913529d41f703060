"""Playment batches: 100-job pages linked by an opaque next_page_token."""

from __future__ import annotations

import httpx

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.simulator.simkit import PROJECT, Calls


def test_batch_of_1050_jobs_is_11_pages(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    created = http.post(sim.url + "/_sim/batches", json={"jobs": 1050}).json()
    batch_id, job_ids = created["batch_id"], created["job_ids"]
    assert len(job_ids) == len(set(job_ids)) == 1050
    url = f"{sim.base_url('playment')}/v1/projects/{PROJECT}/batch/{batch_id}"
    pages, seen_tokens, listed = [], set(), []
    token = ""
    while True:
        resp = http.get(url, params={"page_token": token}, headers=calls.headers("playment"))
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["id"] == batch_id and data["project_id"] == PROJECT
        pages.append(data)
        listed += [job["id"] for job in data["jobs"]]
        if "next_page_token" not in data:
            break
        token = data["next_page_token"]
        assert token.isdigit() and len(token) >= 19 and token not in seen_tokens
        seen_tokens.add(token)
    assert len(pages) == 11
    assert [len(p["jobs"]) for p in pages] == [100] * 10 + [50]
    assert listed == job_ids
    assert {job["status"] for p in pages for job in p["jobs"]} == {"completed"}
    # a batch job is reachable by the single-job endpoint too
    single = calls.status("playment", job_ids[1049])["data"]
    assert single["batch_id"] == batch_id and single["status"] == "completed"


def test_bad_page_token_and_unknown_batch(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    batch = sim.create_batch(5, page_size=2)
    url = f"{sim.base_url('playment')}/v1/projects/{PROJECT}/batch/{batch['batch_id']}"
    first = http.get(url, headers=calls.headers("playment")).json()["data"]
    assert len(first["jobs"]) == 2
    for token in (
        "bogus",
        "1",
        str(int(first["next_page_token"]) + 7),
        str(int(first["next_page_token"]) + 9000),
    ):
        bad = http.get(url, params={"page_token": token}, headers=calls.headers("playment"))
        assert bad.status_code == 400
        assert bad.json() == {
            "error": {"code": "invalid_request_error", "message": "Invalid pageToken provided"},
            "success": False,
        }
    unknown = http.get(url.replace(batch["batch_id"], "nope"), headers=calls.headers("playment"))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "GE_0001"


def test_batch_jobs_progress_with_single_job_polls(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    batch = sim.create_batch(3, polls=1)
    url = f"{sim.base_url('playment')}/v1/projects/{PROJECT}/batch/{batch['batch_id']}"
    statuses = [j["status"] for j in http.get(url, headers=calls.headers("playment")).json()["data"]["jobs"]]
    assert statuses == ["in_progress"] * 3
    calls.status("playment", batch["job_ids"][0])
    calls.status("playment", batch["job_ids"][0])
    statuses = [j["status"] for j in http.get(url, headers=calls.headers("playment")).json()["data"]["jobs"]]
    assert statuses == ["completed", "in_progress", "in_progress"]


def test_jobs_outside_a_batch_land_in_the_default_batch(calls: Calls, sim: Simulator) -> None:
    a = sim.create_job("playment")
    b = sim.create_job("playment")
    assert a["batch_id"] == b["batch_id"]
    assert a["reference_id"] != b["reference_id"]
    joined = sim.create_job("playment", batch_id=sim.create_batch(0)["batch_id"])
    assert joined["batch_id"] != a["batch_id"]
