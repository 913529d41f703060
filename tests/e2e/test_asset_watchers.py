"""Asset watchers in a real Airflow (scheduler, triggerer, API server, DAG processor on SQLite)
against the simulator: ``example_jobstatus_asset_watchers`` is scheduled on an asset watched by
``AlteryxWorkflowJobsTrigger``. Three rounds of jobs finishing give exactly three DAG runs, each
triggered by one event listing exactly that round's jobs; the triggerer is restarted after the
first round and is down while the third round's jobs finish, and that changes nothing."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow
from tests.e2e.conftest import EXAMPLE_DAGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900, method="thread")]

DAG_ID = "example_jobstatus_asset_watchers"
EXAMPLE = EXAMPLE_DAGS / "example_jobstatus_asset_watchers.py"
POLL_INTERVAL = 2


def example_workflow_id() -> str:
    namespace: dict[str, Any] = {}
    exec(compile(EXAMPLE.read_text(), str(EXAMPLE), "exec"), namespace)  # the id the example watches
    return str(namespace["ALTERYX_WORKFLOW_ID"])


def until(check: Callable[[], Any], timeout: float, what: str, airflow: LocalAirflow) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        airflow.check_alive()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen after {timeout:.0f} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


def runs(airflow: LocalAirflow) -> list[tuple[str, str | None]]:
    return [
        (str(run_id), state)
        for run_id, state in airflow.query(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id", DAG_ID
        )
    ]


def consumed_events(airflow: LocalAirflow, run_id: str) -> list[dict[str, Any]]:
    """The extra of each asset event that triggered the run."""
    rows = airflow.query(
        "SELECT e.extra FROM asset_event e JOIN dagrun_asset_event d ON d.event_id = e.id "
        "JOIN dag_run r ON r.id = d.dag_run_id WHERE r.dag_id = ? AND r.run_id = ? ORDER BY e.id",
        DAG_ID,
        run_id,
    )
    return [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in rows]


def test_three_rounds_give_three_runs_with_exactly_their_jobs(
    simulator: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sim = simulator
    workflow = example_workflow_id()
    dags = tmp_path_factory.mktemp("watcher_dags")
    shutil.copy(EXAMPLE, dags / EXAMPLE.name)
    before = sim.create_job("alteryx", workflow_id=workflow)["job_id"]  # finished before the watcher
    rounds = [
        [
            sim.create_job("alteryx", outcome, workflow_id=workflow, hold=True)["job_id"]
            for outcome in ("succeeded", "failed", "canceled")[: 2 + n % 2]
        ]
        for n in range(3)
    ]
    still_running = sim.create_job("alteryx", workflow_id=workflow, hold=True)["job_id"]
    env = {**connection_env(sim), "JOBSTATUS_EXAMPLE_POLL_INTERVAL": str(POLL_INTERVAL)}
    home = tmp_path_factory.mktemp("airflow_watchers")
    with LocalAirflow(home, dags, env=env, parallelism=2, serve_logs=False) as airflow:
        airflow.wait_for_dags([DAG_ID], timeout=240)
        airflow.unpause(DAG_ID)
        until(
            lambda: airflow.query("SELECT key FROM asset_state_store"),
            240,
            "the watcher's cursor in the asset state store",
            airflow,
        )

        def cursor() -> str:
            return str(airflow.query("SELECT value FROM asset_state_store"))

        for n, jobs in enumerate(rounds, start=1):
            recorded = cursor()
            if n == 2:
                airflow.restart("triggerer")
            if n == 3:  # these jobs finish while no triggerer runs
                airflow.restart("triggerer", while_stopped=lambda jobs=jobs: sim.finish(job_ids=jobs))
            else:
                sim.finish(job_ids=jobs)
            seen = until(
                lambda n=n: (
                    (r := runs(airflow)) and len(r) >= n and r[n - 1][1] in ("success", "failed") and r
                ),
                300,
                f"DAG run {n}",
                airflow,
            )
            run_id, state = seen[n - 1]
            assert state == "success", airflow.task_instances(DAG_ID, run_id)
            events = consumed_events(airflow, run_id)
            assert len(events) == 1, events
            payload = events[0]["payload"]
            assert (payload["vendor"], payload["workflow_id"], payload["more"]) == ("alteryx", workflow, 0)
            assert sorted(job["id"] for job in payload["jobs"]) == sorted(jobs), (n, payload)
            assert sorted(j["id"] for j in airflow.xcom(DAG_ID, run_id, "finished_jobs")) == sorted(jobs)
            # "between rounds": once the watcher has recorded the round (COMMIT_DELAY after its
            # event); a stop inside that window announces the round again (see docs/asset-watchers.md)
            until(lambda recorded=recorded: cursor() != recorded, 60, f"round {n} recorded", airflow)
        time.sleep(6 * POLL_INTERVAL + 10)  # more listings, and time for the scheduler: nothing new
        final = runs(airflow)
        events = airflow.query("SELECT COUNT(*) FROM asset_event")[0][0]
    assert len(final) == 3, final
    assert events == 3
    states = {
        job["id"]: job["state"]
        for n in range(3)
        for job in consumed_events(airflow, final[n][0])[0]["payload"]["jobs"]
    }
    assert before not in states and still_running not in states
    assert sorted(states.values()) == sorted(["succeeded", "failed"] * 3 + ["canceled"])
    log = "\n".join(path.read_text(errors="replace") for path in airflow.all_logs())
    for fields in sim.credentials["alteryx"].items():
        if fields[0] == "client_secret":
            assert fields[1] not in log
