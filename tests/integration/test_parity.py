"""Every way of waiting ends a scripted vendor behaviour the same way: the same task state and the
same message, whether the sensor defers, pokes or reschedules, and whether a run operator defers or
waits on its worker. They all drive one wait policy; these tests hold them to it over real HTTP.

Most rows script an APIDataTools-shaped origin by time since its first status call for a job (so
a run operator starts "its" job there too), waited on through the built-in APIDataTools vendor and
through the same API declared in a ``jobapi`` connection; vendor-specific rows use the simulator.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from airflow.exceptions import AirflowRescheduleException
from airflow.providers.common.compat.sdk import AirflowSkipException, BaseOperator, TaskDeferred

from airflow_provider_jobstatus.operators.run import (
    AlteryxRunWorkflowOperator,
    ApiDataToolsRunJobOperator,
    JobApiRunJobOperator,
    NitroRunJobOperator,
)
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from tests.scripted_vendor import FOREVER, NOT_FOUND, SUCCESS, UNAVAILABLE, Phase, ScriptedVendor
from tests.task_doubles import FakeStore, FakeTI

SENSOR_MODES = ("deferrable", "poke", "reschedule")
RUN_MODES = ("run deferred", "run on worker")
FAST = {"poll_interval": 0.1}


#: the scripted origin's API declared in a ``jobapi`` connection: the contract holds for it alike
DECLARED_APIDATATOOLS = {
    "name": "APIDataTools",
    "auth": {"scheme": "header", "header": "x-api-key"},
    "start": {"path": "/json-to-csv-api", "job_id": "job_id"},
    "status": {
        "path": "/jobs/{job_id}",
        "state": "status",
        "states": {
            "queued": ["queued"],
            "running": ["processing"],
            "succeeded": ["success"],
            "failed": ["failed"],
        },
        "message": "error",
        "retry_after": "retry_after",
    },
    "results": {"files": "result.file"},
}
KINDS = ("built-in", "declared")


@pytest.fixture(params=KINDS)
def scripted_conn(
    vendor: ScriptedVendor, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    uri: dict[str, Any] = {"conn_type": "apidatatools", "host": vendor.origin.url, "password": "parity-key"}
    if request.param == "declared":
        uri = {**uri, "conn_type": "jobapi", "extra": {"profile": DECLARED_APIDATATOOLS}}
    monkeypatch.setenv("AIRFLOW_CONN_PARITY_VENDOR", json.dumps(uri))
    return f"parity_vendor:{request.param}"


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.state.starts.reset()
    return jobstatus_simulator


def ended(make: Callable[[], BaseOperator], reschedule: bool = False) -> tuple[str, str]:
    """Run a task as Airflow would, to its end: (state, message). A deferral runs its trigger
    here, as the triggerer would; a reschedule makes a new task object, as a new worker process would."""
    context: dict[str, Any] = {"ti": FakeTI(max_tries=0), "task_state_store": FakeStore()}
    for _ in range(500):
        task = make()
        try:
            try:
                value = task.execute(context)
            except TaskDeferred as deferred:
                assert isinstance(deferred.trigger, JobStatusTrigger)
                # the trigger's kwargs travel as JSON
                _, kwargs = deferred.trigger.serialize()
                trigger = JobStatusTrigger(**json.loads(json.dumps(kwargs)))
                event = asyncio.run(_first_event(trigger))
                value = getattr(task, deferred.method_name)(context, event=event)
        except AirflowRescheduleException as again:
            assert reschedule, "only a reschedule-mode sensor reschedules"
            until: datetime = again.reschedule_date
            time.sleep(max(0.0, until.timestamp() - time.time()))
            continue
        except AirflowSkipException as exc:
            return "skipped", normal(str(exc))
        except BaseException as exc:
            return type(exc).__name__, normal(str(exc))
        return "success", normal(str(value.get("state") if isinstance(value, dict) else value))
    raise AssertionError("never ended")


async def _first_event(trigger: JobStatusTrigger) -> Any:
    async for event in trigger.run():
        return event.payload
    return None


def normal(message: str) -> str:
    """Durations vary from run to run by a fraction of a second: ``(faults persisted for N s)``."""
    return re.sub(r"\b\d+(\.\d+)? s\b", "N s", message)


# -- the scripted rows ------------------------------------------------------------------------------

SCRIPTED: dict[str, tuple[list[Phase], dict[str, Any], tuple[str, str]]] = {
    # 5xx for 0.6 s, tolerance 3 s: the wait goes on
    "faults shorter than the tolerance": (
        [Phase(0.6, 503, UNAVAILABLE), Phase(FOREVER, 200, SUCCESS)],
        {"transient_fault_tolerance": 3.0},
        ("success", "succeeded"),
    ),
    "faults longer than the tolerance": (
        [Phase(FOREVER, 503, UNAVAILABLE)],
        {"transient_fault_tolerance": 0.8},
        ("AirflowException", "(faults persisted for N s)"),
    ),
    "a 404 inside the grace": (
        [Phase(0.5, 404, NOT_FOUND), Phase(FOREVER, 200, SUCCESS)],
        {"not_found_grace": 3.0},
        ("success", "succeeded"),
    ),
    "a 404 past the grace": (
        [Phase(FOREVER, 404, NOT_FOUND)],
        {"not_found_grace": 0.8},
        ("AirflowFailException", "APIDataTools job '{job}'"),
    ),
    # faults for longer than the grace, then 404s: the grace counts from the first 404
    "a 404 after a fault streak longer than the grace": (
        [Phase(1.2, 503, UNAVAILABLE), Phase(1.6, 404, NOT_FOUND), Phase(FOREVER, 200, SUCCESS)],
        {"not_found_grace": 0.8, "transient_fault_tolerance": 30.0},
        ("success", "succeeded"),
    ),
    "an unknown status until the deadline": (
        [Phase(FOREVER, 200, {"status": "hibernating"})],
        {"timeout": 1.5},
        (
            "AirflowSensorTimeout",
            "last seen: APIDataTools job '{job}' is unknown (vendor status 'hibernating')",
        ),
    ),
    # a retry_after of a day is capped; the deadline still ends the wait with what it saw last
    "a huge retry_after": (
        [Phase(FOREVER, 200, {"status": "processing", "retry_after": 86400})],
        {"timeout": 1.5},
        (
            "AirflowSensorTimeout",
            "last seen: APIDataTools job '{job}' is running (vendor status 'processing')",
        ),
    ),
}


@pytest.mark.parametrize("mode", SENSOR_MODES + RUN_MODES)
@pytest.mark.parametrize("row", list(SCRIPTED))
def test_scripted_behaviour_ends_alike_in_every_way_of_waiting(
    vendor: ScriptedVendor, scripted_conn: str, row: str, mode: str
) -> None:
    phases, options, (state, says) = SCRIPTED[row]
    scripted_conn, kind = scripted_conn.split(":")
    job_id = f"{row.replace(' ', '-')}-{mode.replace(' ', '-')}-{kind}"
    vendor.script(job_id, phases)
    if mode in SENSOR_MODES:

        def make() -> BaseOperator:
            return JobStatusSensor(
                task_id="wait",
                conn_id=scripted_conn,
                job_id=job_id,
                deferrable=mode == "deferrable",
                mode="reschedule" if mode == "reschedule" else "poke",
                poke_interval=0.1,
                **{"timeout": 60.0, **options},
            )

    else:
        vendor.starts.append(job_id)

        def make() -> BaseOperator:
            common: dict[str, Any] = {
                "task_id": "wait",
                "conn_id": scripted_conn,
                "deferrable": mode == "run deferred",
                **{"timeout": 60.0, **FAST, **options},
            }
            if kind == "declared":
                return JobApiRunJobOperator(payload={"url": "https://example.com/in.json"}, **common)
            return ApiDataToolsRunJobOperator(
                tool="/json-to-csv-api", source_url="https://example.com/in.json", **common
            )

    got_state, got = ended(make, reschedule=mode == "reschedule")
    expected = says.format(job=job_id)
    assert (got_state, expected in got) == (state, True), (got_state, got)
    RESULTS.setdefault(f"{row} ({kind})", {})[mode] = (got_state, got.replace(job_id, "{job}"))


RESULTS: dict[str, dict[str, tuple[str, str]]] = {}


def test_every_way_of_waiting_said_the_same(vendor: ScriptedVendor) -> None:
    """Runs after the rows above (same module, in order): one message per row, whatever the mode."""
    if not RESULTS:
        pytest.skip("run with the rows above")
    for row, by_mode in RESULTS.items():
        assert len(set(by_mode.values())) == 1, (row, by_mode)


# -- vendor-specific rows (the simulator) ----------------------------------------------------------


def sensor_for(sim: Simulator, vendor: str, job_id: str, mode: str, **kw: Any) -> Callable[[], BaseOperator]:
    def make() -> BaseOperator:
        return JobStatusSensor(
            task_id="wait",
            conn_id=f"{vendor}_default",
            job_id=job_id,
            deferrable=mode == "deferrable",
            mode="reschedule" if mode == "reschedule" else "poke",
            poke_interval=0.1,
            timeout=60,
            **kw,
        )

    return make


@pytest.mark.parametrize("mode", SENSOR_MODES)
def test_a_pdfco_id_that_does_not_exist_fails_after_the_grace(sim: Simulator, mode: str) -> None:
    """PDF.co answers ``working`` for ids it never made; the probe (``force``) finds out."""
    state, said = ended(
        sensor_for(sim, "pdfco", "NO-SUCH-JOB", mode, not_found_grace=0.5), reschedule=mode == "reschedule"
    )
    assert state == "AirflowFailException"
    assert said.startswith("PDF.co job 'NO-SUCH-JOB': unknown job id"), said


@pytest.mark.parametrize("mode", SENSOR_MODES + RUN_MODES)
def test_a_canceled_job_skips_with_canceled_as_skipped(sim: Simulator, mode: str) -> None:
    if mode in SENSOR_MODES:
        job = sim.create_job("nitro", outcome="canceled", polls=2)
        make = sensor_for(sim, "nitro", job["job_id"], mode, canceled_as_skipped=True)
    else:
        sim.plan_starts("nitro", {"outcome": "canceled", "polls": 2})

        def make() -> BaseOperator:
            return NitroRunJobOperator(
                task_id="wait",
                conn_id="nitro_default",
                operation="transformations",
                method="compress",
                file="https://example.com/in.pdf",
                canceled_as_skipped=True,
                deferrable=mode == "run deferred",
                **FAST,
            )

    state, said = ended(make, reschedule=mode == "reschedule")
    assert state == "skipped" and "is canceled" in said, (state, said)


@pytest.mark.parametrize("fail_on_warning", [False, True])
@pytest.mark.parametrize("mode", SENSOR_MODES + RUN_MODES)
def test_an_alteryx_warning_fails_only_with_fail_on_warning(
    sim: Simulator, mode: str, fail_on_warning: bool
) -> None:
    if mode in SENSOR_MODES:
        job = sim.create_job("alteryx", outcome="succeeded", disposition="Warning", polls=2)
        make = sensor_for(sim, "alteryx", job["job_id"], mode, fail_on_warning=fail_on_warning)
    else:
        sim.plan_starts("alteryx", {"outcome": "succeeded", "polls": 2, "opts": {"disposition": "Warning"}})

        def make() -> BaseOperator:
            return AlteryxRunWorkflowOperator(
                task_id="wait",
                conn_id="alteryx_default",
                workflow_id="wf1",
                fail_on_warning=fail_on_warning,
                deferrable=mode == "run deferred",
                **FAST,
            )

    state, said = ended(make, reschedule=mode == "reschedule")
    if fail_on_warning:
        assert state == "AirflowFailException" and "is failed" in said, (state, said)
    else:
        assert (state, said) == ("success", "succeeded")
