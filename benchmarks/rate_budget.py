"""Rate-budget benchmark: 400 waits on distinct jobs of one connection against a vendor that
serves 20 requests a second per API key (a sliding window) and answers 429 above it.

Three runs on the same jobs' shapes (the simulator, PDF.co; its rate limit on):

- ``requests_per_second=18`` on the connection, one triggerer-like process (one event loop);
- no budget, the same process, for comparison;
- ``requests_per_second=18`` in two processes of 200 waits each, sharing one budget in Redis
  (``[jobstatus] rate_limit_storage``; a redis-server is started here, installed with apt-get
  if missing).

Each wait is a JobStatusTrigger run to its end. The table gives the share of status requests
answered 429, the busiest one-second window of requests at the vendor, waits that ended with
their job's true outcome, and the latest a job's end was seen after it happened.

    python -m benchmarks.rate_budget [--waits 400] [--interval 15] [--rate 18]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

VENDOR_LIMIT = 20
#: what each job ends as, and how the trigger's event names it
OUTCOMES = {"succeeded": "succeeded", "failed": "failed", "canceled": "canceled"}


# -- one process of waits ---------------------------------------------------------------------
async def wait_all(jobs: list[str], interval: float) -> list[dict[str, Any]]:
    from airflow_provider_jobstatus.hooks import budget_deadline
    from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger

    deadline = time.time() + 900

    async def one(job_id: str) -> dict[str, Any]:
        trigger = JobStatusTrigger(
            "pdfco_bench", job_id, poll_interval=interval, timeout_at=deadline, spread_start=True
        )
        with budget_deadline(deadline):  # the wait's own deadline orders its place in the queue
            gen: Any = trigger.run()
            try:
                event = (await gen.__anext__()).payload
            finally:
                await gen.aclose()
        job = event.get("job") or {}
        return {
            "job_id": job_id,
            "status": event.get("status"),
            "state": job.get("state"),
            "seen": time.time(),
        }

    return list(await asyncio.gather(*(one(j) for j in jobs)))


def child() -> None:
    """``--child``: jobs, interval and an output file as JSON on stdin; the waits' ends go to the
    file as JSON (stdout carries Airflow's log lines)."""
    spec = json.load(sys.stdin)
    from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger  # noqa: F401 (Airflow)

    started = time.time()  # Airflow imported: the waits begin
    ends = asyncio.run(wait_all(spec["jobs"], spec["interval"]))
    Path(spec["out"]).write_text(json.dumps({"started": started, "ends": ends}))


# -- the runs ------------------------------------------------------------------------------------
@contextmanager
def redis_url() -> Iterator[str]:
    from dev.services import ensure_packages, redis_server

    ensure_packages()
    with tempfile.TemporaryDirectory(prefix="rate-budget-") as root, redis_server(Path(root)) as redis:
        yield redis.url(0)


def run(sim: Any, label: str, jobs: list[dict[str, Any]], args: argparse.Namespace, **how: Any) -> list[str]:
    """One run: returns the table row."""
    from airflow_provider_jobstatus.testing.connections import connection_dict

    conn = connection_dict(sim, "pdfco")
    if how.get("rate"):
        conn["extra"] = {"requests_per_second": how["rate"]}
    env = {**os.environ, "AIRFLOW_CONN_PDFCO_BENCH": json.dumps(conn)}
    env.pop("AIRFLOW__JOBSTATUS__RATE_LIMIT_STORAGE", None)
    if how.get("storage"):
        env["AIRFLOW__JOBSTATUS__RATE_LIMIT_STORAGE"] = how["storage"]
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p
    )
    processes = how.get("processes", 1)
    shares = [jobs[i::processes] for i in range(processes)]
    sim.clear_requests()
    started = time.time()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.rate_budget", "--child"],
            stdin=subprocess.PIPE,
            stdout=None if os.environ.get("RATE_BUDGET_VERBOSE") else subprocess.DEVNULL,
            env=env,
            text=True,
        )
        for _ in shares
    ]
    outs = [Path(tempfile.mkstemp(prefix="rate-budget-", suffix=".json")[1]) for _ in shares]
    for proc, share, out in zip(children, shares, outs, strict=True):
        assert proc.stdin is not None
        spec = {"jobs": [j["job_id"] for j in share], "interval": args.interval, "out": str(out)}
        proc.stdin.write(json.dumps(spec))
        proc.stdin.close()
    ends: list[dict[str, Any]] = []
    for proc, out in zip(children, outs, strict=True):
        if proc.wait() != 0:
            raise RuntimeError(f"{label}: a wait process failed ({proc.returncode})")
        done = json.loads(out.read_text())
        ends.extend({**end, "waits_started": done["started"]} for end in done["ends"])
        out.unlink()
    elapsed = time.time() - started
    log = [e for e in sim.requests()["log"] if e["vendor"] == "pdfco" and e["route"] == "status"]
    limited = sum(1 for e in log if e["status"] == 429)
    times = sorted(e["t"] for e in log)
    busiest = max((_within(times, i) for i in range(len(times))), default=0)
    by_id = {j["job_id"]: j for j in jobs}
    right = sum(
        1 for e in ends if e["status"] == "done" and e["state"] == OUTCOMES[by_id[e["job_id"]]["outcome"]]
    )
    # a job that ended before its wait began (jobs are made first, and a wait process needs a few
    # seconds to import Airflow) is late from the wait's start, not from its end
    late = max(e["seen"] - max(by_id[e["job_id"]]["ends_at"], e["waits_started"]) for e in ends)
    return [
        label,
        f"{len(log)}",
        f"{limited} ({100 * limited / max(1, len(log)):.1f} %)",
        f"{busiest}",
        f"{right} / {len(jobs)}",
        f"{late:.1f} s",
        f"{elapsed:.0f} s",
    ]


