"""Triggerer-scale benchmark: our JobStatusTrigger side by side with providers-http's HttpSensorTrigger
and with the library's plain loop (the floor: one aiohttp session, the same GET, ``resp.json()``,
no provider code).

Ours is made the way users get it: ``JobStatusSensor.execute()`` checks once on the worker and
defers; its trigger's kwargs go through JSON and the trigger is made from them, as the triggerer
does. All triggers are made before the measured window. The garbage collector's census (objects
promoted to the oldest generation) costs CPU of its own, so it runs only with ``--census``.

N waits on jobs that finish uniformly over D seconds, polled every I seconds, all triggers run in
one asyncio event loop the way the triggerer runs them (``trigger.run()`` iterated to its event).
Each kind runs in its own child process (so CPU and RSS are its own) against the same loopback
server in a third process (benchmarks/loopback_server.py: the simulator would be the bottleneck at
these rates). Ours waits on Nitro's status endpoint; HttpSensorTrigger waits on Nitro's result
endpoint, which answers 404 while the job runs: exactly what it waits for. Both send the bearer token.

    python benchmarks/triggerer_scale.py                 # both default workloads, one run each
    BENCH_RUNS=3 python benchmarks/triggerer_scale.py    # medians of 3 runs
    python benchmarks/triggerer_scale.py --waits 1000 --spread 20 --interval 2 --runs 1

The coalescing workloads (same job, one Playment batch) run against the simulator itself.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KINDS = ("ours", "http", "plain")


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _server_stats(url: str, reset: bool = False) -> dict[str, int]:
    import httpx

    if reset:
        httpx.post(f"{url}/_reset")
    return dict(httpx.get(f"{url}/_stats").json())


# -- child: one kind, one run ---------------------------------------------------------------------
async def child(
    kind: str, waits: int, spread: float, interval: float, url: str, census: bool
) -> dict[str, Any]:
    os.environ["AIRFLOW_CONN_BENCH_NITRO"] = json.dumps(
        {"conn_type": "nitro", "host": f"{url}/nitro", "login": "bench", "password": "bench-secret"}
    )
    os.environ["AIRFLOW_CONN_BENCH_HTTP"] = json.dumps(
        {"conn_type": "http", "host": url, "extra": {"Authorization": "Bearer bench-token"}}
    )
    # every kind runs in a process that has loaded what a triggerer loads (Airflow, pydantic,
    # httpx...): the bare loop too, so that no column is cheaper only for its smaller heap
    import airflow.jobs.triggerer_job_runner  # noqa: F401

    if kind == "plain":
        import aiohttp

        session = aiohttp.ClientSession()
        make: Any = lambda done: _PlainWait(session, url, done, interval)  # noqa: E731
    else:
        make = _factory(kind, interval)
    # warm-up: imports, connection lookup, clients (a finished job answers at once)
    await _drive(make(time.time() - 1), time.time() - 1, [])
    # room to make every trigger first, and past the resume hold-off of the earliest (about 10 s)
    made_for = time.time() + 12.0 + 0.003 * waits
    done_at = [made_for + spread * (i + 0.5) / waits for i in range(waits)]
    triggers = [make(d) for d in done_at]
    gc.collect()
    base_rss = rss_kib()
    _server_stats(url, reset=True)
    t0 = time.time()
    lags: list[float] = []
    promoted = Promotions()
    if census:
        gc.callbacks.append(promoted)
    cpu0 = time.process_time()
    tasks = [asyncio.ensure_future(_drive(t, d, lags)) for t, d in zip(triggers, done_at, strict=True)]
    del triggers
    sample_at = t0 + min(interval + 0.5, spread / 4)
    await asyncio.sleep(max(0.0, sample_at - time.time()))
    waiting = sum(1 for t in tasks if not t.done())
    rss_waiting = rss_kib()
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu0
    if census:
        gc.callbacks.remove(promoted)
    stats = _server_stats(url)
    polls = stats.get("status", 0) + stats.get("result", 0)
    import httpx

    first = httpx.get(f"{url}/_first").json()
    # the ideal for the schedule each wait really had: a poll every interval from its first one
    # until the first poll at or after the job's end
    ideal = sum(math.ceil(max(0.0, d - first[f"d{int(d * 1000)}"]) / interval) + 1 for d in done_at)
    lags.sort()
    return {
        "kind": kind,
        "waits": waits,
        "polls": polls,
        "ideal_polls": ideal,
        "cpu_s": cpu,
        "cpu_ms_per_poll": 1000 * cpu / max(1, polls),
        "rss_kib_per_wait": (rss_waiting - base_rss) / max(1, waiting),
        "promoted_per_poll": promoted.count / max(1, polls) if census else math.nan,
        "lag_p50_s": lags[len(lags) // 2],
        "lag_p99_s": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        "events": len(lags),
    }


class Promotions:
    """Objects the collector moves into its oldest generation: each is walked by the next full
    collection, and a full collection starts once that generation has grown by a quarter. In a
    triggerer holding a large heap (Airflow keeps a DAG copy per trigger started from the trigger)
    a full collection stops the event loop for a good part of a second, so what a poll leaves
    there decides how often the loop stops."""

    def __init__(self) -> None:
        self.count = 0
        self._young = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 1:  # a young collection moves survivors one step; a full one, none
            return
        if phase == "start":
            self._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
        else:
            self.count += self._young - info["collected"]


def _factory(kind: str, interval: float) -> Any:
    if kind == "ours":
        return lambda done: _sensor_made_trigger(f"d{int(done * 1000)}", interval)
    from airflow.providers.http.triggers.http import HttpSensorTrigger

    return lambda done: HttpSensorTrigger(
        endpoint=f"nitro/jobs/d{int(done * 1000)}", http_conn_id="bench_http", poke_interval=interval
    )


def _sensor_made_trigger(job_id: str, interval: float) -> Any:
    """The trigger a user's deferrable ``JobStatusSensor`` hands the triggerer, as the triggerer
    makes it again from its stored kwargs."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
    from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger

    task = JobStatusSensor(
        task_id=f"wait_{job_id}", conn_id="bench_nitro", job_id=job_id, poke_interval=interval, timeout=3600
    )
    try:
        task.execute(context={})
    except TaskDeferred as deferred:
        _, kwargs = deferred.trigger.serialize()
        return JobStatusTrigger(**json.loads(json.dumps(kwargs)))
    # the job had ended at the sensor's check (the warm-up's): a trigger that finds it so
    return JobStatusTrigger("bench_nitro", job_id, poll_interval=interval)


