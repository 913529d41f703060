"""Client CPU per poll: N waits, each calling ``aget_job_status`` every I seconds in one event loop.

The server (benchmarks/loopback_server.py, or the simulator with ``--simulator``) runs in its own
process, so the CPU measured here is the client's alone. Prints polls done vs the ideal count,
CPU seconds, CPU ms per poll, and how late polls ran against their schedule.

    python benchmarks/poll_cpu.py --waits 1000 --interval 2 --duration 20
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

HERE = Path(__file__).resolve().parent


def start_server(simulator: bool) -> tuple[subprocess.Popen[str], str]:
    if simulator:
        cmd = [sys.executable, "-m", "airflow_provider_jobstatus.testing.simulator", "--port", "0"]
    else:
        cmd = [sys.executable, str(HERE / "loopback_server.py"), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    url = info["vendors"]["pdfco"] if simulator else info["url"] + "/pdfco"
    return proc, url


async def run(waits: int, interval: float, duration: float, url: str, key: str) -> dict[str, float]:
    os.environ["AIRFLOW_CONN_BENCH_PDFCO"] = json.dumps({"conn_type": "pdfco", "host": url, "password": key})
    from airflow_provider_jobstatus.hooks.pdfco import PdfCoHook

    lags: list[float] = []
    polls = 0
    errors = 0

    async def one(i: int, hook: PdfCoHook, start: float) -> None:
        nonlocal polls, errors
        due = start + (i / waits) * interval  # spread the waits over one interval
        end = start + duration
        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            lags.append(time.monotonic() - due)
            try:
                await hook.aget_job_status(f"bench-{i}", retries=1)
            except Exception:
                errors += 1
            polls += 1
            due += interval

    hooks = [PdfCoHook("bench_pdfco") for _ in range(waits)]
    await hooks[0].aget_job_status("warm-up")  # connection lookup, client creation
    cpu0, start = time.process_time(), time.monotonic()
    await asyncio.gather(*(one(i, h, start + 0.5) for i, h in enumerate(hooks)))
    cpu = time.process_time() - cpu0
    for h in hooks:
        await h.aclose()
    ideal = waits * int(duration / interval)
    lags.sort()
    return {
        "waits": waits,
        "polls": polls,
        "ideal_polls": ideal,
        "errors": errors,
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_poll": round(1000 * cpu / max(polls, 1), 3),
        "lag_p50_s": round(statistics.median(lags), 3) if lags else 0.0,
        "lag_p99_s": round(lags[int(len(lags) * 0.99) - 1], 3) if lags else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument(
        "--simulator", action="store_true", help="poll the simulator instead of the loopback server"
    )
    args = parser.parse_args()
    proc, url = start_server(args.simulator)
    try:
        result = asyncio.run(run(args.waits, args.interval, args.duration, url, "sim-pdfco-key"))
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