def _within(times: list[float], i: int) -> int:
    """Requests in the one-second window that starts at request ``i``."""
    end = times[i] + 1.0
    count = 0
    for t in times[i:]:
        if t >= end:
            break
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=400)
    parser.add_argument("--interval", type=float, default=15.0, help="each wait's poll interval")
    parser.add_argument("--rate", type=float, default=18.0, help="the connection's requests_per_second")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    from airflow_provider_jobstatus.testing.simulator import Simulator

    rng = random.Random(29)
    rows: list[list[str]] = []
    with Simulator() as sim:
        sim.set_rate_limit("pdfco", VENDOR_LIMIT, retry_after=1)

        def make_jobs() -> list[dict[str, Any]]:
            jobs = []
            for i in range(args.waits):
                outcome = ("failed", "canceled")[i % 2] if i % 10 == 0 else "succeeded"
                seconds = rng.uniform(10, 40)
                made = sim.create_job("pdfco", outcome=outcome, seconds=seconds)
                jobs.append({"job_id": made["job_id"], "outcome": outcome, "ends_at": time.time() + seconds})
            return jobs

        per = f"requests_per_second={args.rate:g}"
        rows.append(run(sim, f"{per}, one process", make_jobs(), args, rate=args.rate))
        rows.append(run(sim, "no budget, one process", make_jobs(), args))
        with redis_url() as url:
            rows.append(
                run(
                    sim,
                    f"{per}, two processes, one Redis budget",
                    make_jobs(),
                    args,
                    rate=args.rate,
                    storage=url,
                    processes=2,
                )
            )
    print(
        f"### Rate budget ({args.waits} waits, {args.interval:g} s interval, jobs running 10-40 s; "
        f"the vendor serves {VENDOR_LIMIT} requests a second per key, a sliding window, 429 above)\n"
    )
    head = [
        "run",
        "status requests",
        "answered 429",
        "busiest second",
        "true outcome",
        "latest end seen after",
        "run took",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nTargets with the budget: at most 2 % answered 429, no second over {VENDOR_LIMIT + 2} requests, "
        "every wait's true outcome, each end seen within 30 s."
    )


if __name__ == "__main__":
    main()
