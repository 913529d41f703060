"""Memory per wait in a real triggerer: N waits started from the trigger, side by side with N
``DateTimeTrigger``s (Airflow's own cost of a deferred trigger: the floor) and N providers-http
``HttpSensorTrigger``s (theirs) on an equivalent endpoint.

Each kind runs in a fresh Airflow of its own (benchmarks' local-Airflow runner: scheduler with
LocalExecutor, triggerer, API server, DAG processor; SQLite) against the vendor simulator, for the
same window. What is measured is the resident memory (``VmRSS`` from ``/proc``) of the triggerer
and every process under it (its supervisor and the trigger runner), sampled every interval over
the window; a kind's figure is the median sample minus the same triggerer's median before any
trigger was created. Per wait, net = (kind - floor) / N.

The waits are spread over DAGs of ``--per-dag`` tasks (10): Airflow 3.3 hands a trigger started from
the trigger its task's whole serialized DAG, and the trigger runner keeps a deserialized copy of
that DAG per trigger, so with one big DAG per kind the figures would mostly compare the operators'
serialized sizes times the DAG's length.

- floor: ``DateTimeTrigger`` (providers-standard), a date a day away: it sleeps, logging
  two lines of its own after Airflow's "trigger ... starting" (every trigger gets that one).
  Floor and theirs are started by a benchmark-only sensor task, as ours is by ``JobStatusSensor``:
  the DAG copy Airflow keeps per trigger costs more for sensor tasks than for plain operators.
- floor-conn: the floor plus one connection read per trigger
  (``benchmarks.floor_triggers.ConnectionReadingDateTimeTrigger``): Airflow's cost of a trigger that
  reads its connection, which includes the in-process Execution API the triggerer's supervisor
  builds at the first such read (paid once per triggerer, by ours and theirs alike).
- ours: ``JobStatusSensor(start_from_trigger=True)`` on a Nitro job that runs for an hour, polling
  ``/jobs/{id}/status`` every I seconds; its first poll logs the job's state, as a real wait does.
- theirs: ``HttpSensorTrigger`` polling the same job's Nitro result endpoint ``/jobs/{id}``, which
  answers 404 while the job runs (what that trigger waits for), with the same bearer token.
- quiet (on request): ours with the sensor's ``seen_status`` set to the job's status, so the
  trigger logs no line of its own: the cost of a wait's own log lines, compared with ours.

With several sizes (``--waits 200,1000``) each kind runs at each size, and the report adds the
marginal memory of one more wait: the slope of a kind's added RSS between the smallest and the
largest size, gross and beyond the floor's slope. The net figure at one size includes what a
triggerer pays once for any number of waits (a session, a token, a pool of connections, imports);
the slope leaves that out and is what capacity planning for more waits needs.

    python -m benchmarks.triggerer_memory                       # 200 waits, I = 2 s, 60 s window
    python -m benchmarks.triggerer_memory --kinds floor,ours --waits 100 --runs 3
    python -m benchmarks.triggerer_memory --kinds floor,ours,theirs --waits 200,1000 --interval 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow

HERE = Path(__file__).resolve().parent
DAGS = HERE / "dags"
DAG_PREFIX = "bench_memory_waits"
SPEC_VARIABLE = "JOBSTATUS_BENCH_MEMORY_SPEC"
KINDS = ("floor", "floor-conn", "ours", "theirs", "quiet")
FLOORS = ("floor", "floor-conn")


def compile_as_installed() -> None:
    """Bytecode for the package, as installing a wheel writes it (pip compiles at install time).
    A checkout installed in editable mode under ``PYTHONDONTWRITEBYTECODE`` would otherwise have
    the measured triggerer compile our modules, a cost (and a memory high-water mark) that no
    installed provider pays; providers-http and Airflow come with their bytecode."""
    import compileall

    import airflow_provider_jobstatus

    compileall.compile_dir(str(Path(airflow_provider_jobstatus.__file__).parent), quiet=1)


# -- /proc ------------------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree_rss(root: int) -> dict[int, int]:
    """KiB resident per process: ``root`` and all its descendants."""
    tree = _children()
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        found[pid] = _rss_kib(pid)
        todo.extend(tree.get(pid, ()))
    return found


# -- one kind ---------------------------------------------------------------------------------------
@dataclass
class Sample:
    kind: str
    idle_kib: float
    loaded_kib: float
    idle_split: list[float] = field(default_factory=list)
    loaded_split: list[float] = field(default_factory=list)
    polls_per_s: float | None = None
    triggers: int = 0

    @property
    def added_kib(self) -> float:
        return self.loaded_kib - self.idle_kib


def _median_rss(pid: int, seconds: float, every: float) -> tuple[float, list[float]]:
    """Median total RSS of ``pid``'s tree over ``seconds``, and the medians of the triggerer
    process itself (the supervisor) and of its children (the trigger runner)."""
    samples: list[tuple[int, int]] = []
    end = time.monotonic() + seconds
    while True:
        rss = process_tree_rss(pid)
        samples.append((rss.pop(pid), sum(rss.values())))
        if time.monotonic() + every > end:
            break
        time.sleep(every)
    supervisor = statistics.median(s for s, _ in samples)
    runner = statistics.median(r for _, r in samples)
    return statistics.median(s + r for s, r in samples), [supervisor, runner]


def _jobs(kind: str, sim: Simulator, waits: int) -> list[str]:
    if kind in FLOORS:
        moment = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
        return [moment] * waits
    return [str(sim.create_job("nitro", polls=10**9)["job_id"]) for _ in range(waits)]


def _bearer(sim: Simulator) -> dict[str, str]:
    creds = sim.credentials["nitro"]
    answer = httpx.post(
        f"{sim.base_url('nitro')}/oauth/token",
        json={"clientID": creds["client_id"], "clientSecret": creds["client_secret"]},
        timeout=30,
    )
    answer.raise_for_status()
    body = answer.json()
    return {"Authorization": f"Bearer {body.get('accessToken') or body['access_token']}"}


def run_kind(kind: str, args: argparse.Namespace, root: Path, sim: Simulator) -> Sample:
    home = root / kind
    home.mkdir(parents=True)
    ids = _jobs(kind, sim, args.waits)
    spec: dict[str, object] = {
        "kind": kind,
        "job_ids": ids,
        "interval": args.interval,
        "per_dag": args.per_dag,
    }
    dag_ids = [f"{DAG_PREFIX}_{n:03d}" for n in range(-(-args.waits // args.per_dag))]
    if kind == "theirs":
        spec["headers"] = _bearer(sim)
    spec_path = home / "spec.json"
    spec_path.write_text(json.dumps(spec))
    settle = 600 + args.waits  # creating a trigger started from the trigger takes ~0.1-0.5 s
    env = {
        **connection_env(sim),
        "AIRFLOW_CONN_NITRO_HTTP": json.dumps({"conn_type": "http", "host": sim.base_url("nitro")}),
        SPEC_VARIABLE: str(spec_path),
        # the triggerer imports benchmarks.floor_triggers for the floor-conn kind
        "PYTHONPATH": os.pathsep.join(p for p in (str(HERE.parent), os.environ.get("PYTHONPATH")) if p),
    }
    with LocalAirflow(home, DAGS, env=env, parallelism=2, serve_logs=False, startup_timeout=900) as airflow:
        airflow.wait_for_dags(dag_ids, timeout=settle)
        triggerer = airflow.components["triggerer"].popen
        assert triggerer is not None
        time.sleep(args.interval * 3)  # the triggerer settles after start-up
        idle, idle_split = _median_rss(triggerer.pid, 10 * args.interval, args.interval)
        for dag_id in dag_ids:
            airflow.trigger(dag_id)
        running = _wait_for_triggers(airflow, args.waits, timeout=settle)
        time.sleep(args.interval * 3)  # every wait has made its first poll (and logged, if it does)
        polled, started = _polls(sim), time.monotonic()
        loaded, loaded_split = _median_rss(triggerer.pid, args.window, args.interval)
        rate = (_polls(sim) - polled) / (time.monotonic() - started)
        still = _deferred(airflow)
        if still < args.waits:  # a trigger that failed (to load, say) would make the figure a lie
            raise RuntimeError(f"{kind}: only {still} of {args.waits} waits were still deferred")
    return Sample(kind, idle, loaded, idle_split, loaded_split, rate, running)


def _wait_for_triggers(airflow: LocalAirflow, waits: int, timeout: float) -> int:
    """Until ``waits`` task instances are deferred with their triggers taken by the triggerer."""
    deadline = time.monotonic() + timeout
    while True:
        airflow.check_alive()
        deferred = _deferred(airflow)
        taken = airflow.query("SELECT COUNT(*) FROM trigger WHERE triggerer_id IS NOT NULL")[0][0]
        if deferred >= waits and taken >= waits:
            return int(taken)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"after {timeout:.0f} s: {deferred} deferred, {taken} triggers taken of {waits}"
            )
        time.sleep(1.0)


def _deferred(airflow: LocalAirflow) -> int:
    return int(airflow.query("SELECT COUNT(*) FROM task_instance WHERE state = 'deferred'")[0][0])


def _polls(sim: Simulator) -> int:
    """Nitro status and result requests the simulator has answered so far."""
    counts = sim.requests(include_log=False)["counts"]
    return sum(int(n) for route, n in counts.items() if route in ("nitro.status", "nitro.result"))


# -- report -----------------------------------------------------------------------------------------
def report(samples: dict[str, list[Sample]], waits: int) -> None:
    """The table: per kind, the triggerer before and with the waits, and per wait beyond each floor
    (``net`` beyond ``DateTimeTrigger``; ``net vs conn`` beyond the floor that reads a connection)."""

    def net(kind: str, floor: str) -> str:
        if kind in FLOORS or floor not in samples:
            return "-"
        return f"{(added(samples, kind) - added(samples, floor)) / waits:.1f}"

    print(f"\n{waits} waits each; triggerer RSS (supervisor + trigger runner), medians of runs:")
    header = (
        "kind", "idle MiB", "loaded MiB", "KiB/wait", "net KiB/wait", "net vs conn", "polls/s",
        "sup/runner KiB/wait",
    )  # fmt: skip
    print("  ".join(f"{h:>12}" for h in header))
    for kind, runs in samples.items():
        split = [median([(s.loaded_split[i] - s.idle_split[i]) / waits for s in runs]) for i in (0, 1)]
        cells = (
            kind,
            f"{median([s.idle_kib for s in runs]) / 1024:.1f}",
            f"{median([s.loaded_kib for s in runs]) / 1024:.1f}",
            f"{added(samples, kind) / waits:.1f}",
            net(kind, "floor"),
            net(kind, "floor-conn"),
            f"{median([s.polls_per_s or 0.0 for s in runs]):.1f}",
            f"{split[0]:.0f} / {split[1]:.0f}",
        )
        print("  ".join(f"{c:>12}" for c in cells))


def report_slope(by_size: dict[int, dict[str, list[Sample]]]) -> None:
    """Marginal KiB of one more wait between the smallest and the largest size, beside the net
    figure at the smallest."""
    low, high = min(by_size), max(by_size)

    def slope(kind: str) -> float:
        return (added(by_size[high], kind) - added(by_size[low], kind)) / (high - low)

    print(f"\nOne more wait, {low} to {high} waits (KiB; net, beyond: less the DateTimeTrigger floor's):")
    header = ("kind", f"net at {low}", "marginal", "marginal beyond")
    print("  ".join(f"{h:>16}" for h in header))
    for kind in by_size[low]:
        own = kind not in FLOORS and "floor" in by_size[low]
        net_low = (added(by_size[low], kind) - added(by_size[low], "floor")) / low if own else 0.0
        beyond = slope(kind) - slope("floor") if own else 0.0
        cells = (
            kind,
            f"{net_low:.1f}" if own else "-",
            f"{slope(kind):.1f}",
            f"{beyond:.1f}" if own else "-",
        )
        print("  ".join(f"{c:>16}" for c in cells))


def added(samples: dict[str, list[Sample]], kind: str) -> float:
    return statistics.median(s.added_kib for s in samples[kind])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--waits", default="200", help="waits per run; several sizes comma-separated (200,1000) add the slope"
    )
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls (I)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds sampled with every wait running")
    parser.add_argument(
        "--kinds", default="floor,floor-conn,ours,theirs", help=f"comma-separated, of {', '.join(KINDS)}"
    )
    parser.add_argument("--per-dag", type=int, default=10, help="waits (tasks) per DAG")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "1")))
    parser.add_argument("--keep", help="a new folder to keep the Airflow homes in (default: temporary)")
    args = parser.parse_args(argv)
    compile_as_installed()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    sizes = sorted({int(n) for n in args.waits.split(",") if n.strip()})
    if not sizes or sizes[0] < 1:
        parser.error(f"--waits {args.waits!r}: give one or more positive numbers")
    by_size: dict[int, dict[str, list[Sample]]] = {n: {kind: [] for kind in kinds} for n in sizes}
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        root = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = stack.enter_context(Simulator())
        for run in range(args.runs):
            for waits in sizes:
                sized = argparse.Namespace(**{**vars(args), "waits": waits})
                for kind in kinds:
                    sample = run_kind(kind, sized, root / f"run{run + 1}" / str(waits), sim)
                    by_size[waits][kind].append(sample)
                    loaded = f"{sample.loaded_kib / 1024:.1f} MiB ({sample.added_kib / waits:.0f} KiB each)"
                    print(
                        f"run {run + 1} {kind} x{waits}: idle {sample.idle_kib / 1024:.1f} MiB, "
                        f"with {sample.triggers} triggers {loaded}",
                        flush=True,
                    )
    for waits in sizes:
        report(by_size[waits], waits)
    if len(sizes) > 1:
        report_slope(by_size)
    print(f"total time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
