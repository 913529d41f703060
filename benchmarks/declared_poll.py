"""Client CPU per poll of a declared job API (connection type ``jobapi``) beside a built-in vendor's.

Both poll the same loopback server (benchmarks/loopback_server.py, in its own process) on the same
schedule for the same answers: Nitro's ``GET /nitro/jobs/{id}/status`` -> ``{"status": "running"}``,
once through ``NitroHook`` and once through a profile that declares that API. Each measurement runs
in a fresh process, the two kinds alternating, and the median of the rounds is compared: a declared
poll may cost at most ``--limit`` (1.2) times the built-in one. Exits 1 when it costs more.

    python benchmarks/declared_poll.py --waits 500 --interval 1 --duration 10 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: Nitro's status call as a declared API (a static bearer token instead of Nitro's token endpoint)
PROFILE = {
    "name": "Nitro (declared)",
    "auth": {"scheme": "bearer"},
    "status": {
        "path": "/jobs/{job_id}/status",
        "state": "status",
        "states": {"running": ["running"], "succeeded": ["completed"], "failed": ["failed"]},
        "message": "error",
    },
}


def connection(kind: str, url: str) -> dict[str, Any]:
    if kind == "builtin":
        return {"conn_type": "nitro", "host": url, "login": "bench", "password": "bench"}
    return {"conn_type": "jobapi", "host": url, "password": "bench-token", "extra": {"profile": PROFILE}}


async def measure(kind: str, url: str, waits: int, interval: float, duration: float) -> dict[str, float]:
    os.environ["AIRFLOW_CONN_BENCH_POLL"] = json.dumps(connection(kind, url))
    from airflow_provider_jobstatus.hooks import JobStatusHook

    never = int((time.time() + 86400) * 1000)  # a job id the server answers "running" for
    polls = 0

    async def one(i: int, hook: JobStatusHook, start: float) -> None:
        nonlocal polls
        due, end = start + (i / waits) * interval, start + duration
        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await hook.aget_job_status(f"d{never}", retries=1)
            polls += 1
            due += interval

    hooks = [await JobStatusHook.afor_connection("bench_poll", retries=1) for _ in range(waits)]
    await hooks[0].aget_job_status(f"d{never}")  # client creation, token
    cpu0, start = time.process_time(), time.monotonic()
    await asyncio.gather(*(one(i, h, start + 0.5) for i, h in enumerate(hooks)))
    cpu = time.process_time() - cpu0
    for hook in hooks:
        await hook.aclose()
    return {"polls": polls, "cpu_ms_per_poll": 1000 * cpu / max(polls, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=500)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=1.2)
    parser.add_argument("--one", choices=("builtin", "declared"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one measurement, in this fresh process
        print(json.dumps(asyncio.run(measure(args.one, args.url, args.waits, args.interval, args.duration))))
        return 0
    server = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_server.py"), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    url = json.loads(server.stdout.readline())["url"] + "/nitro"
    costs: dict[str, list[float]] = {"builtin": [], "declared": []}
    try:
        for _ in range(args.rounds):
            for kind in costs:
                shape = ["--waits", str(args.waits), "--interval", str(args.interval)]
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        kind,
                        "--url",
                        url,
                        *shape,
                        "--duration",
                        str(args.duration),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                costs[kind].append(json.loads(out.stdout.strip().splitlines()[-1])["cpu_ms_per_poll"])
    finally:
        server.terminate()
        server.wait(10)
    builtin, declared = (statistics.median(costs[k]) for k in ("builtin", "declared"))
    ratio = declared / builtin
    print(
        f"CPU per poll, median of {args.rounds} ({args.waits} waits, every {args.interval:g} s, "
        f"{args.duration:g} s): built-in Nitro {builtin:.3f} ms, declared {declared:.3f} ms, "
        f"ratio {ratio:.2f} (limit {args.limit:g}); all: {json.dumps(costs)}"
    )
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
