"""Reproduce Airflow's late-exit race with quick waits, and show the sensor no longer trips it.

A real Airflow (scheduler with LocalExecutor, triggerer, API server, DAG processor; SQLite) runs
``race_baseline`` (no resumption hold-off: the sensor before the fix), ``race_default`` and
``race_end_from_trigger`` side by side, round after round, under the same load: each round triggers
one run of each with ``--tasks`` mapped sensors whose PDF.co jobs (simulator) end 1-4 s after the
sensor's first check (``polls=2`` at a 1 or 2 s interval). Prints, per way of waiting: task
instances, how many failed, how many Airflow flagged as a "state mismatch" (the race), and how long
after deferring the task ended (median, 90th percentile).

    .venv/bin/python benchmarks/late_exit_race.py --rounds 4 --tasks 40    # 160 waits each
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_jobstatus.testing.connections import connection_env  # noqa: E402
from airflow_provider_jobstatus.testing.simulator import Simulator  # noqa: E402
from dev.local_airflow import LocalAirflow, parse_time  # noqa: E402

DAGS = Path(__file__).resolve().parent / "race_dags"
CONFIGS = ("race_baseline", "race_default", "race_end_from_trigger")


def waits(sim: Simulator, tasks: int) -> list[dict[str, Any]]:
    """Jobs that answer "working" twice (the sensor's check, the trigger's first poll), then done:
    with the first trigger poll spread over the interval, done 1-2 s (1 s) or 2-4 s (2 s) in."""
    return [
        {
            "job_id": str(sim.create_job("pdfco", outcome="succeeded", polls=2)["job_id"]),
            "poke_interval": 1 + i % 2,
        }
        for i in range(tasks)
    ]


def measure(airflow: LocalAirflow, dag_id: str, run_id: str) -> dict[str, Any]:
    rows = airflow.query(
        "SELECT map_index, state, end_date FROM task_instance"
        " WHERE dag_id = ? AND run_id = ? AND task_id = 'wait'",
        dag_id,
        run_id,
    )
    deferred: dict[int, float] = {}
    mismatches = 0
    for event in airflow.event_log(dag_id, run_id):
        if event["task_id"] != "wait":
            continue
        if event["event"] == "deferred":
            deferred.setdefault(event["map_index"], parse_time(event["dttm"]) or 0.0)
        elif event["event"] == "state mismatch":
            mismatches += 1
    ended = [
        end - deferred[index]
        for index, _, end_date in rows
        if index in deferred and (end := parse_time(end_date)) is not None
    ]
    return {"states": Counter(state for _, state, _ in rows), "mismatches": mismatches, "ended": ended}


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=40, help="mapped sensors per run")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    totals: dict[str, dict[str, Any]] = {
        dag_id: {"states": Counter(), "mismatches": 0, "ended": []} for dag_id in args.configs
    }
    started = time.monotonic()
    with (
        Simulator() as sim,
        tempfile.TemporaryDirectory(prefix="late-exit-race-") as home,
        LocalAirflow(
            home, DAGS, env=connection_env(sim), parallelism=args.parallelism, startup_timeout=300
        ) as airflow,
    ):
        airflow.wait_for_dags(args.configs, timeout=300)
        print(f"[{time.monotonic() - started:6.0f}s] Airflow up")
        for round_no in range(1, args.rounds + 1):
            runs = {
                dag_id: airflow.trigger(dag_id, conf={"waits": waits(sim, args.tasks)})
                for dag_id in args.configs
            }
            airflow.wait_for_runs(runs, timeout=60.0 * args.tasks, interval=2.0)
            for dag_id, run_id in runs.items():
                seen = measure(airflow, dag_id, run_id)
                total = totals[dag_id]
                total["states"].update(seen["states"])
                total["mismatches"] += seen["mismatches"]
                total["ended"].extend(seen["ended"])
                elapsed = time.monotonic() - started
                states, mismatches = dict(seen["states"]), seen["mismatches"]
                print(
                    f"[{elapsed:6.0f}s] round {round_no} {dag_id}: {states}, {mismatches} state mismatch(es)"
                )
    header = ("way of waiting", "waits", "failed", "mismatch", "end after defer: median", "p90")
    print("\n{:<24} {:>5} {:>6} {:>8} {:>24} {:>6}".format(*header))
    figures: dict[str, Any] = {}
    for dag_id, total in totals.items():
        states, ended = total["states"], sorted(total["ended"])
        count = sum(states.values())
        median = statistics.median(ended) if ended else float("nan")
        p90 = ended[int(0.9 * (len(ended) - 1))] if ended else float("nan")
        row = (dag_id, count, states.get("failed", 0), total["mismatches"], median, p90)
        print("{:<24} {:>5} {:>6} {:>8} {:>23.1f}s {:>5.1f}s".format(*row))
        figures[dag_id] = {
            "waits": count,
            "states": dict(states),
            "state_mismatches": total["mismatches"],
            "end_after_defer_median_s": median,
            "end_after_defer_p90_s": p90,
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
