"""``make drill``: the production topology and its failure drills, one run, figures as a table.

PostgreSQL (metadata DB) and Redis (Celery broker and result backend) in a temporary folder on free
ports (:mod:`dev.services` installs them if missing), scheduler, DAG processor, API server, two
Celery workers, two triggerers, and the vendor simulator with fault injection on. Then:

1. N waits across the five vendors: two thirds mapped JobStatusSensors on jobs the drill made, one
   third started by the run operators (start -> wait); every succeeded job's result downloaded
   (mapped DownloadJobResultOperators) and checked against the simulator's SHA-256, and the
   simulator's counts show one job per run task (no duplicate made by a retry or a moved trigger).
2. ``kill -9`` one triggerer holding waits: the other adopts them (time to the last one's next poll).
3. ``kill -9`` the Celery worker streaming a large download: the retry writes a correct file.
4. The simulator stops for 60 s and comes back on the same port: no wait fails.
5. A triggerer stopped gracefully and started again: a wait whose deadline passes afterwards ends
   as a timeout on time.
6. A triggerer frozen (SIGSTOP) past the health-check threshold, then resumed: its waits (run
   operators' among them, which cancel their job when a user kills the task) move and no remote job
   is canceled.
7. The PostgreSQL tables, Redis and every log file hold none of the keys, client secrets, tokens
   and URL signatures in play.
8. PDF.co serves 10 requests a second per key (429 above) and its connection has
   ``requests_per_second`` 8, one budget in Redis (``[jobstatus] rate_limit_storage``) for both
   workers and both triggerers: hardly any request meets the vendor's limit, and (drill 1) every
   wait still ends as the simulator was told.

Jobs are created held (running) and finished by the drill on a schedule (some before, some during the
failures, the rest at the end), so every failure happens while waits are held. ``--reduced`` (CI)
runs the same drills with fewer waits and Airflow's heartbeat and health-check thresholds lowered.
Exits 0 only if every check passes.

    python -m dev.drill            # the full drill (300 waits)
    python -m dev.drill --reduced  # what .ci/run runs
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.connections import (
    DEFAULT_CONN_IDS,
    connection_env,
    connection_uri_env_name,
)
from airflow_provider_jobstatus.testing.simulator import OUTCOMES, Simulator
from dev import services
from dev.local_airflow import LocalAirflow, LocalAirflowError, parse_time
from tests.secret_values import Secrets, capture_secrets

#: the vendors whose waits the drill spreads its waits over, in this order (a third of them started
#: by the drill DAG's run operator of that vendor): the built-in five, not every registered one
DRILL_VENDORS = ("nitro", "pdfco", "alteryx", "apidatatools", "playment")

REPO = Path(__file__).resolve().parents[1]
DAGS = Path(__file__).resolve().parent / "drill_dags"
#: what the simulator answers besides the truth, on every route of every vendor (files included)
FAULTS = {
    "seed": 16,
    "error_5xx": 0.04,
    "rate_429": 0.03,
    "retry_after": 1,
    "reset": 0.02,
    "slow": 0.02,
    "slow_seconds": 3.0,
    # every route but the start calls: a start that met a fault is not sent again without the
    # user's word (on_unknown_start), which the run operators' integration tests hold; here the
    # tokens, waits, cancels, listings and downloads meet them
    "paths": [
        "attachments",
        "batch",
        "cancel",
        "output",
        "result",
        "status",
        "status_api",
        "token",
    ],
}
#: drill 8: the vendor whose account limits requests, its limit, and the connection's budget
BUDGET_VENDOR = "pdfco"
VENDOR_LIMIT = 10
BUDGET = 8
BLOCKED = re.compile(r"async thread was blocked", re.IGNORECASE)
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?")
CANCELED = re.compile(r"job '[^']*' canceled: |Could not cancel job")
FINAL = {"success", "failed", "skipped", "upstream_failed", "removed"}


class SchedSampler(threading.Thread):
    """Ten times a second, each triggerer process's CPU time and time spent waiting for a CPU
    (``/proc/<pid>/schedstat``), so that a blocked-loop warning can be told apart: the trigger
    runner's loop held by code (it ran) or a process starved on a loaded machine (it waited)."""

    def __init__(self, af: LocalAirflow) -> None:
        super().__init__(name="drill schedstat", daemon=True)
        self.af = af
        self.stopped = threading.Event()
        #: pid -> [(epoch seconds, cpu ns, run-queue wait ns)]
        self.samples: dict[int, list[tuple[float, int, int]]] = {}
        self.pids: dict[str, list[int]] = {}

    def run(self) -> None:
        tick = 0
        while not self.stopped.wait(0.1):
            if tick % 10 == 0:
                with contextlib.suppress(Exception):
                    for name in self.af.triggerer_names:
                        known = self.pids.setdefault(name, [])
                        known += [p for p in self.af.component_pids(name) if p not in known]
            tick += 1
            now = time.time()
            for pids in list(self.pids.values()):
                for pid in pids:
                    with contextlib.suppress(OSError, ValueError):
                        cpu, wait, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
                        self.samples.setdefault(pid, []).append((now, int(cpu), int(wait)))

    def split(self, name: str, start: float, end: float) -> tuple[float, float]:
        """Seconds (ran, waited for a CPU) of the busiest process of ``name`` in [start, end]."""
        best = (0.0, 0.0)
        for pid in self.pids.get(name, []):
            inside = [x for x in self.samples.get(pid, []) if start - 0.1 <= x[0] <= end + 0.1]
            if len(inside) >= 2:
                ran, waited = (inside[-1][1] - inside[0][1]) / 1e9, (inside[-1][2] - inside[0][2]) / 1e9
                if ran + waited > sum(best):
                    best = (ran, waited)
        return best


