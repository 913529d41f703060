"""``make bench-triggerer``: N concurrent waits in one real triggerer, ours and providers-http's
side by side, net of Airflow's own cost of the same number of deferred triggers.

For each kind (``jobstatus``: JobStatusSensor; ``http``: HttpSensorTrigger on the same Nitro jobs'
result endpoint, which answers 404 while a job runs; ``datetime``: DateTimeTriggers firing after
the window) a fresh local Airflow (SQLite, LocalExecutor, one triggerer) runs N unmapped
``start_from_trigger`` tasks, so no worker runs before the wait. Once all N are deferred, a
measuring window opens in which ``--ending`` jobs end at spread-out moments (lag is measured on
those: the trigger's "fired" log time minus the job's end); the rest keep running. Reported per
kind: the triggerer's processes' (supervisor and trigger runner) CPU seconds per poll and RSS per
wait from ``/proc``, gross and net of the DateTimeTrigger floor; lag p50/p99; and the triggerer's
"async thread was blocked" warnings.

    python benchmarks/triggerer_real.py --waits 1000 --poll 10 --window 300 --ending 50
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow, parse_time, read_log_events

DAGS = Path(__file__).resolve().parent / "dags"
DAG_ID = "bench_start_from_trigger"
BLOCKED = re.compile(r"async thread was blocked", re.IGNORECASE)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(match.group(1)) if match else 0
    return total


def requests_served(sim: Simulator) -> int:
    return int(sim.requests(include_log=False)["total"])


def end_job(sim: Simulator, job_id: str) -> float:
    """Finish a held job now; when it ended."""
    sim.finish(job_ids=[job_id])
    return time.time()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(kind: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    home = root / kind
    home.mkdir()
    with Simulator() as sim:
        job_ids = [sim.create_job("nitro", hold=True)["job_id"] for _ in range(args.waits)]
        token, _ = sim.state.issue_token("nitro")
        fire_at = datetime.now(timezone.utc) + timedelta(hours=2)
        plan = {
            "kind": kind,
            "job_ids": job_ids,
            "poll": args.poll,
            "headers": {"Authorization": f"Bearer {token}"},  # benchmark only: a real DAG never does this
            "fire_at": fire_at.isoformat(),
        }
        plan_file = home / "plan.json"
        plan_file.write_text(json.dumps(plan))
        http = json.dumps({"conn_type": "http", "host": sim.url})  # endpoint: nitro/jobs/<id>
        env = {
            **connection_env(sim),
            "AIRFLOW_CONN_BENCH_HTTP": http,
            "JOBSTATUS_BENCH_PLAN": str(plan_file),
            "AIRFLOW__TRIGGERER__CAPACITY": str(args.waits + 100),
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(args.waits + 100),
        }
        with LocalAirflow(home, DAGS, env=env, parallelism=4, startup_timeout=600) as af:
            af.wait_for_dags([DAG_ID], timeout=600)
            run_id = af.trigger(DAG_ID)
            deadline = time.monotonic() + 600 + args.waits
            while True:
                af.check_alive()
                rows = af.query(
                    "SELECT count(*) FROM task_instance "
                    "WHERE dag_id = ? AND run_id = ? AND state = 'deferred'",
                    DAG_ID,
                    run_id,
                )
                if rows[0][0] >= args.waits:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind}: only {rows[0][0]} of {args.waits} deferred")
                time.sleep(2)
            time.sleep(args.poll * 2)  # every wait past its first poll
            pids = af.component_pids("triggerer")
            cpu0, served0, t0 = cpu_seconds(pids), requests_served(sim), time.time()
            step = (args.window - 3 * args.poll) / max(1, args.ending)
            ended: dict[str, float] = {}
            rss: list[int] = []
            for n in range(args.ending):
                while time.time() < t0 + args.poll + n * step:
                    time.sleep(0.2)
                ended[f"w{n:05d}"] = end_job(sim, job_ids[n]) if kind != "datetime" else time.time()
                rss.append(rss_kib(pids))
            while time.time() < t0 + args.window:
                time.sleep(0.5)
            cpu1, served1 = cpu_seconds(af.component_pids("triggerer")), requests_served(sim)
            rss.append(rss_kib(af.component_pids("triggerer")))
            lags = []
            if kind != "datetime":
                for task_id, at in ended.items():
                    fired = [
                        parse_time(e.get("timestamp"))
                        for path in af.trigger_logs(DAG_ID, run_id, task_id)
                        for e in read_log_events(path)
                        if e.get("event") == "Trigger fired event"
                    ]
                    fired_at = min((f for f in fired if f is not None), default=None)
                    if fired_at is not None:
                        lags.append(fired_at - at)
            blocked = sum(
                len(BLOCKED.findall(p.read_text(errors="replace")))
                for p in af.all_logs()
                if "triggerer" in p.name or ".log.trigger." in p.name
            )
    polls = served1 - served0
    return {
        "kind": kind,
        "cpu": cpu1 - cpu0,
        "polls": polls,
        "rss_kib": statistics.median(rss),
        "lags": lags,
        "detected": len(lags),
        "blocked": blocked,
    }


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    floor = results.get("datetime")
    lines = [
        f"N={args.waits} start_from_trigger waits in one triggerer, poll {args.poll:.0f} s, "
        f"window {args.window:.0f} s, {args.ending} jobs end in it",
        "| | JobStatusTrigger | HttpSensorTrigger | DateTimeTrigger (floor) |",
        "|---|---|---|---|",
    ]
    kinds = ("jobstatus", "http", "datetime")

    def cell(kind: str, fn: Any) -> str:
        r = results.get(kind)
        return fn(r) if r else "-"

    def per_poll(r: dict[str, Any], net: bool) -> str:
        if not r["polls"]:
            return f"{r['cpu']:.1f} s CPU in the window"
        cpu = r["cpu"] - (floor["cpu"] if net and floor else 0.0)
        return f"{1000 * cpu / r['polls']:.3f}"

    def per_wait(r: dict[str, Any], net: bool) -> str:
        kib = r["rss_kib"] - (floor["rss_kib"] if net and floor and r is not floor else 0)
        return f"{kib / args.waits:.1f}"

    rows = [
        ("polls served in the window", lambda r: str(r["polls"])),
        ("CPU ms per poll, gross", lambda r: per_poll(r, False)),
        ("CPU ms per poll, net of the floor", lambda r: per_poll(r, True) if r["polls"] else "-"),
        ("RSS KiB per wait, gross", lambda r: per_wait(r, False)),
        ("RSS KiB per wait, net of the floor", lambda r: per_wait(r, True) if r is not floor else "-"),
        (
            "detection lag p50 / p99 (s)",
            lambda r: (
                f"{percentile(r['lags'], 0.5):.2f} / {percentile(r['lags'], 0.99):.2f} "
                f"({r['detected']}/{args.ending})"
                if r["lags"]
                else "-"
            ),
        ),
        ("'async thread was blocked' warnings", lambda r: str(r["blocked"])),
    ]
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(cell(k, fn) for k in kinds) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=300.0)
    parser.add_argument("--ending", type=int, default=50)
    parser.add_argument("--kinds", default="datetime,jobstatus,http")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="jobstatus-bench-") as tmp:
        for kind in args.kinds.split(","):
            started = time.monotonic()
            results[kind] = measure(kind, args, Path(tmp))
            print(
                f"{kind}: {json.dumps({k: v for k, v in results[kind].items() if k != 'lags'})} "
                f"in {time.monotonic() - started:.0f} s",
                flush=True,
            )
    print(report(results, args))


if __name__ == "__main__":
    main()
