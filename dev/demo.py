"""``make demo``: the example DAGs on a real local Airflow against the vendor simulator.

Starts the simulator and Airflow (scheduler with LocalExecutor, triggerer, API server, DAG
processor; SQLite in ``.airflow-demo/``), stores the vendor connections in Airflow's DB (so
they show in the UI, where the Test button works), triggers every example DAG, waits, and prints
per run task: final state, time spent deferred, the file the download wrote and its sha256. Exits 0
only if every run succeeded; always stops what it started.

``--keep`` leaves everything running after the table until Ctrl-C; ``--serve`` (``make airflow``)
starts the same Airflow on the existing home without triggering anything, to look around.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from dev.local_airflow import LocalAirflow, LocalAirflowError, RunWatch

REPO = Path(__file__).resolve().parents[1]
VENDORS = ("nitro", "pdfco", "alteryx", "apidatatools", "playment")
BATCH_DAG = "example_jobstatus_playment_batch"
EXAMPLE_DAGS = (
    *(f"example_jobstatus_{vendor}" for vendor in VENDORS),
    "example_jobstatus_all_vendors",
    BATCH_DAG,
    "example_jobapi",
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dev.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=REPO / ".airflow-demo", help="AIRFLOW_HOME to use")
    parser.add_argument("--dags", type=Path, default=REPO / "example_dags", help="the DAG folder")
    parser.add_argument("--port", type=int, default=0, help="API server / UI port (0: a free one)")
    parser.add_argument("--parallelism", type=int, default=4, help="LocalExecutor worker processes")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the runs")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--keep", action="store_true", help="keep Airflow running after the demo (Ctrl-C stops)"
    )
    mode.add_argument("--serve", action="store_true", help="only start Airflow on the existing home")
    return parser.parse_args(argv)


def say(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)


def fresh_home(home: Path) -> None:
    """A clean DB and logs for every demo run; the admin password (passwords.json) is kept."""
    if not home.exists():
        return
    for entry in home.iterdir():
        if entry.name == "passwords.json":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def add_connections(airflow: LocalAirflow, sim: Any) -> None:
    """The default connections (the declared API's too), pointing at the simulator, as real DB
    rows (visible in the UI)."""
    from airflow_provider_jobstatus.testing.connections import DEFAULT_CONN_IDS, connection_dict

    for vendor, conn_id in DEFAULT_CONN_IDS.items():
        airflow.set_connection(
            conn_id, {**connection_dict(sim, vendor), "description": "vendor simulator (make demo)"}
        )


class Progress:
    """Prints when a run task is deferred or done, and when a run ends, while the runs go on."""

    SHOWN_STATES = frozenset({"deferred", "success", "failed", "up_for_retry", "skipped"})

    def __init__(self, started: float) -> None:
        self.started = started
        self.shown: dict[tuple[str, str], str | None] = {}

    def __call__(self, watches: dict[str, RunWatch]) -> None:
        for dag_id, watch in watches.items():
            for task, row in watch.final.items():
                if not task.startswith("run_") or row.state not in self.SHOWN_STATES:
                    continue
                if self.shown.get((dag_id, task)) != row.state:
                    self.shown[(dag_id, task)] = row.state
                    say(f"{dag_id}.{task}: {row.state}", self.started)
            if watch.state in ("success", "failed") and self.shown.get((dag_id, "")) != watch.state:
                self.shown[(dag_id, "")] = watch.state
                say(f"{dag_id}: run {watch.state}", self.started)


def summarize(
    airflow: LocalAirflow, runs: dict[str, str], watches: dict[str, RunWatch]
) -> list[dict[str, Any]]:
    """One row per run task (and one for the batch DAG): state, seconds deferred, file and sha256."""
    rows: list[dict[str, Any]] = []
    for dag_id, run_id in runs.items():
        watch = watches[dag_id]
        deferrals = airflow.deferrals(dag_id, run_id)
        for task, ti in sorted(watch.final.items()):
            if dag_id == BATCH_DAG and task == "list_jobs":
                report = airflow.xcom(dag_id, run_id, "report") or {}
                rows.append(
                    {
                        "dag": dag_id,
                        "task": task,
                        "state": ti.state,
                        "deferred_s": None,
                        "file": f"{report.get('completed', '?')} jobs in {report.get('chunks', '?')} chunks",
                        "sha256": None,
                    }
                )
            if not task.startswith("run_"):
                continue
            vendor = task.removeprefix("run_")
            seconds = [d.seconds for d in deferrals.get(task, []) if d.seconds is not None]
            written = airflow.xcom(dag_id, run_id, f"download_{vendor}") or [{}]
            first = written[0] if isinstance(written, list) and written else {}
            rows.append(
                {
                    "dag": dag_id,
                    "task": task,
                    "state": ti.state,
                    "deferred_s": round(sum(seconds), 1) if seconds else None,
                    "download_state": (watch.final.get(f"download_{vendor}") or ti).state,
                    "file": first.get("destination"),
                    "sha256": first.get("sha256"),
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]], output: Path) -> None:
    """The summary; files are shown relative to their run's folder under ``output``."""

    def cell(row: dict[str, Any], key: str) -> str:
        value = row.get(key)
        if value is None:
            return "-"
        if key == "deferred_s":
            return f"{value:.1f} s"
        if key == "file" and Path(str(value)).is_relative_to(output):
            return str(Path(*Path(value).relative_to(output).parts[2:]))  # drop <dag>/<run>/
        if key == "sha256":
            return f"{str(value)[:16]}…"
        return str(value)

    columns = [("dag", "DAG"), ("task", "task"), ("state", "state"), ("deferred_s", "deferred")]
    columns += [("file", "file written"), ("sha256", "sha256")]
    table = [[title for _, title in columns]] + [[cell(row, key) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    print(f"(files under {output}/<DAG>/<run id>/; full sha256 in demo-summary.json)")
    for n, line in enumerate(table):
        print("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


class Stopped(Exception):
    """Ctrl-C while serving: the way a person ends ``--serve``/``--keep``, not a failure."""


def wait_forever(airflow: LocalAirflow) -> None:
    """Until Ctrl-C (or SIGTERM), or until a component dies."""
    try:
        while True:
            airflow.check_alive()
            time.sleep(2.0)
    except KeyboardInterrupt:
        print("\nstopping Airflow and the simulator...", flush=True)
        raise Stopped from None


def print_access(airflow: LocalAirflow, keep: bool) -> None:
    login = f"user {airflow.username}, password {airflow.password}"
    if keep:
        print(f"\nAirflow UI: {airflow.url}  ({login}). Running until Ctrl-C.", flush=True)
        return
    print(f"\nThe Airflow UI was at {airflow.url}  ({login}); everything is stopped now.")
    print(
        "To look around: `make airflow` (same home, runs, connections and password; it prints its URL;"
        " AIRFLOW_ARGS='--port 8080' fixes the port) or `make demo DEMO_ARGS=--keep`."
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # the with-blocks below stop everything

    signal.signal(signal.SIGTERM, on_term)
    dags = args.dags.resolve()
    if not dags.is_dir():
        print(f"error: no DAG folder at {dags}", file=sys.stderr)
        return 2
    home = args.home.resolve()
    if not args.serve:
        fresh_home(home)
    from airflow_provider_jobstatus.testing.simulator import Simulator

    ok = False
    try:
        with Simulator() as sim:
            say(f"vendor simulator at {sim.url}", started)
            airflow = LocalAirflow(home, dags, parallelism=args.parallelism, api_port=args.port or None)
            say(f"starting Airflow in {home} (logs: {airflow.process_logs})", started)
            with airflow:
                say(f"Airflow is up at {airflow.url}", started)
                add_connections(airflow, sim)
                airflow.wait_for_dags(EXAMPLE_DAGS, timeout=180)
                say(f"{len(EXAMPLE_DAGS)} example DAGs parsed; connections stored in the DB", started)
                if args.serve:
                    print_access(airflow, keep=True)
                    wait_forever(airflow)
                    return 0
                ok = run_demo(airflow, sim, home, args.timeout, started)
                if args.keep:
                    print_access(airflow, keep=True)
                    wait_forever(airflow)
            say("everything stopped", started)
            if not args.keep:
                print_access(airflow, keep=False)
    except Stopped:
        print("everything stopped")
        return 0 if ok or args.serve else 1
    except KeyboardInterrupt:
        print("\ninterrupted; everything stopped", file=sys.stderr)
        return 130
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
    finally:
        print(f"total time: {time.monotonic() - started:.0f} s", flush=True)
    return 0 if ok else 1


def run_demo(airflow: LocalAirflow, sim: Any, home: Path, timeout: float, started: float) -> bool:
    """Unpause and trigger every example DAG, wait, print the table; True if all succeeded.
    The DAGs start their own jobs; the batch DAG lists a batch made here on the simulator."""
    output = home / "output"
    runs: dict[str, str] = {}
    for dag_id in EXAMPLE_DAGS:
        airflow.unpause(dag_id)
        if dag_id == BATCH_DAG:
            conf: dict[str, Any] = {"batch_id": sim.create_batch(jobs=250)["batch_id"]}
        else:
            conf = {"output_root": str(output)}
        runs[dag_id] = airflow.trigger(dag_id, conf=conf)
    say(f"triggered {len(runs)} runs; waiting (the run operators defer to the triggerer)", started)
    watches = airflow.wait_for_runs(runs, timeout=timeout, interval=1.0, on_poll=Progress(started))
    rows = summarize(airflow, runs, watches)
    (home / "demo-summary.json").write_text(
        json.dumps({"runs": runs, "states": {d: w.state for d, w in watches.items()}, "rows": rows}, indent=1)
    )
    print()
    print_table(rows, output)
    failed = {d: w.state for d, w in watches.items() if w.state != "success"}
    bad_tasks = {
        f"{d}.{t}": ti.state for d, w in watches.items() for t, ti in w.final.items() if ti.state != "success"
    }
    print(f"\nsummary with the whole sha256s: {home / 'demo-summary.json'}")
    if failed or bad_tasks:
        print(f"NOT all green: runs {failed}, tasks {bad_tasks}; task logs under {airflow.task_logs}")
        return False
    say(f"all {len(runs)} runs succeeded", started)
    return True


if __name__ == "__main__":
    sys.exit(main())