@dataclass(frozen=True)
class Profile:
    """How big the drill is and which Airflow thresholds it runs with."""

    name: str
    waits: int
    poll: float
    triggerer_heartbeat: int  # [triggerer] job_heartbeat_sec
    triggerer_health: int  # [triggerer] triggerer_health_check_threshold
    task_heartbeat_timeout: int  # [scheduler] task_instance_heartbeat_timeout
    #: [scheduler] task_queued_timeout: how long a task a killed Celery worker had taken (acks
    #: late, not started) stays queued before the scheduler queues it again
    task_queued_timeout: int
    deadline: float  # the drill_deadline wait's sensor timeout
    download_bytes: int
    outage: float = 60.0
    worker_concurrency: int = 4

    def airflow_env(self) -> dict[str, str]:
        return {
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": str(self.triggerer_heartbeat),
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(self.triggerer_health),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.task_heartbeat_timeout),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(self.task_queued_timeout),
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": str(self.task_queued_timeout // 8),
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__CORE__PARALLELISM": "64",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2048",
            "JOBSTATUS_DRILL_POLL": str(self.poll),
            "JOBSTATUS_DRILL_DEADLINE": str(self.deadline),
        }


FULL = Profile(
    name="full",
    waits=300,
    poll=5.0,
    triggerer_heartbeat=5,
    triggerer_health=30,
    task_heartbeat_timeout=90,
    task_queued_timeout=600,  # Airflow's default
    deadline=150.0,
    download_bytes=512 * 1024 * 1024,
)
REDUCED = Profile(
    name="reduced",
    waits=60,
    poll=5.0,
    triggerer_heartbeat=2,
    triggerer_health=10,
    task_heartbeat_timeout=30,
    task_queued_timeout=120,
    deadline=75.0,
    download_bytes=384 * 1024 * 1024,
)


@dataclass
class Row:
    """One line of the table: a drill, what was measured, and whether it passed."""

    drill: str
    figure: str
    ok: bool


@dataclass
class Wait:
    """One waiting task: a mapped sensor (``wait``) on a job the drill made, or a mapped run
    operator (``run_<vendor>``) whose job id and outcome are known once it has started the job."""

    index: int  # position in Drill.waits
    vendor: str
    conn_id: str
    job_id: str
    outcome: str
    sha256: dict[str, str]  # result file name -> sha256
    released_at: float | None = None
    task_id: str = "wait"
    map_index: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.map_index

    @property
    def is_run(self) -> bool:
        return self.task_id != "wait"

    @property
    def expected_state(self) -> str:
        return "success" if self.outcome == "succeeded" else "failed"


