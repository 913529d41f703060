"""``make bench-triggerer``: N concurrent waits in one real triggerer, ours and providers-http's
side by side, net of Airflow's own cost of the same number of deferred triggers.

For each kind (``ours``: JobStatusSensor; ``theirs``: HttpSensorTrigger on the same Nitro jobs'
result endpoint, which answers 404 while a job runs; ``floor``: DateTimeTriggers firing a day later)
a fresh local Airflow (SQLite, LocalExecutor, one triggerer) runs N unmapped ``start_from_trigger``
tasks (the DAGs of ``benchmarks/dags/bench_memory_waits.py``, ``--per-dag`` tasks each), so no worker
runs before the wait. Once the trigger runner reports all N triggers running, a measuring window
opens in which ``--ending`` jobs end at spread-out moments (lag is measured on those: the trigger's
"fired" log time minus the job's end; each then resumes on a worker for ``execute_complete``); the
rest keep running. Reported per kind: the triggerer's processes' (supervisor and trigger runner) CPU
seconds per poll and RSS per wait from ``/proc`` (RSS: median over the window less the same
triggerer's median before any trigger), gross and net of the DateTimeTrigger floor; lag p50/p99;
and the triggerer's "async thread was blocked" warnings in the window (and, apart, while the
triggers were being created: Airflow's own work).

The waits are spread over DAGs of ``--per-dag`` tasks (10): Airflow 3.3 hands a trigger started from
the trigger its whole serialized DAG and the trigger runner deserializes and keeps a copy of it per
trigger; with all 1,000 in one DAG that is quadratic (each trigger takes ~0.1-0.5 s of the loop to
create, the runner goes silent past the triggerer's health check, and it holds ~2.5 GiB).

With ``--trace-gc`` every process of the measured Airflow records its full garbage collections
(``benchmarks/gc_trace``), and the report says how many the trigger runner ran in the window, how
long the longest took, and how many of the blocked-loop warnings one of them accounts for.

    python -m benchmarks.triggerer_real --waits 1000 --poll 10 --window 300 --ending 50
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from benchmarks.triggerer_memory import (
    DAG_PREFIX,
    DAGS,
    SPEC_VARIABLE,
    _bearer,
    _jobs,
    compile_as_installed,
    process_tree_rss,
)
from dev.drill import SchedSampler
from dev.local_airflow import LocalAirflow, parse_time, read_log_events

GC_TRACE = Path(__file__).resolve().parent / "gc_trace"
BLOCKED = re.compile(r"^(\S+) .*async thread was blocked for ([0-9.]+) seconds", re.IGNORECASE | re.M)
RUNNING = re.compile(r"(\d+) triggers currently running")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KINDS = ("floor", "ours", "theirs")
#: on request: ``quiet``, ours with the sensor's ``seen_status`` set, so its trigger logs no line of
#: its own (Airflow logs "trigger ... starting" for every trigger, the floor's included); and
#: ``sleeper`` (``benchmarks.floor_triggers.SleepingTrigger``), which only sleeps I in a loop
COLUMNS = {
    "sleeper": "a trigger that only sleeps I in a loop",
    "ours": "ours (JobStatusTrigger)",
    "quiet": "ours, no log lines of its own",
    "theirs": "theirs (HttpSensorTrigger)",
}


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def polls_served(sim: Simulator) -> int:
    """Nitro status and result requests answered so far (ours polls one, theirs the other)."""
    counts = sim.requests(include_log=False)["counts"]
    return sum(int(n) for route, n in counts.items() if route in ("nitro.status", "nitro.result"))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def sample_rss(pid: int, seconds: float, every: float) -> float:
    samples: list[int] = []
    end = time.monotonic() + seconds
    while True:
        samples.append(sum(process_tree_rss(pid).values()))
        if time.monotonic() + every > end:
            return float(statistics.median(samples))
        time.sleep(every)


def triggerer_log(af: LocalAirflow) -> str:
    return (af.process_logs / "triggerer.log").read_text(errors="replace")


def wait_running(af: LocalAirflow, waits: int, timeout: float) -> None:
    """Until the trigger runner says it runs ``waits`` triggers (it says so once a minute): then
    every trigger is created, not only assigned."""
    deadline = time.monotonic() + timeout
    while True:
        af.check_alive()
        counts = [int(n) for n in RUNNING.findall(triggerer_log(af))]
        if counts and counts[-1] >= waits:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"after {timeout:.0f} s the triggerer runs {counts[-1:] or 0} of {waits}")
        time.sleep(2.0)


def blocked_between(text: str, since: float, until: float) -> list[tuple[float, float]]:
    """(when logged, seconds) of each blocked-loop warning logged in [since, until]."""
    found = [(parse_time(stamp) or 0.0, float(seconds)) for stamp, seconds in BLOCKED.findall(text)]
    return [(at, seconds) for at, seconds in found if since <= at <= until]


def full_collections(folder: Path, pids: list[int], since: float, until: float) -> list[dict[str, Any]]:
    """The full collections the trigger runner (``pids`` but the first, the triggerer's supervisor,
    whose loop runs no trigger) recorded (``--trace-gc``) that ended in [since, until], each with
    its start added."""
    found = []
    for pid in pids[1:]:
        path = folder / f"gc-{pid}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if since <= record["end"] <= until:
                found.append({**record, "start": record["end"] - record["seconds"], "pid": pid})
    return sorted(found, key=lambda r: r["end"])


def explained(blocked: list[tuple[float, float]], collections: list[dict[str, Any]]) -> int:
    """How many warnings a full collection overlaps: the watchdog logs once the loop is back, so
    the collection ran within the blocked stretch that ends at the warning."""
    return sum(
        any(c["start"] <= at and c["end"] >= at - seconds - 0.1 for c in collections)
        for at, seconds in blocked
    )


def yield_cpu_to_the_triggerer(af: LocalAirflow) -> None:
    """Give every process but the triggerer's the lowest CPU priority: the scheduler (and the task
    processes its executor starts for ``execute_complete``), the API server, the DAG processor, and
    this process with the simulator in it. In production they run on machines of their own; here,
    on two cores, a task process starting up otherwise takes the CPU from the trigger runner, whose
    loop then logs "async thread was blocked" for time in which no trigger ran."""
    pids = [pid for name in af.components if name != "triggerer" for pid in af.component_pids(name)]
    for pid in [*pids, os.getpid()]:
        with contextlib.suppress(OSError):
            for thread in os.listdir(f"/proc/{pid}/task"):  # nice is per thread on Linux
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, int(thread), 19)


def measure(kind: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    home = root / kind
    home.mkdir()
    with Simulator() as sim:
        if kind in ("floor", "sleeper"):
            job_ids = _jobs("floor", sim, args.waits)  # a moment a day away
        else:
            job_ids = [str(sim.create_job("nitro", hold=True)["job_id"]) for _ in range(args.waits)]
        spec: dict[str, Any] = {
            "kind": kind,
            "job_ids": job_ids,
            "interval": args.poll,
            "per_dag": args.per_dag,
        }
        if kind == "theirs":
            spec["headers"] = _bearer(sim)  # benchmark only: a real DAG never does this
        spec_file = home / "spec.json"
        spec_file.write_text(json.dumps(spec))
        dag_ids = [f"{DAG_PREFIX}_{n:03d}" for n in range(-(-args.waits // args.per_dag))]
        env = {
            **connection_env(sim),
            "AIRFLOW_CONN_NITRO_HTTP": json.dumps({"conn_type": "http", "host": sim.base_url("nitro")}),
            SPEC_VARIABLE: str(spec_file),
            "AIRFLOW__TRIGGERER__CAPACITY": str(args.waits + 100),
        }
        gc_folder = home / "gc"
        if args.trace_gc:
            gc_folder.mkdir()
            path = [str(GC_TRACE), os.environ.get("PYTHONPATH", "")]
            env.update(JOBSTATUS_GC_TRACE=str(gc_folder), PYTHONPATH=os.pathsep.join(p for p in path if p))
        with LocalAirflow(home, DAGS, env=env, parallelism=4, serve_logs=False, startup_timeout=900) as af:
            af.wait_for_dags(dag_ids, timeout=900)
            yield_cpu_to_the_triggerer(af)
            sched = SchedSampler(af)
            sched.start()
            triggerer = af.components["triggerer"].popen
            assert triggerer is not None
            time.sleep(args.poll)
            idle_rss = sample_rss(triggerer.pid, 5 * args.poll / 2, args.poll / 2)
            ramp_from = time.time()
            runs = {dag_id: af.trigger(dag_id) for dag_id in dag_ids}
            wait_running(af, args.waits, timeout=900 + args.waits)
            ramp = time.time() - ramp_from
            time.sleep(args.poll * 2)  # every wait past its first poll
            pids = list(process_tree_rss(triggerer.pid))
            cpu0, served0, t0 = cpu_seconds(pids), polls_served(sim), time.time()
            step = (args.window - 3 * args.poll) / max(1, args.ending)
            ended: dict[int, float] = {}
            rss: list[int] = []
            for n in range(args.ending):
                while time.time() < t0 + args.poll + n * step:
                    time.sleep(0.2)
                if kind not in ("floor", "sleeper"):
                    sim.finish(job_ids=[job_ids[n]])
                ended[n] = time.time()
                rss.append(sum(process_tree_rss(triggerer.pid).values()))
            while time.time() < t0 + args.window:
                time.sleep(0.5)
            t1 = time.time()
            cpu1, served1 = cpu_seconds(pids), polls_served(sim)
            rss.append(sum(process_tree_rss(triggerer.pid).values()))
            lags = []
            if kind not in ("floor", "sleeper"):
                for n, at in ended.items():
                    dag_id = f"{DAG_PREFIX}_{n // args.per_dag:03d}"
                    fired = [
                        parse_time(e.get("timestamp"))
                        for path in af.trigger_logs(dag_id, runs[dag_id], f"wait_{n:04d}")
                        for e in read_log_events(path)
                        if e.get("event") == "Trigger fired event"
                    ]
                    fired_at = min((f for f in fired if f is not None), default=None)
                    if fired_at is not None:
                        lags.append(fired_at - at)
            text = triggerer_log(af)
            sched.stopped.set()
            blocked = blocked_between(text, t0, t1)
            # per warning: how long the busiest triggerer process ran, and waited for a CPU
            held = [sched.split("triggerer", at - seconds, at) for at, seconds in blocked]
            collections = full_collections(gc_folder, pids, t0, t1) if args.trace_gc else []
    return {
        "kind": kind,
        "cpu": cpu1 - cpu0,
        "polls": served1 - served0,
        "rss_kib": statistics.median(rss) - idle_rss,
        "idle_kib": idle_rss,
        "lags": lags,
        "detected": len(lags),
        "blocked": [seconds for _, seconds in blocked],
        "blocked_at": [at for at, _ in blocked],
        "blocked_ran_waited": [sum(h[0] for h in held), sum(h[1] for h in held)],
        "blocked_ramp": [seconds for _, seconds in blocked_between(text, ramp_from, t0)],
        "ramp_s": ramp,
        "full_gc": [[round(c["seconds"], 3), c["kept"], round(c["end"] - t0)] for c in collections],
        "full_gc_explains": explained(blocked, collections) if args.trace_gc else None,
    }


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    floor = results.get("floor")
    lines = [
        f"N={args.waits} start_from_trigger waits in one triggerer ({args.per_dag} per DAG), poll "
        f"{args.poll:.0f} s, window {args.window:.0f} s, {args.ending} jobs end in it",
    ]
    kinds = [k for k in ("ours", "quiet", "theirs", "sleeper", "floor") if k in results]
    lines.append("| | " + " | ".join(COLUMNS.get(k, "floor (DateTimeTrigger)") for k in kinds) + " |")
    lines.append("|---" * (len(kinds) + 1) + "|")

    def cell(kind: str, fn: Any) -> str:
        r = results.get(kind)
        return fn(r) if r else "-"

    def per_poll(r: dict[str, Any], net: bool) -> str:
        if not r["polls"]:
            return f"({r['cpu']:.1f} s CPU in the window)"
        if net and not floor:
            return "-"
        cpu = r["cpu"] - (floor["cpu"] if net and floor else 0.0)
        return f"{1000 * cpu / r['polls']:.3f}"

    def per_wait(r: dict[str, Any], net: bool) -> str:
        if net and (not floor or r is floor):
            return "-"
        kib = r["rss_kib"] - (floor["rss_kib"] if net and floor else 0)
        return f"{kib / args.waits:.1f}"

    def lag(r: dict[str, Any]) -> str:
        if not r["lags"]:
            return "-"
        p50, p99 = percentile(r["lags"], 0.5), percentile(r["lags"], 0.99)
        return f"{p50:.2f} / {p99:.2f} ({r['detected']}/{args.ending})"

    def blocked(values: list[float]) -> str:
        return f"{len(values)}" + (f" (longest {max(values):.2f} s)" if values else "")

    def held(r: dict[str, Any]) -> str:
        if not r["blocked"]:
            return "-"
        ran, waited = r["blocked_ran_waited"]
        return f"{sum(r['blocked']):.2f} s: ran {ran:.2f} s, waited for a CPU {waited:.2f} s"

    def full_gc(r: dict[str, Any]) -> str:
        if r["full_gc_explains"] is None:
            return "(--trace-gc)"
        if not r["full_gc"]:
            return "0"
        longest = max(r["full_gc"])
        return (
            f"{len(r['full_gc'])} (longest {longest[0]:.2f} s, {longest[1]:,} objects kept); "
            f"{r['full_gc_explains']} of {len(r['blocked'])} warnings during one"
        )

    rows = [
        ("triggers created in (s)", lambda r: f"{r['ramp_s']:.0f}"),
        ("polls served in the window", lambda r: str(r["polls"])),
        ("CPU ms per poll, gross", lambda r: per_poll(r, False)),
        ("CPU ms per poll, net of the floor", lambda r: per_poll(r, True)),
        ("triggerer RSS before the waits (MiB)", lambda r: f"{r['idle_kib'] / 1024:.0f}"),
        ("RSS KiB per wait, gross", lambda r: per_wait(r, False)),
        ("RSS KiB per wait, net of the floor", lambda r: per_wait(r, True)),
        ("detection lag p50 / p99 (s)", lag),
        ("'async thread was blocked' in the window", lambda r: blocked(r["blocked"])),
        ("... of which the trigger runner", held),
        ("... while the triggers were created", lambda r: blocked(r["blocked_ramp"])),
        ("full GCs in the trigger runner in the window", full_gc),
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
    parser.add_argument("--per-dag", type=int, default=10, help="waits (tasks) per DAG")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--trace-gc", action="store_true", help="record the full garbage collections")
    parser.add_argument("--keep", help="a new folder to keep the Airflow homes (and GC traces) in")
    args = parser.parse_args()
    compile_as_installed()
    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        tmp = args.keep or stack.enter_context(tempfile.TemporaryDirectory(prefix="jobstatus-bench-"))
        Path(tmp).mkdir(parents=True, exist_ok=True)
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
