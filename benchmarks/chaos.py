"""Chaos run: many jobs across the five vendors with faults on, a triggerer restart half-way, and
every result downloaded and checked. Prints what went right and every kind of thing that must not
happen (wrong states, hung waits, corrupt or partial files, credentials sent to a foreign host,
secrets in logs, events or trigger kwargs). Exits 1 unless every "must be 0" figure is 0.

    python benchmarks/chaos.py --jobs 1000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import logging
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

VENDORS = {
    "nitro": ["succeeded", "failed", "canceled"],
    "pdfco": ["succeeded", "failed", "canceled"],
    "alteryx": ["succeeded", "failed", "canceled"],
    "apidatatools": ["succeeded", "failed"],
    "playment": ["succeeded"],
}
FAULTS = {
    "error_5xx": 0.10,
    "rate_429": 0.05,
    "retry_after": 1,
    "reset": 0.02,
    "slow": 0.02,
    "slow_seconds": 4.0,
    "truncate": 0.01,
    "malformed_json": 0.01,
}
CLIENT_TIMEOUT = 1.5  # seconds; the simulator's slow answers take longer


def connection_env(sim: Any) -> dict[str, str]:
    from airflow_provider_jobstatus.testing.connections import connection_dict

    env = {}
    for vendor in VENDORS:
        conn = connection_dict(sim, vendor)
        conn["extra"] = {**conn.get("extra", {}), "timeout": CLIENT_TIMEOUT}
        env[f"AIRFLOW_CONN_CHAOS_{vendor.upper()}"] = json.dumps(conn)
    return env


async def wait_all(
    kwargs: list[dict[str, Any]], restart_after: float, limit: float
) -> list[dict[str, Any] | None]:
    """Run every trigger; cancel them all after ``restart_after`` s and re-create the unfinished
    ones from their serialized kwargs (a triggerer restart); give up on any still waiting at ``limit``."""
    from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger

    events: list[dict[str, Any] | None] = [None] * len(kwargs)

    async def drive(i: int, trigger: JobStatusTrigger) -> None:
        gen: Any = trigger.run()  # an async generator: aclose() ends it
        try:
            events[i] = (await gen.__anext__()).payload
        finally:
            await gen.aclose()

    triggers = [JobStatusTrigger(**k) for k in kwargs]
    tasks = [asyncio.ensure_future(drive(i, t)) for i, t in enumerate(triggers)]
    await asyncio.wait(tasks, timeout=restart_after)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    restarted = []
    for i, trigger in enumerate(triggers):
        if events[i] is None:
            _, stored = trigger.serialize()
            kwargs[i] = json.loads(json.dumps(stored))  # what the database keeps
            restarted.append(asyncio.ensure_future(drive(i, JobStatusTrigger(**kwargs[i]))))
    if restarted:
        await asyncio.wait(restarted, timeout=limit)
        for task in restarted:
            task.cancel()
        await asyncio.gather(*restarted, return_exceptions=True)
    return events


def download(job: dict[str, Any], root: Path) -> tuple[str, list[dict[str, Any]] | str]:
    from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator

    op = DownloadJobResultOperator(
        task_id=f"get_{job['job_id'][:8]}",
        conn_id=f"chaos_{job['vendor']}",
        job_id=job["job_id"],
        destination=f"{root}/{job['vendor']}/{job['job_id']}/",
        download_attempts=10,
        backoff=0.05,
        # a task's own retries would cover a status check that meets 3 faults in a row (0.7% here);
        # the chaos run asks the hook to try harder instead of modelling task retries
        hook_params={"retries": 8, "backoff": 0.05, "max_backoff": 1.0},
    )
    try:
        return job["job_id"], op.execute(context={})
    except Exception as exc:
        return job["job_id"], f"{type(exc).__name__}: {exc}"


def run(jobs: int, seed: int, restart_after: float = 3.0, limit: float = 240.0) -> dict[str, Any]:
    from airflow_provider_jobstatus.testing.simulator import Simulator
    from airflow_provider_jobstatus.testing.simulator.credentials import DEFAULT_CREDENTIALS

    rng = random.Random(seed)
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    started = time.monotonic()
    with Simulator(token_ttl=4.0, seed=seed) as sim:
        os.environ.update(connection_env(sim))
        for i, vendor in enumerate(VENDORS):
            sim.set_faults(vendor, seed=seed + i, **FAULTS)
        created = []
        names = list(VENDORS)
        for n in range(jobs):
            vendor = names[n % len(names)]
            outcome = rng.choice(VENDORS[vendor])
            opts: dict[str, Any] = {"retry_after": 1} if vendor == "apidatatools" else {}
            job = sim.create_job(vendor, outcome=outcome, polls=rng.randint(1, 4), **opts)
            created.append({**job, "vendor": vendor, "outcome": outcome})
        deadline = time.time() + limit + restart_after + 60
        kwargs = [
            {
                "conn_id": f"chaos_{j['vendor']}",
                "job_id": j["job_id"],
                "poll_interval": 1.0,
                "timeout_at": deadline,
                "backoff": 0.1,
                "max_backoff": 2.0,
            }
            for j in created
        ]
        events = asyncio.run(wait_all(kwargs, restart_after, limit))
        correct = wrong = hung = 0
        wrong_examples = []
        for job, event in zip(created, events, strict=True):
            if event is None:
                hung += 1
            elif event.get("status") == "done" and event["job"]["state"] == job["outcome"]:
                correct += 1
            else:
                wrong += 1
                wrong_examples.append((job["vendor"], job["outcome"], event))
        succeeded = [
            j
            for j, e in zip(created, events, strict=True)
            if e and e.get("status") == "done" and e["job"]["state"] == "succeeded"
        ]
        with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(8) as pool:
            root = Path(tmp)
            results = dict(pool.map(lambda j: download(j, root), succeeded))
            expected = {j["job_id"]: j["sha256"] for j in succeeded}
            downloads = sum(1 for r in results.values() if isinstance(r, list))
            matches = sum(
                1
                for job_id, r in results.items()
                if isinstance(r, list) and r and r[0]["sha256"] == expected[job_id]
            )
            bad_files = 0
            for path in root.rglob("*"):
                if path.is_file():
                    job_id = path.parent.name
                    if ".part-" in path.name or hashlib.sha256(path.read_bytes()).hexdigest() != expected.get(
                        job_id
                    ):
                        bad_files += 1
        failures = [r for r in results.values() if isinstance(r, str)]
        stats = sim.requests()
        faults: dict[str, int] = {}
        for entry in stats["log"]:
            if entry.get("fault"):
                faults[entry["fault"]] = faults.get(entry["fault"], 0) + 1
        secrets = [
            v
            for c in DEFAULT_CREDENTIALS.values()
            for k, v in c.items()
            if k != "project_id" and k != "client_id"
        ]
        secrets += list(getattr(sim.state, "tokens", {}))
        texts = [
            captured.getvalue(),
            json.dumps(events),
            json.dumps(kwargs),
            json.dumps(list(results.values())),
        ]
        haystack = "\n".join(texts)
        leaked = sum(haystack.count(s) for s in secrets if s) + haystack.count("X-Sim-Signature=")
    logging.getLogger().removeHandler(handler)
    return {
        "jobs": jobs,
        "correct_terminal_states": correct,
        "wrong_states": wrong,
        "hung_waits": hung,
        "downloads": downloads,
        "downloads_expected": len(succeeded),
        "sha256_matches": matches,
        "download_failures": len(failures),
        "corrupt_or_partial_files": bad_files,
        "credentials_to_foreign_host": stats["files"]["with_credentials"],
        "secrets_in_logs_events_kwargs": leaked,
        "faults_injected": dict(sorted(faults.items())),
        "requests_served": stats.get("total"),
        "seconds": round(time.monotonic() - started, 1),
        "examples": {"wrong": wrong_examples[:3], "download_failures": failures[:3]},
    }


MUST_BE_ZERO = (
    "wrong_states",
    "hung_waits",
    "download_failures",
    "corrupt_or_partial_files",
    "credentials_to_foreign_host",
    "secrets_in_logs_events_kwargs",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.jobs, args.seed)
    width = max(len(k) for k in result)
    for key, value in result.items():
        if key != "examples" and value is not None:
            print(f"{key:<{width}}  {value}")
    if any(result["examples"].values()):
        print("examples:", json.dumps(result["examples"], default=str)[:2000])
    ok = all(result[k] == 0 for k in MUST_BE_ZERO) and result["correct_terminal_states"] == args.jobs
    ok = ok and result["sha256_matches"] == result["downloads_expected"]
    print("RESULT:", "all targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
