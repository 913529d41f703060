"""No secret in anything a real Airflow run leaves behind (`airflow dags test` against the simulator).

The example DAG that waits on all five vendors at once (deferred in the triggerer, then downloads)
is run; then its console output, every file under AIRFLOW_HOME (logs, and the SQLite database byte
for byte) and the rows it wrote (XCom values, stored trigger kwargs, task instances' next_kwargs)
are searched for each secret: the connections' API keys and client secrets, every access token the
simulator issued and every ``X-Sim-Signature`` it signed during the run (captured in this process,
where the simulator serves). A second run makes things fail on purpose (refused key, connections
reset on signed URLs), because error paths are where secrets usually slip out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_jobstatus.testing.connections import connection_dict
from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.e2e.conftest import EXAMPLE_DAGS, AirflowEnv
from tests.secret_values import Secrets, capture_secrets

pytestmark = pytest.mark.e2e

DAG_ID = "example_jobstatus_all_vendors"


@pytest.fixture
def captured(jobstatus_simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Secrets]:
    jobstatus_simulator.clear_faults()
    yield capture_secrets(jobstatus_simulator, monkeypatch)
    jobstatus_simulator.clear_faults()


def newest_run_id(env: AirflowEnv) -> str:
    with sqlite3.connect(env.home / "airflow.db") as db:
        row = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
    assert row is not None, "the DAG run is not in the database"
    return str(row[0])


def run_rows(env: AirflowEnv, run_id: str) -> dict[str, str]:
    """What the run stored that a user (UI, API) can read: XCom, trigger kwargs, next_kwargs."""
    with sqlite3.connect(env.home / "airflow.db") as db:
        xcom = db.execute(
            "SELECT task_id, key, value FROM xcom WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)
        ).fetchall()
        tis = db.execute(
            "SELECT task_id, trigger_id, next_kwargs FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (DAG_ID, run_id),
        ).fetchall()
        trigger_ids = sorted({t for _, t, _ in tis if t is not None})
        triggers = db.execute(
            f"SELECT id, classpath, kwargs FROM trigger WHERE id IN ({','.join('?' * len(trigger_ids))})",
            trigger_ids,
        ).fetchall()
    return {
        "xcom": json.dumps([list(map(str, r)) for r in xcom]),
        "next_kwargs": json.dumps([list(map(str, r)) for r in tis]),
        "trigger kwargs": json.dumps([list(map(str, r)) for r in triggers]),
        "_xcom_rows": str(len(xcom)),
        "_trigger_rows": str(len(triggers)),
    }


def home_files(env: AirflowEnv) -> dict[str, str]:
    """Every file under AIRFLOW_HOME (task logs, the database and its journal), as text."""
    return {
        str(path.relative_to(env.home)): path.read_bytes().decode("latin-1")
        for path in sorted(env.home.rglob("*"))
        if path.is_file()
    }


def assert_clean(found: Secrets, sources: dict[str, str]) -> None:
    leaks = {where: found.found_in(text) for where, text in sources.items() if not where.startswith("_")}
    assert {where: names for where, names in leaks.items() if names} == {}


def test_a_dag_run_on_all_vendors_leaves_no_secret_behind(
    airflow_env: AirflowEnv, captured: Secrets, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = airflow_env.dags_test(DAG_ID, EXAMPLE_DAGS, conf={"output_root": str(out)})
    assert result.proc.returncode == 0, result.log[-4000:]
    assert result.states and set(result.states.values()) == {"success"}, result.states
    # the run really handled secrets, so finding none below means something
    assert len(captured.tokens) >= 2, "Nitro and Alteryx should each have been issued a token"
    assert len(captured.signatures) >= 4, "Nitro, PDF.co, APIDataTools and Playment hand out signed URLs"

    run_id = newest_run_id(airflow_env)
    rows = run_rows(airflow_env, run_id)
    assert int(rows["_xcom_rows"]) >= 10 and int(rows["_trigger_rows"]) == 5, rows
    assert "run_pdfco" in rows["xcom"] and "http://" in rows["xcom"]  # the status XComs, with their URLs
    sources = {"dags test output": result.log, **rows, **home_files(airflow_env)}
    sources["downloaded file names"] = "\n".join(str(p) for p in out.rglob("*"))
    assert_clean(captured, sources)


def test_a_failing_dag_run_leaves_no_secret_behind(
    airflow_env: AirflowEnv, jobstatus_simulator: Simulator, captured: Secrets, tmp_path: Path
) -> None:
    """PDF.co's key is refused (so the wrong key is in play too) and every signed APIDataTools link
    resets the connection; the failures end up in task logs with their tracebacks."""
    sim = jobstatus_simulator
    wrong = connection_dict(sim, "pdfco")
    wrong["password"] = "wrong-pdfco-key-0123456789"
    captured.add("wrong key", wrong["password"])
    sim.set_faults("apidatatools", reset=1.0, paths=["files"])
    out = tmp_path / "out"
    proc = airflow_env.run(
        "dags",
        "test",
        DAG_ID,
        "-c",
        json.dumps({"output_root": str(out)}),
        dags_folder=EXAMPLE_DAGS,
        AIRFLOW_CONN_PDFCO_DEFAULT=json.dumps(wrong),
    )
    log = proc.stdout + proc.stderr
    states = airflow_env.task_states(DAG_ID)
    assert states["run_pdfco"] == "failed" and states["download_apidatatools"] == "failed", states
    assert states["download_nitro"] == "success" and states["download_playment"] == "success", states
    assert "credentials refused" in log and "connection failed" in log, log[-4000:]
    assert captured.tokens and captured.signatures

    rows = run_rows(airflow_env, newest_run_id(airflow_env))
    sources = {"dags test output": log, **rows, **home_files(airflow_env)}
    assert_clean(captured, sources)
