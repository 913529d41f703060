"""Many waits in a real triggerer: a mapped JobStatusSensor over N simulator jobs, on a real
Airflow (scheduler with LocalExecutor, triggerer, API server, DAG processor; SQLite).

Prints how many waits succeeded, how many were seen deferred at once, and every "async thread was
blocked" warning the triggerer logged (there should be none).

    python -m benchmarks.triggerer_run --waits 200
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow

DAGS = Path(__file__).resolve().parent / "dags"
BLOCKED = re.compile(r"async thread was blocked[^\n]*", re.IGNORECASE)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=200)
    parser.add_argument("--polls", type=int, default=12, help="polls each job answers 'working' first")
    parser.add_argument("--home", help="AIRFLOW_HOME to use (default: a temporary folder)")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, Simulator() as sim:
        home = Path(args.home or tmp)
        with LocalAirflow(home, DAGS, env=connection_env(sim), parallelism=4, startup_timeout=300) as airflow:
            airflow.wait_for_dags(["bench_mapped_waits"], timeout=300)
            ids = [sim.create_job("pdfco", polls=args.polls)["job_id"] for _ in range(args.waits)]
            run_id = airflow.trigger("bench_mapped_waits", conf={"job_ids": ids})
            watch = airflow.wait_for_run("bench_mapped_waits", run_id, timeout=1800, interval=1.0)
            rows = airflow.task_instances("bench_mapped_waits", run_id)
        waits = [r for r in rows if r.task_id == "wait"]
        succeeded = sum(1 for r in waits if r.state == "success")
        keys = [k for k in watch.changes if k.startswith("wait[")]
        moments = sorted({t for k in keys for t, _ in watch.changes[k]})
        deferred_at = [sum(watch.state_at(k, m) == "deferred" for k in keys) for m in moments]
        peak_deferred = max(deferred_at, default=0)
        blocked = [m for log in airflow.all_logs() for m in BLOCKED.findall(log.read_text(errors="replace"))]
    print(f"waits: {len(waits)}  succeeded: {succeeded}  run state: {watch.state}")
    print(f"most waits deferred at once: {peak_deferred} (LocalExecutor parallelism 4)")
    print(f"'async thread was blocked' warnings: {len(blocked)}")
    for line in blocked[:10]:
        print("   ", line)
    print(f"total time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
