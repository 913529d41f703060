"""Every simulated body has the field names and JSON value types of the documented example bodies
in tests/fixtures/vendors (extra fields only where the vendor documents them elsewhere)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.simulator.simkit import PROJECT, Calls, load_fixture


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def assert_same_shape(
    actual: Any, documented: Any, path: str = "$", extra: frozenset[str] = frozenset()
) -> None:
    assert _kind(actual) == _kind(documented), f"{path}: {_kind(actual)} != documented {_kind(documented)}"
    if isinstance(documented, dict):
        missing = set(documented) - set(actual)
        unexpected = set(actual) - set(documented) - extra
        assert not missing and not unexpected, (
            f"{path}: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
        for key, value in documented.items():
            assert_same_shape(actual[key], value, f"{path}.{key}", extra)
    elif isinstance(documented, list) and documented:
        for i, item in enumerate(actual):
            assert_same_shape(item, documented[0], f"{path}[{i}]", extra)


def test_shape_check_can_fail() -> None:
    with pytest.raises(AssertionError):
        assert_same_shape({"progress": 1}, {"progress": 0.5})
    with pytest.raises(AssertionError):
        assert_same_shape({"a": 1, "b": 2}, {"a": 1})
    with pytest.raises(AssertionError):
        assert_same_shape({"a": [{"x": "1"}]}, {"a": [{"x": 1}]})


def test_nitro_bodies(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    assert_same_shape(calls.nitro_token_response().json(), load_fixture("nitro_token_camel.json"))
    sim.configure(nitro_token_style="snake")
    assert_same_shape(calls.nitro_token_response().json(), load_fixture("nitro_token_snake.json"))
    running = sim.create_job("nitro", polls=1)["job_id"]
    assert_same_shape(calls.status("nitro", running), load_fixture("nitro_status_running.json"))
    assert_same_shape(calls.status("nitro", running), load_fixture("nitro_status_completed.json"))
    result = http.get(f"{sim.base_url('nitro')}/jobs/{running}", headers=calls.headers("nitro")).json()
    assert_same_shape(result, load_fixture("nitro_job_result.json"))
    failed = sim.create_job("nitro", "failed", error_type="PDFIsPasswordProtected")["job_id"]
    body = calls.status("nitro", failed)
    assert_same_shape(body, load_fixture("nitro_status_failed.json"))
    assert body["error"] == load_fixture("nitro_status_failed.json")["error"]
    assert_same_shape(
        calls.status("nitro", sim.create_job("nitro", "canceled")["job_id"]),
        load_fixture("nitro_status_canceled.json"),
    )
    missing = calls.status_response("nitro", "01234567-89ab-cdef-0123-456789abcdef")
    assert missing.status_code == 404
    assert_same_shape(missing.json(), load_fixture("nitro_error_404.json"))
    assert missing.json()["type"] == load_fixture("nitro_error_404.json")["type"]
    sim.expire(failed)
    gone = calls.status_response("nitro", failed)
    assert gone.status_code == 410
    assert_same_shape(gone.json(), load_fixture("nitro_error_410.json"))
    assert gone.json()["instance"] == f"/jobs/{failed}/status"


def test_pdfco_bodies(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    job = sim.create_job("pdfco", polls=1)["job_id"]
    assert_same_shape(calls.status("pdfco", job), load_fixture("pdfco_check_working.json"))
    assert_same_shape(
        calls.status("pdfco", job),
        load_fixture("pdfco_check_success.json"),
        extra=frozenset({"outputLinkValidTill"}),
    )
    assert_same_shape(
        calls.status("pdfco", sim.create_job("pdfco", "failed")["job_id"]),
        load_fixture("pdfco_check_failed.json"),
    )
    assert_same_shape(
        calls.status("pdfco", sim.create_job("pdfco", "canceled")["job_id"]),
        load_fixture("pdfco_check_aborted.json"),
    )
    unknown = http.post(
        sim.base_url("pdfco") + "/v1/job/check",
        json={"jobid": "X--1-1", "force": True},
        headers=calls.headers("pdfco"),
    )
    assert_same_shape(unknown.json(), load_fixture("pdfco_check_unknown.json"))
    assert_same_shape(
        calls.status_response("pdfco", job, headers={}).json(), load_fixture("pdfco_error.json")
    )


def test_alteryx_bodies(calls: Calls, sim: Simulator) -> None:
    assert_same_shape(calls.alteryx_token_response().json(), load_fixture("alteryx_token.json"))
    job = sim.create_job("alteryx", polls=1)["job_id"]
    assert_same_shape(calls.status("alteryx", job), load_fixture("alteryx_job_doc_example.json"))
    done = calls.status("alteryx", job)
    assert_same_shape(done, load_fixture("alteryx_job.json"))
    assert_same_shape(done, load_fixture("alteryx_job_doc_example.json"))
    error = calls.status("alteryx", sim.create_job("alteryx", "failed")["job_id"])
    assert_same_shape(error, load_fixture("alteryx_job_error.json"))
    assert_same_shape(
        calls.status("alteryx", sim.create_job("alteryx", "canceled")["job_id"]),
        load_fixture("alteryx_job_doc_example.json"),
    )


def test_apidatatools_bodies(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("apidatatools", polls=1)["job_id"]
    assert_same_shape(calls.status("apidatatools", job), load_fixture("apidatatools_queued.json"))
    assert_same_shape(calls.status("apidatatools", job), load_fixture("apidatatools_success.json"))
    failed = sim.create_job("apidatatools", "failed")["job_id"]
    assert_same_shape(calls.status("apidatatools", failed), load_fixture("apidatatools_failed.json"))
    assert_same_shape(
        calls.status_response("apidatatools", "nope").json(), load_fixture("apidatatools_error_404.json")
    )
    sim.set_faults("apidatatools", rate_429=1.0)
    assert_same_shape(
        calls.status_response("apidatatools", job).json(), load_fixture("apidatatools_error_429.json")
    )


def test_playment_bodies(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    job = sim.create_job("playment", polls=1)["job_id"]
    assert_same_shape(calls.status("playment", job), load_fixture("playment_job_doc_example.json"))
    assert_same_shape(calls.status("playment", job), load_fixture("playment_job_completed.json"))
    assert_same_shape(calls.status_response("playment", "nope").json(), load_fixture("playment_error.json"))
    batch = sim.create_batch(3, page_size=2)
    url = f"{sim.base_url('playment')}/v1/projects/{PROJECT}/batch/{batch['batch_id']}"
    first = http.get(url, headers=calls.headers("playment")).json()
    assert_same_shape(first, load_fixture("playment_batch_page.json"))
    token = first["data"]["next_page_token"]
    last = http.get(url, params={"page_token": token}, headers=calls.headers("playment")).json()
    documented_last = load_fixture("playment_batch_page.json")
    del documented_last["data"]["next_page_token"]
    assert_same_shape(last, documented_last)
