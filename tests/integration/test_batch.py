"""BatchJobsToXComOperator against the simulator's Playment batches over real HTTP, and
httpx.MockTransport for listings the simulator never serves (repeated tokens, a 5xx mid-run)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator
from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.unwritable import unwritable_folder

FAST = {"hook_params": {"backoff": 0.01, "max_backoff": 0.05}}
ROW_KEYS = {"id", "reference_id", "status", "state", "result_url"}


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.clear_requests()
    return jobstatus_simulator


def listing(batch_id: str, conn_id: str = "playment_default", **kw: Any) -> Any:
    op = BatchJobsToXComOperator(task_id="batch", conn_id=conn_id, batch_id=batch_id, **{**FAST, **kw})
    result = op.execute(context={})
    json.dumps(result)  # XCom-ready
    return result


# -- the simulator --------------------------------------------------------------------------------
def test_1050_jobs_over_11_pages(sim: Simulator) -> None:
    batch = sim.create_batch(1050)
    rows = listing(batch["batch_id"])
    assert [r["id"] for r in rows] == batch["job_ids"], "every job once, in listing order"
    assert all(set(r) == ROW_KEYS for r in rows)
    assert {(r["status"], r["state"]) for r in rows} == {("completed", "succeeded")}
    assert sim.requests()["counts"] == {"playment.batch": 11}


def test_chunks_for_max_map_length(sim: Simulator) -> None:
    batch = sim.create_batch(1050)
    chunks = listing(batch["batch_id"], chunk_size=500)
    assert [len(c) for c in chunks] == [500, 500, 50]
    assert [r["id"] for c in chunks for r in c] == batch["job_ids"]


def test_status_filter(sim: Simulator) -> None:
    batch = sim.create_batch(120, polls=100)  # still in progress
    done = [sim.create_job("playment", batch_id=batch["batch_id"])["job_id"] for _ in range(3)]
    rows = listing(batch["batch_id"], status="completed")
    assert [r["id"] for r in rows] == done
    both = listing(batch["batch_id"], status=["completed", "in_progress"])
    assert len(both) == 123


def test_max_pages(sim: Simulator) -> None:
    batch = sim.create_batch(1050)
    rows = listing(batch["batch_id"], max_pages=3)
    assert [r["id"] for r in rows] == batch["job_ids"][:300]
    assert sim.requests()["counts"] == {"playment.batch": 3}


def test_a_transient_fault_is_retried_on_its_own_page(sim: Simulator) -> None:
    batch = sim.create_batch(550)
    sim.set_faults("playment", seed=3, error_5xx=0.3, paths=["batch"])
    rows = listing(batch["batch_id"])
    assert [r["id"] for r in rows] == batch["job_ids"]
    faults = [e["fault"] for e in sim.requests()["log"]]
    assert faults.count("error_5xx") >= 1 and faults.count(None) == 6, faults


def test_past_the_xcom_cap_fails_naming_output_path(sim: Simulator) -> None:
    batch = sim.create_batch(2500)
    with pytest.raises(AirflowFailException, match=r"over the XCom cap of 262144 bytes.*set output_path="):
        listing(batch["batch_id"])
    assert sim.requests()["counts"]["playment.batch"] < 25, "stops reading once the cap is passed"


def test_output_path_writes_json_lines(sim: Simulator, tmp_path: Path) -> None:
    batch = sim.create_batch(2500)
    summary = listing(batch["batch_id"], output_path=f"{tmp_path}/")
    assert summary == {"path": str(tmp_path / "jobs.jsonl"), "count": 2500, "pages": 25}
    rows = [json.loads(line) for line in (tmp_path / "jobs.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == batch["job_ids"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.jsonl"], "no temporary file left"


def test_output_path_on_object_storage(sim: Simulator) -> None:
    from airflow.sdk.io import attach

    fs = fsspec.filesystem("memory")
    attach("memory", fs=fs)
    batch = sim.create_batch(150)
    key = f"/bucket/{uuid.uuid4().hex}/jobs.jsonl"
    summary = listing(batch["batch_id"], output_path=f"memory:/{key}")
    assert summary == {"path": f"memory:/{key}", "count": 150, "pages": 2}
    lines = fs.cat_file(key).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == batch["job_ids"]
    assert fs.ls(key.rsplit("/", 1)[0], detail=False) == [key]


def test_a_vendor_without_batches_is_refused(sim: Simulator) -> None:
    with pytest.raises(AirflowFailException, match=r"PDF\.co has no batch listing"):
        listing("whatever", conn_id="pdfco_default")


# -- MockTransport --------------------------------------------------------------------------------
class Pages:
    """A Playment batch listing: ``pages`` maps a page token (None: the first page) to its answer."""

    def __init__(self, answer: Callable[[str | None, int], httpx.Response]) -> None:
        self.answer = answer
        self.asked: list[str | None] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/projects/p1/batch/B1"
        assert request.headers["x-api-key"] == "key"
        token = request.url.params.get("page_token")
        self.asked.append(token)
        return self.answer(token, self.asked.count(token))


def page(jobs: range, token: str | None) -> httpx.Response:
    data: dict[str, Any] = {
        "id": "B1",
        "jobs": [{"id": f"job-{i}", "reference_id": f"ref-{i}", "status": "completed"} for i in jobs],
    }
    if token is not None:
        data["next_page_token"] = token
    return httpx.Response(200, json={"data": data, "success": True})


def mock_listing(monkeypatch: pytest.MonkeyPatch, pages: Pages, **kw: Any) -> Any:
    conn = {"conn_type": "playment", "host": "https://playment.test", "password": "key"}
    conn["extra"] = json.dumps({"project_id": "p1"})
    conn_id = f"mock_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    params = {"transport": pages.transport, "backoff": 0.01, "max_backoff": 0.05}
    op = BatchJobsToXComOperator(task_id="batch", conn_id=conn_id, batch_id="B1", hook_params=params, **kw)
    return op.execute(context={})


def eleven_pages(token: str | None, _: int) -> httpx.Response:
    n = 1 if token is None else int(token[1:])
    return page(range((n - 1) * 100, min(n * 100, 1050)), f"p{n + 1}" if n < 11 else None)


def test_a_5xx_on_page_6_resumes_at_page_6(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(token: str | None, times: int) -> httpx.Response:
        if token == "p6" and times == 1:
            return httpx.Response(503, json={"error": {"code": "api_error", "message": "try again"}})
        return eleven_pages(token, times)

    pages = Pages(answer)
    rows = mock_listing(monkeypatch, pages)
    assert [r["id"] for r in rows] == [f"job-{i}" for i in range(1050)]
    counts = Counter(pages.asked)
    assert [counts[t] for t in [None, "p2", "p3", "p4", "p5"]] == [1] * 5, "never back to page one"
    assert counts["p6"] == 2 and len(pages.asked) == 12


def test_a_repeated_token_is_an_error_not_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = {None: "A", "A": "B", "B": "A"}
    pages = Pages(lambda token, _: page(range(3), tokens[token]))
    with pytest.raises(
        AirflowFailException, match=r"^Playment batch 'B1': .*repeated page token 'A'.*after 3 pages"
    ):
        mock_listing(monkeypatch, pages)
    assert pages.asked == [None, "A", "B"]


@pytest.mark.parametrize(
    "last",
    [
        page(range(200, 250), None),  # no token
        page(range(200, 250), ""),  # an empty token
    ],
    ids=["missing-token", "empty-token"],
)
def test_the_listing_ends_without_a_token(monkeypatch: pytest.MonkeyPatch, last: httpx.Response) -> None:
    answers = {None: page(range(100), "x"), "x": page(range(100, 200), "y"), "y": last}
    pages = Pages(lambda token, _: answers[token])
    assert len(mock_listing(monkeypatch, pages)) == 250
    assert pages.asked == [None, "x", "y"]


def test_a_page_without_jobs_ends_the_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {None: page(range(100), "x"), "x": page(range(0), "y")}
    pages = Pages(lambda token, _: answers[token])
    assert len(mock_listing(monkeypatch, pages)) == 100
    assert pages.asked == [None, "x"]


def test_a_fault_that_persists_fails_naming_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(token: str | None, times: int) -> httpx.Response:
        if token == "p3":
            return httpx.Response(502, text="<html>bad gateway</html>")
        return eleven_pages(token, times)

    pages = Pages(answer)
    with pytest.raises(Exception, match=r"HTTP 502.*after 2 pages") as failed:
        mock_listing(monkeypatch, pages)
    assert not isinstance(failed.value, AirflowFailException), "transient: the task's retries may help"
    assert Counter(pages.asked)["p3"] == 3  # the hook's default retries


# -- first mistakes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra", [None, {"project_id": " "}, {"project_id": 7}], ids=["none", "blank", "number"]
)
def test_playment_without_project_id_names_the_connection_and_no_job(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any] | None
) -> None:
    conn: dict[str, Any] = {"conn_type": "playment", "host": sim.base_url("playment"), "password": "k"}
    if extra is not None:
        conn["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_PM_NO_PROJECT", json.dumps(conn))
    batch = sim.create_batch(3)
    with pytest.raises(AirflowFailException) as err:
        listing(batch["batch_id"], conn_id="pm_no_project")
    said = str(err.value)
    assert said.startswith(
        f"Playment: connection 'pm_no_project' ({sim.base_url('playment')}): extra 'project_id'"
    )
    assert "set it as text in the connection's Extra field" in said
    assert batch["batch_id"] not in said and " job " not in said, said
    assert sim.requests()["counts"] == {}, "nothing is sent without a project"


def test_a_listing_fault_speaks_of_the_batch(sim: Simulator) -> None:
    with pytest.raises(AirflowFailException) as err:
        listing("no-such-batch")
    assert str(err.value).startswith("Playment batch 'no-such-batch': request refused"), err.value


def test_result_url_is_none_when_the_listing_carries_no_result(sim: Simulator) -> None:
    """Playment's documented listing has no ``result``: completed rows say so with None (the
    docs/operators/batch.md and the operator's docstring say to download by job id instead)."""
    batch = sim.create_batch(2)
    rows = listing(batch["batch_id"])
    assert [(r["state"], r["result_url"]) for r in rows] == [("succeeded", None)] * 2


def test_an_output_path_that_cannot_be_written_says_what_to_do(sim: Simulator, tmp_path: Path) -> None:
    batch = sim.create_batch(3)
    with unwritable_folder(tmp_path / "locked") as locked:
        with pytest.raises(AirflowFailException) as failed:
            listing(batch["batch_id"], output_path=f"{locked}/")
        assert list(locked.iterdir()) == []
    said = str(failed.value)
    assert said.startswith(
        f"Playment batch {batch['batch_id']!r}: output_path '{locked}/' cannot be written: "
    )
    assert "write access" in said and isinstance(failed.value.__cause__, PermissionError)
