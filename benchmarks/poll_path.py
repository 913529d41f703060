"""How many of the package's functions one poll runs: a sensor-made trigger polls a long job on the
loopback server while ``sys.setprofile`` counts calls into ``airflow_provider_jobstatus`` code (the
generator and coroutine resumptions of the loop included); the first polls (imports, the client,
the token) are left out.

    python benchmarks/poll_path.py            # prints calls per poll, and the functions of one poll
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = "airflow_provider_jobstatus"


async def measure(url: str, polls: int) -> dict[str, Any]:
    os.environ.setdefault("AIRFLOW__JOBSTATUS__MIN_POLL_INTERVAL", "0.01")  # no floor: polls every 50 ms
    os.environ["AIRFLOW_CONN_BENCH_NITRO"] = json.dumps(
        {"conn_type": "nitro", "host": f"{url}/nitro", "login": "bench", "password": "bench-secret"}
    )
    import airflow.jobs.triggerer_job_runner  # noqa: F401
    import httpx

    from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger

    interval = 0.05
    done = time.time() + 3600
    trigger = JobStatusTrigger("bench_nitro", f"d{int(done * 1000)}", poll_interval=interval)
    counts: collections.Counter[str] = collections.Counter()
    counting = False

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if counting and event == "call" and PACKAGE in frame.f_code.co_filename:
            code = frame.f_code
            counts[f"{code.co_filename.split(PACKAGE)[-1]}:{code.co_qualname}"] += 1

    def served() -> int:
        return int(httpx.get(f"{url}/_stats").json().get("status", 0))

    task = asyncio.ensure_future(trigger.run().__anext__())
    while await asyncio.to_thread(served) < 5:  # imports, client, token: not the steady state
        await asyncio.sleep(interval / 2)
    before = await asyncio.to_thread(served)
    sys.setprofile(profile)
    counting = True
    await asyncio.sleep(interval * polls)
    counting = False
    sys.setprofile(None)
    after = await asyncio.to_thread(served)
    task.cancel()
    n = max(1, after - before)
    return {"polls": n, "calls_per_poll": sum(counts.values()) / n, "functions": sorted(counts)}


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_server.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = json.loads(server.stdout.readline())["url"]
        result = asyncio.run(measure(url, 40))
    finally:
        server.terminate()
        server.wait(10)
    print(f"{result['calls_per_poll']:.1f} package function calls per poll ({result['polls']} polls)")
    print(f"{len(result['functions'])} distinct functions:")
    for name in result["functions"]:
        print("  ", name)


if __name__ == "__main__":
    main()