@dataclass
class Drill:
    profile: Profile
    root: Path
    say: Callable[[str], None]
    sim: Simulator = field(init=False)
    af: LocalAirflow = field(init=False)
    secrets: Secrets = field(init=False)
    waits: list[Wait] = field(default_factory=list)
    run_id: str = ""
    rows: list[Row] = field(default_factory=list)
    #: job id -> epoch seconds of every status answer the simulator gave for it
    polls: dict[str, list[float]] = field(default_factory=dict)
    #: when the simulator went down and came back (epoch seconds)
    outage_window: tuple[float, float] = (0.0, 0.0)
    #: when a triggerer was frozen and resumed: its watchdog then reports the gap as "blocked"
    freeze_window: tuple[float, float] = (0.0, 0.0)
    sizes: dict[str, list[int]] = field(default_factory=dict)
    sched: SchedSampler | None = None
    #: vendor -> the run tasks' arguments (``conf["runs"]``)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    # -- simulator helpers ------------------------------------------------------------------------
    def watch_polls(self, patch: pytest.MonkeyPatch) -> None:
        """Record when each job is polled (a status answer counts as one of its polls)."""
        state = self.sim.state
        observe = state.observe

        def recording(job: Any, advance: bool) -> Any:
            if advance:
                self.polls.setdefault(job.id, []).append(time.time())
            return observe(job, advance)

        patch.setattr(state, "observe", recording)

    def release(self, waits: Sequence[Wait]) -> None:
        """End held jobs now, with the outcome each was created with."""
        todo = [w for w in waits if w.released_at is None]
        if todo:
            self.sim.finish(job_ids=[w.job_id for w in todo])
        now = time.time()
        for wait in todo:
            wait.released_at = now

    def first_poll_after(self, job_id: str, since: float) -> float | None:
        return next((t for t in self.polls.get(job_id, []) if t > since), None)

    # -- Airflow helpers -------------------------------------------------------------------------
    def wait_states(self) -> dict[tuple[str, int], str | None]:
        """(task_id, map_index) -> state of every sensor and run task of the drill_waits run."""
        rows = self.af.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = 'drill_waits' AND run_id = ?",
            self.run_id,
        )
        return {(str(r[0]), int(r[1])): r[2] for r in rows if r[0] == "wait" or str(r[0]).startswith("run_")}

    def held_by(self, triggerer: str) -> list[int]:
        """Drill.waits indexes of the deferred waits (sensors and run tasks) whose trigger this
        triggerer holds right now."""
        rows = self.af.query(
            "SELECT ti.task_id, ti.map_index FROM task_instance ti JOIN trigger t ON ti.trigger_id = t.id "
            "WHERE ti.dag_id = 'drill_waits' AND ti.run_id = ? AND ti.state = 'deferred' "
            "AND t.triggerer_id = ?",
            self.run_id,
            self.af.job_ids[triggerer],
        )
        by_key = {w.key: w.index for w in self.waits}
        return [i for r in rows if (i := by_key.get((str(r[0]), int(r[1])))) is not None]

    def runs_among(self, held: Sequence[int]) -> int:
        return sum(self.waits[i].is_run for i in held)

    def holder_of(self, dag_id: str, run_id: str) -> str | None:
        rows = self.af.query(
            "SELECT t.triggerer_id FROM task_instance ti JOIN trigger t ON ti.trigger_id = t.id "
            "WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.state = 'deferred'",
            dag_id,
            run_id,
        )
        by_id = {v: k for k, v in self.af.job_ids.items()}
        return by_id.get(rows[0][0]) if rows and rows[0][0] is not None else None

    def until(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.af.check_alive()
            value = check()
            if value:
                return value
            time.sleep(interval)
        raise LocalAirflowError(f"{what}: not after {timeout:.0f} s")

    def adoption(self, held: Sequence[int], since: float, timeout: float) -> tuple[float | None, int]:
        """Seconds from ``since`` to the last held wait's next poll, and how many were polled again
        by then (every held job is still running, so any poll after ``since`` is the adopter's)."""
        jobs = [self.waits[i].job_id for i in held]
        deadline = time.monotonic() + timeout
        seen: dict[str, float] = {}
        while time.monotonic() < deadline and len(seen) < len(jobs):
            for job_id in jobs:
                if job_id not in seen and (t := self.first_poll_after(job_id, since)) is not None:
                    seen[job_id] = t
            time.sleep(0.5)
        return (max(seen.values()) - since if seen and len(seen) == len(jobs) else None), len(seen)

    # -- the drills --------------------------------------------------------------------------------
    def create_waits(self) -> None:
        """The sensors' jobs (made now, held), and the run tasks' plans: the simulator gives the
        next start call of a vendor the next plan (outcome, size, held), so which run task gets
        which outcome is learnt from its job once it has started it (``learn_runs``)."""
        rng = random.Random(16)
        sensors = 0
        for i in range(self.profile.waits):
            vendor = DRILL_VENDORS[i % len(DRILL_VENDORS)]
            choices = OUTCOMES[vendor]
            outcome = "succeeded" if rng.random() < 0.8 or len(choices) == 1 else rng.choice(choices[1:])
            size = rng.randint(1, 64) * 1024
            conn_id = DEFAULT_CONN_IDS[vendor]
            if i % 3 == 0:  # a third, spread so that every share released holds some
                plan = {"outcome": outcome, "result_bytes": size, "opts": {"hold": True}}
                self.sim.plan_starts(vendor, plan)
                specs = self.runs.setdefault(vendor, [])
                wait = Wait(i, vendor, conn_id, "", "", {}, task_id=f"run_{vendor}", map_index=len(specs))
                specs.append({"reference_id": f"drill-{i}"} if vendor == "playment" else {})
                self.waits.append(wait)
                continue
            job = self.sim.create_job(vendor, outcome=outcome, result_bytes=size, hold=True)
            sums = {r["name"]: r["sha256"] for r in job["results"]}
            self.sizes[job["job_id"]] = [r["size"] for r in job["results"]]
            self.waits.append(Wait(i, vendor, conn_id, job["job_id"], outcome, sums, map_index=sensors))
            sensors += 1

    def learn_runs(self) -> None:
        """Each run task's job (its XCom ``job_id``) and what the simulator made it to be."""
        rows = self.af.query(
            "SELECT task_id, map_index, value FROM xcom WHERE dag_id = 'drill_waits' AND run_id = ? "
            "AND key = 'job_id'",
            self.run_id,
        )
        pushed = {(str(r[0]), int(r[1])): _json_value(r[2]) for r in rows}
        for w in self.waits:
            if w.is_run:
                w.job_id = str(pushed.get(w.key) or "")
                if not w.job_id:
                    state = self.wait_states().get(w.key)
                    raise LocalAirflowError(
                        f"{w.task_id}[{w.map_index}] is {state} without an XCom job_id: "
                        "its start failed (see its task log in the kept drill folder)"
                    )
                job = self.sim.job(w.job_id)
                w.outcome = str(job["outcome"])
                w.sha256 = {r["name"]: r["sha256"] for r in job["results"]}
                self.sizes[w.job_id] = [r["size"] for r in job["results"]]

    def ramp(self) -> None:
        """Drill 1, first half: every wait deferred in a triggerer."""
        conf = {
            "waits": [{"conn_id": w.conn_id, "job_id": w.job_id} for w in self.waits if not w.is_run],
            "runs": self.runs,
            "results": str(self.root / "results"),
        }
        started = time.monotonic()
        self.run_id = self.af.trigger("drill_waits", conf=conf)
        n = len(self.waits)

        def all_deferred() -> bool:
            states = self.wait_states()
            return len(states) == n and all(s in ("deferred", *FINAL) for s in states.values())

        self.until("every wait deferred", all_deferred, timeout=120 + 3.0 * n, interval=2.0)
        self.learn_runs()
        split = {name: len(self.held_by(name)) for name in self.af.triggerer_names}
        runs = sum(w.is_run for w in self.waits)
        figure = (
            f"{n} waits ({runs} started by run operators) deferred in {time.monotonic() - started:.0f} s, "
            f"per triggerer {split}"
        )
        self.say(figure)
        self.rows.append(Row("1 ramp", figure, True))

    def running_waits(self) -> list[Wait]:
        return [w for w in self.waits if w.released_at is None]

    def release_share(self, share: float) -> None:
        running = self.running_waits()
        self.release(running[: int(len(self.waits) * share)])

    def kill_triggerer(self) -> None:
        """Drill 2."""
        name = max(self.af.triggerer_names, key=lambda t: len(self.held_by(t)))
        held = [i for i in self.held_by(name) if self.waits[i].released_at is None]
        killed_at = time.time()
        self.af.signal(name, signal.SIGKILL)
        self.say(f"kill -9 {name} holding {len(held)} running waits")
        delay, adopted = self.adoption(held, killed_at + 0.5, timeout=self.profile.triggerer_health * 3 + 120)
        p = self.profile
        ok = delay is not None and adopted == len(held) and len(held) > 0
        figure = (
            f"{adopted}/{len(held)} waits adopted ({self.runs_among(held)} of them run operators'); "
            f"kill -> last adopted wait's next poll {delay:.1f} s"
            if delay is not None
            else f"{adopted}/{len(held)} adopted (timed out)"
        )
        self.rows.append(
            Row(
                "2 kill -9 triggerer",
                f"{figure} (health check threshold {p.triggerer_health} s, "
                f"heartbeat {p.triggerer_heartbeat} s, poll {p.poll:.0f} s)",
                ok,
            )
        )
        self.af.restart(name)
        self.say(f"{name} restarted")

    def start_big_download(self) -> tuple[str, dict[str, Any], Path]:
        size = self.profile.download_bytes
        job = self.sim.create_job("pdfco", outcome="succeeded", seconds=0, result_bytes=size)
        folder = self.root / "results" / "big"
        conf = {"conn_id": DEFAULT_CONN_IDS["pdfco"], "job_id": job["job_id"], "destination": f"{folder}/"}
        return self.af.trigger("drill_download", conf=conf), job, folder

    def kill_worker_mid_download(self) -> tuple[str, dict[str, Any], Path, str | None]:
        """Drill 3, first half: kill -9 the worker whose task is writing the temporary file."""
        run_id, job, folder = self.start_big_download()

        def writer() -> tuple[str, Path] | None:
            for part in folder.glob(".*.part-*"):
                with contextlib.suppress(OSError):
                    if part.stat().st_size > 4 * 1024 * 1024:
                        for name in self.af.components:
                            if name.startswith("worker-") and _has_open(self.af.component_pids(name), part):
                                return name, part
            return None

        found = self.until("the big download streaming", writer, timeout=300, interval=0.05)
        name, part = found
        size = part.stat().st_size if part.exists() else 0
        self.af.signal(name, signal.SIGKILL)
        self.say(f"kill -9 {name} while it had written {size >> 20} MiB of {job['size'] >> 20} MiB")
        time.sleep(2)
        self.af.restart(name)
        return run_id, job, folder, f"{size >> 20} of {job['size'] >> 20} MiB written"

    def finish_download(self, run_id: str, job: dict[str, Any], folder: Path, note: str | None) -> None:
        """Drill 3, second half: the retry wrote a correct file; nothing partial is final."""
        watch = self.af.wait_for_run("drill_download", run_id, timeout=900, interval=2.0)
        tries = max((r.try_number for r in watch.final.values()), default=0)
        finals = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.exists() else []
        parts = [p for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []
        good = [p for p in finals if p.stat().st_size == job["size"] and _sha256(p) == job["sha256"]]
        ok = watch.state == "success" and len(finals) == 1 and len(good) == 1 and tries >= 2
        self.rows.append(
            Row(
                "3 kill -9 worker mid-download",
                f"killed with {note}; run {watch.state} on try {tries}; final files {len(finals)}, "
                f"verified {len(good)}, temporary files left by the killed try {len(parts)} (hidden names)",
                ok,
            )
        )

    def outage(self) -> None:
        """Drill 4."""
        self.release_share(0.2)  # these end while the vendor is away
        down_at = time.time()
        self.sim.stop()
        self.say(f"simulator down for {self.profile.outage:.0f} s")
        time.sleep(self.profile.outage)
        self.sim.start()
        self.say(f"simulator back on port {self.sim.port}")
        self.outage_window = (down_at, time.time())

    def deadline_restart(self) -> None:
        """Drill 5: graceful restart of the triggerer holding a wait whose deadline passes later."""
        job = self.sim.create_job("nitro", outcome="succeeded", hold=True)
        conf = {"conn_id": DEFAULT_CONN_IDS["nitro"], "job_id": job["job_id"]}
        run_id = self.af.trigger("drill_deadline", conf=conf)
        holder = self.until("the wait deferred", lambda: self.holder_of("drill_deadline", run_id), 300)
        stopped = time.time()
        code = self.af.stop_component(holder)
        self.say(f"{holder} stopped gracefully (exit {code}) in {time.time() - stopped:.1f} s")
        self.af.restart(holder)
        restarted = time.time()
        limit = self.profile.deadline + 300
        watch = self.af.wait_for_run("drill_deadline", run_id, timeout=limit, interval=1.0)
        row = watch.final.get("wait")
        start = parse_time(row.start_date) if row else None
        end = parse_time(row.end_date) if row else None
        history = self.af.task_history("drill_deadline", run_id)
        starts = [parse_time(h["start_date"]) for h in history] + [start]
        first = min((t for t in starts if t), default=None)
        tolerance = max(self.profile.poll, 15.0)
        late = (end - (first + self.profile.deadline)) if end and first else None
        repolled = self.first_poll_after(job["job_id"], restarted) is not None
        ok = (
            row is not None
            and row.state == "failed"
            and late is not None
            and abs(late) <= tolerance
            and end is not None
            and end > restarted
            and repolled
        )
        late_text = f"{late:+.1f} s" if late is not None else "n/a"
        self.rows.append(
            Row(
                "5 graceful triggerer restart",
                f"{holder} SIGTERM exit {code}; deadline wait {row.state if row else None}, "
                f"ended {late_text} from its original deadline ({self.profile.deadline:.0f} s "
                f"after start; tolerance ±{tolerance:.0f} s); "
                f"polled again after the restart: {repolled}",
                ok,
            )
        )

    def freeze_triggerer(self) -> None:
        """Drill 6."""
        name = max(self.af.triggerer_names, key=lambda t: len(self.held_by(t)))
        held = [i for i in self.held_by(name) if self.waits[i].released_at is None]
        cancels_before = _cancel_requests(self.sim)
        frozen_at = time.time()
        self.af.signal(name, signal.SIGSTOP)
        freeze = self.profile.triggerer_health + 15
        self.say(f"SIGSTOP {name} holding {len(held)} running waits for {freeze} s")
        delay, adopted = self.adoption(held, frozen_at + 0.5, timeout=freeze)
        # the adopter's copies of half of them end now: those tasks leave "deferred" while the
        # resumed triggerer is still to stop its own copies (the run operators' must not cancel)
        self.release([self.waits[i] for i in held[::2]])
        self.af.signal(name, signal.SIGCONT)
        self.freeze_window = (frozen_at, time.time())
        if delay is None:
            delay, adopted = self.adoption(held, frozen_at + 0.5, timeout=120)
        time.sleep(2 * self.profile.triggerer_health + 30)  # the resumed one stops its copies
        alive = self.af.components[name].alive
        if not alive:
            self.af.restart(name)
        now_held = len([i for i in self.held_by(name) if i in held])
        cancels = _cancel_requests(self.sim) - cancels_before
        runs = self.runs_among(held)
        ok = delay is not None and adopted == len(held) and len(held) > 0 and cancels == 0
        ok = ok and (runs > 0 or not any(w.is_run for w in self.waits))
        self.rows.append(
            Row(
                "6 SIGSTOP triggerer",
                f"frozen {self.freeze_window[1] - frozen_at:.0f} s (until every wait had moved, at most "
                f"{freeze} s); {adopted}/{len(held)} waits moved ({runs} of them run "
                f"operators', cancel_on_kill on), last next poll "
                f"{delay:.1f} s after the freeze; after SIGCONT it was "
                f"{'running' if alive else 'gone (restarted)'} and held {now_held} of them; "
                f"{len(held[::2])} ended by the adopter as it woke; remote cancel requests {cancels}"
                if delay is not None
                else f"{adopted}/{len(held)} moved (timed out); remote cancel requests {cancels}",
                ok,
            )
        )

    def finish_waits(self) -> None:
        """Drill 1, second half, and drill 4's verdict: outcomes, downloads, files."""
        self.release(self.waits)
        limit = 600 + 2.0 * len(self.waits)
        watch = self.af.wait_for_run("drill_waits", self.run_id, timeout=limit, interval=3.0)
        waits = self.wait_states()
        gets = self.af.query(
            "SELECT map_index, state FROM task_instance "
            "WHERE dag_id = 'drill_waits' AND run_id = ? AND task_id = 'get'",
            self.run_id,
        )
        got = {int(r[0]): r[1] for r in gets}
        wrong = [w for w in self.waits if waits.get(w.key) != w.expected_state]
        hung = [k for k, s in waits.items() if s not in FINAL] + [i for i, s in got.items() if s not in FINAL]
        succeeded = [w for w in self.waits if w.outcome == "succeeded"]
        verified = corrupt = 0
        partial_final = 0
        for w in succeeded:
            folder = self.root / "results" / w.job_id
            files = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.exists() else []
            wanted = set(w.sha256.values())  # the operator may name a file its own way
            for p in files:
                if _sha256(p) in wanted:
                    verified += 1
                else:
                    corrupt += 1
                    partial_final += p.stat().st_size < max(self.sizes.get(w.job_id, [0]))
        expected_files = sum(len(w.sha256) for w in succeeded)
        by_outcome: dict[str, int] = {}
        for w in self.waits:
            by_outcome[w.outcome] = by_outcome.get(w.outcome, 0) + 1
        runs_ok = sum(w.is_run and w not in wrong for w in self.waits)
        runs = sum(w.is_run for w in self.waits)
        outage_failures = [
            w for w in wrong if w.released_at is not None and w.released_at <= self.outage_window[1]
        ]
        self.rows.append(
            Row(
                "1 waits",
                f"{len(self.waits)} waits {by_outcome}: {len(self.waits) - len(wrong)} reached the outcome "
                f"the simulator was told to give ({runs_ok}/{runs} run operators' start -> wait), "
                f"{len(wrong)} did not, {len(hung)} hung; run {watch.state}",
                not wrong and not hung,
            )
        )
        self.rows.append(
            Row(
                "1 downloads",
                f"{verified}/{expected_files} result files verified (sha256), {corrupt} corrupt or partial, "
                f"{partial_final} partial under a final name",
                verified == expected_files and corrupt == 0,
            )
        )
        self.rows.append(
            Row(
                "4 vendor down 60 s",
                f"outage {self.profile.outage:.0f} s; waits that failed: {len(outage_failures)} "
                f"(of {len([w for w in self.waits if (w.released_at or 1e12) <= self.outage_window[1]])} "
                "that ended during or before it; every wait was deferred through it)",
                not outage_failures,
            )
        )
        if wrong:
            listed = [(w.task_id, w.map_index, w.vendor, w.outcome, waits.get(w.key)) for w in wrong[:20]]
            self.say(f"wrong outcomes: {json.dumps(listed)}")

    def blocked_warnings(self) -> None:
        """The triggerers' blocked-loop warnings, less the one a frozen triggerer logs on waking
        (its watchdog measures the freeze), and how the blocked time was spent by the triggerer's
        busiest process: running (code held the loop) or waiting for a CPU (starved)."""
        lines = [
            (p.stem, line)
            for p in self.af.all_logs()
            if "triggerer" in p.name or ".log.trigger." in p.name
            for line in p.read_text(errors="replace").splitlines()
            if BLOCKED.search(line)
        ]
        frozen, resumed = self.freeze_window
        counted: list[tuple[str, float, float]] = []  # component, logged at, seconds
        waking = 0
        for component, line in lines:
            stamp = STAMP.search(line)
            at = (parse_time(stamp.group(0)) if stamp else None) or 0.0
            if frozen <= at <= resumed + 30:
                waking += 1
                continue
            held = re.search(r"blocked for ([0-9.]+) seconds", line)
            counted.append((component, at, float(held.group(1)) if held else 0.0))
        ran = waited = 0.0
        if self.sched is not None:
            for component, at, length in counted:
                r, w = self.sched.split(component, at - length, at)
                ran, waited = ran + r, waited + w
        blocked = sum(c[2] for c in counted)
        longest = max((c[2] for c in counted), default=0.0)
        figure = (
            f"'async thread was blocked' warnings: {len(counted)}, longest {longest:.2f} s, {blocked:.1f} s "
            f"in all, of which the busiest triggerer process ran {ran:.1f} s and waited for a CPU "
            f"{waited:.1f} s (plus {waking} logged by the frozen triggerer on waking); informational, not "
            f"a drill criterion: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        self.rows.append(Row("- triggerer", figure, True))

    def say_cancels(self) -> None:
        """Which process cancelled which job, and why (its log line), for a drill that cancelled."""
        for path in self.af.all_logs():
            for line in path.read_text(errors="replace").splitlines():
                if CANCELED.search(line):
                    self.say(f"cancel logged in {path.name}: {line.strip()[:400]}")

    def search_secrets(self, pg: services.Postgres, redis: services.Redis) -> None:
        """Drill 7 (after Airflow stopped, so every log is complete)."""
        dump = pg.dump(self.root / "pg_dump.sql").read_bytes()
        cached = redis.contents()
        logs = [p for p in self.root.rglob("*") if p.is_file() and (p.suffix == ".log" or ".log." in p.name)]
        hits: dict[str, list[str]] = {}
        sources: list[tuple[str, bytes]] = [("postgres", dump), ("redis", cached)]
        sources += [(str(p.relative_to(self.root)), p.read_bytes()) for p in logs]
        values = self.secrets.values
        for where, data in sources:
            text = data.decode("utf-8", "replace")
            found = set(self.secrets.found_in(text))
            lowered = text.lower()
            # bytea columns come out of pg_dump as hex
            found |= {name for name, v in values.items() if v and v.encode().hex() in lowered}
            if found:
                hits[where] = sorted(found)
        tables = sorted(set(re.findall(r"^COPY public\.(\w+)", dump.decode("utf-8", "replace"), re.M)))
        wanted = [
            *("trigger", "xcom", "task_instance", "rendered_task_instance_fields"),
            *("asset_event", "task_state_store", "log"),
        ]
        missing = [t for t in wanted if t not in tables]
        self.rows.append(
            Row(
                "7 secrets",
                f"{len(values)} secrets ({len(self.secrets.tokens)} tokens, "
                f"{len(self.secrets.signatures)} URL signatures) searched in {len(tables)} PostgreSQL "
                f"tables ({len(dump) >> 10} KiB), Redis ({len(cached) >> 10} KiB), "
                f"{len(logs)} log files: found {sum(len(v) for v in hits.values())}"
                + (f" {json.dumps(hits)[:400]}" if hits else "")
                + (f"; tables missing from the dump: {missing}" if missing else ""),
                not hits and not missing,
            )
        )

    def rate_budget(self) -> None:
        """Drill 8: requests to the rate-limited vendor over the whole drill, and how many met its
        limit (a 429 of the limit itself, not an injected one)."""
        counts = self.sim.requests(include_log=False)["counts"]
        sent = sum(n for key, n in counts.items() if key.startswith(f"{BUDGET_VENDOR}."))
        refused = int(self.sim.state.rate_limits.snapshot()["refused"])
        log = self.sim.requests()["log"]
        times = sorted(e["t"] for e in log if e["vendor"] == BUDGET_VENDOR and e["origin"] == "api")
        busiest, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= 1.0:
                start += 1
            busiest = max(busiest, end - start + 1)
        share = refused / sent if sent else 0.0
        figure = (
            f"{BUDGET_VENDOR} at {VENDOR_LIMIT} requests/s per key, requests_per_second {BUDGET} shared "
            f"in Redis by 2 workers and 2 triggerers: {sent} requests, {refused} ({100 * share:.1f} %) "
            f"over the vendor's limit, busiest second {busiest} (of the last {len(times)} logged)"
        )
        self.rows.append(Row("8 rate budget", figure, sent > 0 and share <= 0.02))

    def no_duplicates(self) -> None:
        """With run operators, 0 duplicate jobs: the simulator made exactly one job per run task
        (per vendor, and per Playment reference_id), every job a run task reported is one of them,
        and no remote job was canceled over the whole drill (nothing in it asks for a cancel)."""
        book = self.sim.starts()
        planned: dict[str, int] = {v: len(specs) for v, specs in self.runs.items()}
        created = {v: int(book["created"].get(v, 0)) for v in planned}
        by_reference = book["created_by_reference"]
        references = [s["reference_id"] for s in self.runs.get("playment", [])]
        twice = [r for r in references if by_reference.get(r, 0) != 1]
        reported = [w.job_id for w in self.waits if w.is_run]
        duplicates = sum(created.values()) - sum(planned.values())
        start_calls = sum(int(book["starts"].get(v, 0)) for v in planned)
        cancels = _cancel_requests(self.sim)
        ok = duplicates == 0 and not twice and len(set(reported)) == len(reported) == sum(planned.values())
        self.rows.append(
            Row(
                "1 run operators",
                f"{sum(planned.values())} run tasks {planned}: the simulator created "
                f"{sum(created.values())} jobs from {start_calls} start calls that reached it; "
                f"duplicate jobs {duplicates}, Playment "
                f"reference_ids with other than 1 job {len(twice)}, distinct job ids reported "
                f"{len(set(reported))}",
                ok,
            )
        )
        figure = f"remote cancel requests over the whole drill: {cancels}"
        if cancels:
            self.say_cancels()
        self.rows.append(Row("- simulator", figure, cancels == 0))


def budgeted(env: dict[str, str]) -> dict[str, str]:
    """The connections with ``requests_per_second`` on the rate-limited vendor's."""
    name = connection_uri_env_name(DEFAULT_CONN_IDS[BUDGET_VENDOR])
    conn = json.loads(env[name])
    conn["extra"] = {**(conn.get("extra") or {}), "requests_per_second": BUDGET}
    return {**env, name: json.dumps(conn)}


def _cancel_requests(sim: Simulator) -> int:
    counts = sim.requests(include_log=False)["counts"]
    return sum(n for key, n in counts.items() if "cancel" in key or "abort" in key)


def _json_value(value: Any) -> Any:
    """An XCom value as PostgreSQL's JSON column gives it (decoded) or as text (SQLite)."""
    if isinstance(value, (bytes, memoryview)):
        value = bytes(value).decode()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _has_open(pids: Sequence[int], path: Path) -> bool:
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == str(path):
                        return True
    return False


def print_table(rows: Sequence[Row], title: str) -> str:
    width = max(len(r.drill) for r in rows)
    lines = [title, f"{'drill'.ljust(width)}  pass  figures", f"{'-' * width}  ----  -------"]
    lines += [f"{r.drill.ljust(width)}  {'yes ' if r.ok else 'NO  '}  {r.figure}" for r in rows]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


@contextlib.contextmanager
def topology(drill: Drill, patch: pytest.MonkeyPatch) -> Iterator[tuple[services.Postgres, services.Redis]]:
    """PostgreSQL, Redis, the simulator (faults on) and Airflow with two workers and two triggerers."""
    p = drill.profile
    with services.postgres(drill.root) as pg, services.redis_server(drill.root) as redis:
        drill.say(f"PostgreSQL on {pg.port}, Redis on {redis.port}")
        drill.sim = Simulator().start()
        try:
            drill.secrets = capture_secrets(drill.sim, patch)
            drill.watch_polls(patch)
            drill.sim.set_faults("*", **FAULTS)
            drill.sim.set_rate_limit(BUDGET_VENDOR, VENDOR_LIMIT, retry_after=1)
            budget = {"AIRFLOW__JOBSTATUS__RATE_LIMIT_STORAGE": redis.url(2)}
            drill.af = LocalAirflow(
                drill.root / "airflow",
                DAGS,
                env={**budgeted(connection_env(drill.sim)), **budget, **p.airflow_env()},
                database_url=pg.url,
                celery_broker=redis.url(0),
                celery_result_backend=redis.url(1),
                celery_workers=2,
                worker_concurrency=p.worker_concurrency,
                triggerers=2,
                serve_logs=False,
                startup_timeout=600,
            )
            yield pg, redis
        finally:
            drill.sim.stop()


def run(profile: Profile, root: Path, say: Callable[[str], None]) -> int:
    drill = Drill(profile, root, say)
    patch = pytest.MonkeyPatch()
    started = time.monotonic()
    try:
        with topology(drill, patch) as (pg, redis):
            with drill.af:
                say(f"Airflow up (API {drill.af.url}), triggerer jobs {drill.af.job_ids}")
                drill.sched = SchedSampler(drill.af)
                drill.sched.start()
                drill.af.wait_for_dags(["drill_waits", "drill_download", "drill_deadline"], timeout=300)
                drill.create_waits()
                drill.ramp()
                drill.release_share(0.2)
                download = drill.kill_worker_mid_download()
                drill.kill_triggerer()  # while the scheduler notices the dead worker's task
                drill.finish_download(*download)
                drill.outage()
                drill.deadline_restart()
                drill.freeze_triggerer()
                drill.finish_waits()
                drill.rate_budget()
                drill.no_duplicates()
            drill.blocked_warnings()
            say("Airflow stopped; searching for secrets")
            drill.search_secrets(pg, redis)
    finally:
        patch.undo()
    rows = sorted(drill.rows, key=lambda r: r.drill)
    faults = json.dumps({k: v for k, v in FAULTS.items() if k != "seed"})
    title = (
        f"Production drill ({profile.name}): PostgreSQL, Redis, CeleryExecutor with 2 workers, "
        f"2 triggerers, simulator faults {faults}; {time.monotonic() - started:.0f} s"
    )
    text = print_table(rows, title)
    (root / "drill-table.txt").write_text(text + "\n")
    return 0 if rows and all(r.ok for r in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="fewer waits, lowered thresholds (CI)")
    parser.add_argument("--waits", type=int, help="number of waits (default: 300, reduced 60)")
    parser.add_argument("--keep", action="store_true", help="keep the drill folder (logs, dump, table)")
    args = parser.parse_args(argv)
    profile = REDUCED if args.reduced else FULL
    if args.waits:
        profile = Profile(**{**profile.__dict__, "waits": args.waits})
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    services.ensure_packages(say)
    root = Path(tempfile.mkdtemp(prefix="jobstatus-drill-"))
    say(f"drill folder {root}")
    try:
        code = run(profile, root, say)
    except BaseException:
        say(f"drill aborted; its folder is kept: {root}")
        raise
    if args.keep or code:
        say(f"drill folder kept: {root}")
    else:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