class _PlainWait:
    """What a poll costs with the library alone: one aiohttp session, the same GET and the same
    fixed cadence as a wait, reading the JSON answer until the job is done."""

    def __init__(self, session: Any, url: str, done: float, interval: float) -> None:
        self.session, self.interval = session, interval
        self.url = f"{url}/nitro/jobs/d{int(done * 1000)}/status"

    async def run(self) -> Any:
        headers = {"Authorization": "Bearer bench-token"}
        while True:
            async with self.session.get(self.url, headers=headers) as resp:
                body = await resp.json()
            if body["status"] == "completed":
                yield _Event({"status": "done"})
                return
            await asyncio.sleep(self.interval)


class _Event:
    def __init__(self, payload: Any) -> None:
        self.payload = payload


async def _drive(trigger: Any, done_at: float, lags: list[float]) -> None:
    gen = trigger.run()
    try:
        event = await gen.__anext__()
    finally:
        await gen.aclose()
    lags.append(time.time() - done_at)
    payload = event.payload
    if payload is not True and payload.get("status") != "done":
        raise RuntimeError(f"unexpected event {payload!r}")


# -- parent --------------------------------------------------------------------------------------
def start_loopback() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_server.py")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["url"]


def run_child(
    kind: str, waits: int, spread: float, interval: float, url: str, census: bool
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--waits", str(waits), "--spread", str(spread)]
    cmd += ["--interval", str(interval), "--url", url] + (["--census"] if census else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=spread * 4 + 120)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def medians(results: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in results[0].items() if isinstance(v, (int, float))]
    return {**results[0], **{k: statistics.median(r[k] for r in results) for k in keys}}


def table(workload: str, rows: dict[str, dict[str, Any]]) -> str:
    ours, theirs, bare = rows["ours"], rows["http"], rows["plain"]
    lines = [
        f"### {workload}",
        "",
        "| | JobStatusTrigger (sensor-made) | HttpSensorTrigger | plain aiohttp loop | ours / theirs "
        "| ours / plain |",
        "|---|---|---|---|---|---|",
    ]
    for key, label, fmt in [
        ("polls", "polls served", "{:.0f}"),
        ("ideal_polls", "ideal polls for the schedule", "{:.0f}"),
        ("cpu_s", "client CPU (s)", "{:.2f}"),
        ("cpu_ms_per_poll", "CPU per poll (ms)", "{:.3f}"),
        ("rss_kib_per_wait", "RSS per waiting trigger (KiB)", "{:.1f}"),
        ("promoted_per_poll", "objects promoted to the oldest GC generation per poll", "{:.2f}"),
        ("lag_p50_s", "detection lag p50 (s)", "{:.3f}"),
        ("lag_p99_s", "detection lag p99 (s)", "{:.3f}"),
    ]:
        a, b, c = ours[key], theirs[key], bare[key]
        if all(math.isnan(v) for v in (a, b, c)):
            continue  # not measured in this run (the census needs --census)
        ratio = f"{a / b:.2f}" if b else "-"
        floor = f"{a / c:.2f}" if c else "-"
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {fmt.format(c)} | {ratio} | {floor} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", choices=KINDS)
    parser.add_argument("--url")
    parser.add_argument("--waits", type=int)
    parser.add_argument("--spread", type=float, help="jobs finish uniformly over this many seconds")
    parser.add_argument("--interval", type=float)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "1")))
    parser.add_argument("--census", action="store_true", help="count objects promoted by the GC (costs CPU)")
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(child(args.child, args.waits, args.spread, args.interval, args.url, args.census))
        print(json.dumps(result))
        return
    workloads = (
        [(args.waits, args.spread, args.interval)] if args.waits else [(1000, 20.0, 2.0), (5000, 60.0, 5.0)]
    )
    server, url = start_loopback()
    print(
        f"Triggerer-scale benchmark, {date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; medians of {args.runs} runs; server: loopback_server.py\n"
    )
    try:
        for waits, spread, interval in workloads:
            # rounds of one run of each kind, so that a slow spell of a shared machine falls on
            # every kind alike instead of on all the runs of one
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
            for _ in range(args.runs):
                for kind in KINDS:
                    runs[kind].append(run_child(kind, waits, spread, interval, url, args.census))
            rows = {kind: medians(results) for kind, results in runs.items()}
            print(table(f"N={waits}, D={spread:.0f} s, I={interval:.0f} s", rows), "\n", flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
