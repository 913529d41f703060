"""Coalescing benchmark: what many waits on shared work cost the vendor, against the simulator.

- 1,000 waits on one job: requests per interval (one wait alone makes one).
- 1,000 waits on the 1,000 jobs of one Playment batch (the sensor's ``batch_id``): batch-page
  requests per interval (a listing of 1,000 jobs is 10 pages) and single-job requests in all.

    python benchmarks/coalescing.py [--waits 1000] [--interval 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
from typing import Any

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger


async def run_all(triggers: list[JobStatusTrigger]) -> float:
    async def one(trigger: JobStatusTrigger) -> None:
        gen: Any = trigger.run()  # an async generator: aclose() ends it
        try:
            event = (await gen.__anext__()).payload
        finally:
            await gen.aclose()
        if event.get("status") != "done":
            raise RuntimeError(event)

    started = time.monotonic()
    await asyncio.gather(*(one(t) for t in triggers))
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the jobs run")
    args = parser.parse_args()
    rows: list[tuple[str, Any, Any]] = []
    with Simulator() as sim:
        os.environ.update(connection_env(sim))
        job = sim.create_job("pdfco", outcome="succeeded", seconds=args.seconds)
        sim.clear_requests()
        triggers = [
            JobStatusTrigger("pdfco_default", job["job_id"], poll_interval=args.interval)
            for _ in range(args.waits)
        ]
        elapsed = asyncio.run(run_all(triggers))
        polls = sim.requests(include_log=False)["counts"].get("pdfco.status", 0)
        intervals = math.ceil(elapsed / args.interval)
        rows.append(
            (f"{args.waits} waits on one job: status requests per interval", f"{polls / intervals:.2f}", "1")
        )

        batch = sim.create_batch(args.waits, seconds=args.seconds)
        sim.clear_requests()
        triggers = [
            JobStatusTrigger("playment_default", j, poll_interval=args.interval, batch_id=batch["batch_id"])
            for j in batch["job_ids"]
        ]
        elapsed = asyncio.run(run_all(triggers))
        counts = sim.requests(include_log=False)["counts"]
        intervals = math.ceil(elapsed / args.interval)
        pages = math.ceil(args.waits / 100)
        rows.append(
            (
                f"{args.waits} waits on one batch: page requests per interval",
                f"{counts.get('playment.batch', 0) / intervals:.1f}",
                f"{pages} (its pages)",
            )
        )
        rows.append(
            (
                f"{args.waits} waits on one batch: single-job requests in all",
                str(counts.get("playment.status", 0)),
                f"{args.waits} (one confirmation each)",
            )
        )
    print(f"### Coalescing ({args.interval:.0f} s interval, jobs running {args.seconds:.0f} s; simulator)\n")
    print("| workload | measured | target |\n|---|---|---|")
    for label, measured, target in rows:
        print(f"| {label} | {measured} | ≤ {target} |")


if __name__ == "__main__":
    main()
