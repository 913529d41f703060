"""Example DAGs and sensor outcomes in real Airflow (`airflow dags test`) against the simulator."""

from __future__ import annotations

import json
import runpy
import warnings

import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.e2e.conftest import E2E_DAGS, EXAMPLE_DAGS, AirflowEnv

pytestmark = pytest.mark.e2e

VENDORS = ("nitro", "pdfco", "alteryx", "apidatatools", "playment")

EXAMPLES = [
    "example_jobstatus_all_vendors",
    "example_jobstatus_nitro",
    "example_jobstatus_pdfco",
    "example_jobstatus_alteryx",
    "example_jobstatus_apidatatools",
    "example_jobstatus_playment",
    "example_jobstatus_playment_batch",
    "example_jobstatus_asset_watchers",
    "example_jobapi",
]
#: The per-vendor DAGs are the all-vendors DAG's five pipelines one by one (the same tasks, built by
#: the same function): running them again would test nothing new.
RUN = [d for d in EXAMPLES if d.removeprefix("example_jobstatus_") not in VENDORS]


def test_example_dags_import_without_errors_or_warnings(airflow_env: AirflowEnv) -> None:
    proc = airflow_env.run(
        "dags", "list-import-errors", "--local", "-o", "json", dags_folder=EXAMPLE_DAGS, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "No data found" in proc.stdout or json.loads(proc.stdout.strip().splitlines()[-1]) == [], (
        proc.stdout
    )
    listed = airflow_env.run("dags", "list", "--local", "-o", "json", dags_folder=EXAMPLE_DAGS, timeout=180)
    assert {d["dag_id"] for d in json.loads(listed.stdout.strip().splitlines()[-1])} == set(EXAMPLES)
    for path in sorted(EXAMPLE_DAGS.glob("*.py")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runpy.run_path(str(path))
        ours = [
            w for w in caught if "example_dags" in w.filename or "airflow_provider_jobstatus" in w.filename
        ]
        assert not ours, [str(w.message) for w in ours]


@pytest.mark.parametrize("dag_id", RUN)
def test_example_dag_runs_green(airflow_env: AirflowEnv, jobstatus_simulator: Simulator, dag_id: str) -> None:
    conf = None
    if dag_id == "example_jobstatus_playment_batch":
        conf = {"batch_id": jobstatus_simulator.create_batch(jobs=150)["batch_id"]}
    result = airflow_env.dags_test(dag_id, EXAMPLE_DAGS, conf)
    assert result.proc.returncode == 0, result.log[-4000:]
    assert result.states and set(result.states.values()) == {"success"}, result.states


def test_success_failure_and_timeout_for_every_vendor(
    airflow_env: AirflowEnv, jobstatus_simulator: Simulator
) -> None:
    sim = jobstatus_simulator
    conf: dict[str, str] = {}
    for vendor in VENDORS:
        for case in ("ok", "fail", "timeout"):
            conf[f"{vendor}_{case}_conn"] = f"{vendor}_default"
        opts = {"retry_after": 0} if vendor == "apidatatools" else {}
        conf[f"{vendor}_ok"] = sim.create_job(vendor, outcome="succeeded", polls=2, **opts)["job_id"]
        conf[f"{vendor}_timeout"] = sim.create_job(vendor, outcome="succeeded", seconds=3600, **opts)[
            "job_id"
        ]
        if vendor == "playment":  # Playment has no failed jobs: the failure is a refused key
            conf["playment_fail"] = conf["playment_ok"]
            conf["playment_fail_conn"] = "playment_badkey"
        else:
            conf[f"{vendor}_fail"] = sim.create_job(vendor, outcome="failed", polls=1, **opts)["job_id"]
    bad_key = json.dumps(
        {
            "conn_type": "playment",
            "host": sim.base_url("playment"),
            "password": "wrong-key",
            "extra": {"project_id": "sim-project"},
        }
    )
    proc = airflow_env.run(
        "dags",
        "test",
        "e2e_outcomes",
        "-c",
        json.dumps(conf),
        dags_folder=E2E_DAGS,
        AIRFLOW_CONN_PLAYMENT_BADKEY=bad_key,
    )
    states = airflow_env.task_states("e2e_outcomes")
    log = proc.stdout + proc.stderr
    expected = {}
    for vendor in VENDORS:
        expected |= {f"{vendor}_ok": "success", f"{vendor}_fail": "failed", f"{vendor}_timeout": "failed"}
    assert states == expected, log[-4000:]
    assert log.count("AirflowSensorTimeout") >= 5
    assert "credentials refused" in log
    assert "wrong-key" not in log and "sim-nitro-secret" not in log
