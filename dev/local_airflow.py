"""A real Airflow on this machine, for end-to-end tests, the demo and the production drill: SQLite
and LocalExecutor by default, and the four long-running components (scheduler, triggerer, API
server, DAG processor) as separate processes, so a deferred sensor really waits in the triggerer
and frees its worker slot. The production topology is a few arguments away: ``database_url`` (a
PostgreSQL the caller runs), ``celery_broker`` (CeleryExecutor, ``celery_workers`` workers, with
``apache-airflow-providers-celery`` installed) and ``triggerers=2``; :meth:`LocalAirflow.signal`,
:meth:`LocalAirflow.stop_component` and :meth:`LocalAirflow.restart` act on one component.

``dags test`` runs triggers inline and proves nothing about the triggerer; this does::

    with LocalAirflow(home, dags_folder, env=connection_env(sim)) as af:
        af.wait_for_dags(["e2e_deferred"])
        run_id = af.trigger("e2e_deferred", conf={...})
        af.wait_for_run("e2e_deferred", run_id, timeout=300)

Everything listens on 127.0.0.1 on free ports (the log servers of Airflow 3.3.2 bind every
interface: ``airflow/utils/serve_logs/core.py`` passes ``host=""``; ``serve_logs=False`` skips them).
Each process writes to ``<home>/processes/<name>.log``. Every process is started as the leader of
a session of its own, and Airflow's children stay in that session (they change only their process
group): :meth:`LocalAirflow.stop` terminates the components, then sweeps whatever is left in those
sessions; a small reaper process does the same sweep if this process dies without cleaning up
(even SIGKILL closes the pipe it waits on). Importing this module is cheap: no Airflow, no httpx until used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

#: set in the environment of every process this module starts (value: one id per LocalAirflow)
MARKER_VARIABLE = "JOBSTATUS_LOCAL_AIRFLOW"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
FINISHED_RUN_STATES = frozenset({"success", "failed"})


class LocalAirflowError(RuntimeError):
    """Airflow did not start, a component died, or a wait ran out; the message says which."""


def newest_run_task_states(db_path: Path, dag_id: str) -> dict[str, str]:
    """Task states of the newest run of ``dag_id`` in a SQLite metadata database (what ``airflow
    dags test`` leaves: it exits 0 on failed tasks too)."""
    with sqlite3.connect(db_path) as db:
        row = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        if row is None:
            return {}
        query = "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?"
        return {task: str(state) for task, state in db.execute(query, (dag_id, row[0]))}


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def airflow_executable() -> str:
    """The ``airflow`` next to this interpreter (a virtualenv), else the one on PATH."""
    candidate = Path(sys.executable).parent / "airflow"
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which("airflow")
    if not found:
        raise LocalAirflowError("no `airflow` executable next to this Python or on PATH")
    return found


def parse_time(value: str | None) -> float | None:
    """Epoch seconds from an Airflow DB/REST timestamp (ISO 8601, naive = UTC), None stays None."""
    if not value:
        return None
    from datetime import datetime, timezone

    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


# -- processes --------------------------------------------------------------------------------------


def _session_of(pid: int) -> int | None:
    """The session id of ``pid`` (field 6 of ``/proc/<pid>/stat``), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[3])
    except (IndexError, ValueError):
        return None


def marked_processes(marker: str, sessions: Collection[int] = ()) -> list[int]:
    """Pids (other than this one) in one of ``sessions`` or whose environment carries
    ``MARKER_VARIABLE=marker``. Linux ``/proc``.

    Sessions are the reliable part: each component is started as a session leader and Airflow's
    children (executor workers, task supervisors and tasks, log servers) only change their process
    group, never their session, and stay in it when reparented. The marker catches what called
    ``setsid``, unless it also renamed itself: ``setproctitle`` overwrites ``/proc/<pid>/environ``.
    """
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    wanted = set(sessions)
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if wanted and _session_of(pid) in wanted:
            found.append(pid)
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(pid)
    return found


def _signal(pid: int, sig: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def sweep(marker: str, sessions: Collection[int] = (), grace: float = 10.0) -> list[int]:
    """SIGTERM every process of ours (see :func:`marked_processes`), SIGKILL what is left after
    ``grace``; returns the pids it found."""
    pids = marked_processes(marker, sessions)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in {*marked_processes(marker, sessions), *pids}:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    return pids


def _reaper_main(marker: str) -> int:
    """Collect the session ids the parent writes to our stdin, one a line, until it closes the
    pipe (it finished, or died: even SIGKILL closes it); then sweep those sessions and the marker."""
    sessions: set[int] = set()
    with contextlib.suppress(Exception):
        for line in sys.stdin:
            with contextlib.suppress(ValueError):
                sessions.add(int(line))
    running = [pid for pid in marked_processes(marker, sessions) if _alive(pid)]
    sweep(marker, sessions, grace=5.0)
    print(f"reaper: {len(running)} process(es) still running in sessions {sorted(sessions)}", flush=True)
    return 0


@dataclass
class Component:
    """One process we started, with where its output goes."""

    name: str
    command: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    #: stopped or killed on purpose: :meth:`LocalAirflow.check_alive` does not count it as a crash
    down_on_purpose: bool = False

    def tail(self, lines: int = 40) -> str:
        """The end of its log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class TaskInstanceRow:
    """One task instance as the metadata DB has it."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    start_date: str | None
    end_date: str | None
    hostname: str | None
    pid: int | None
    next_method: str | None


@dataclass
class RunWatch:
    """What polling a run saw: every (monotonic time, state) change per task, and the final states."""

    dag_id: str
    run_id: str
    state: str | None = None
    changes: dict[str, list[tuple[float, str | None]]] = field(default_factory=dict)
    final: dict[str, TaskInstanceRow] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def observe(self, rows: Sequence[TaskInstanceRow]) -> None:
        now = time.monotonic()
        current: dict[str, TaskInstanceRow] = {}
        for row in rows:
            key = row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"
            seen = self.changes.setdefault(key, [])
            if not seen or seen[-1][1] != row.state:
                seen.append((now, row.state))
            current[key] = row
        self.final = current  # a mapped task's placeholder row goes away once it is expanded

    def all_at_once(self, tasks: Sequence[str], state: str) -> bool:
        """Whether one poll saw every task in ``tasks`` in ``state`` together."""
        return any(all(s == state for s in snapshot.values()) for snapshot in self._snapshots(tasks))

    def _snapshots(self, tasks: Sequence[str]) -> Iterator[dict[str, str | None]]:
        times = sorted({t for task in tasks for t, _ in self.changes.get(task, [])})
        for moment in times:
            yield {task: self.state_at(task, moment) for task in tasks}

    def state_at(self, task: str, moment: float) -> str | None:
        state: str | None = None
        for t, s in self.changes.get(task, []):
            if t > moment:
                break
            state = s
        return state

    def states_seen(self, task: str) -> list[str | None]:
        return [state for _, state in self.changes.get(task, [])]

    def time_in(self, task: str, state: str) -> float:
        """Seconds ``task`` was observed in ``state`` (to the polling interval)."""
        seen = self.changes.get(task, [])
        total = 0.0
        for (t, s), (t_next, _) in zip(seen, [*seen[1:], (time.monotonic(), None)], strict=False):
            if s == state:
                total += t_next - t
        return total


@dataclass
class Deferral:
    """One stay in the triggerer, in epoch seconds."""

    deferred_at: float
    fired_at: float | None
    resumed_at: float | None

    @property
    def seconds(self) -> float | None:
        """How long the task instance was ``deferred``: until the trigger fired (or, without a
        trigger log, until a worker ran it again)."""
        end = self.fired_at if self.fired_at is not None else self.resumed_at
        return None if end is None else end - self.deferred_at


# -- the runner -------------------------------------------------------------------------------------


class LocalAirflow:
    """Run a real Airflow (SQLite, LocalExecutor) in ``home`` with ``dags_folder``; stop it on exit.

    :param home: AIRFLOW_HOME (created if missing; an existing DB is migrated, not wiped).
    :param dags_folder: the DAG folder the DAG processor parses.
    :param env: extra environment for every component, e.g. ``AIRFLOW_CONN_*`` of a simulator.
    :param standalone: run ``airflow standalone`` instead of the four components.
    :param parallelism: LocalExecutor worker processes (``[core] parallelism``).
    :param username: the simple auth manager's admin user.
    :param password: its password; None keeps the one in ``<home>/passwords.json`` or makes one.
    :param serve_logs: start the worker/triggerer log servers (on free ports).
    :param startup_timeout: seconds for migration plus all components to report healthy.
    :param database_url: SQLAlchemy URL of the metadata DB (e.g. a PostgreSQL); None: SQLite in ``home``.
    :param celery_broker: a broker URL: CeleryExecutor with ``celery_workers`` workers (results in
        ``celery_result_backend``, default the broker) instead of LocalExecutor.
    :param triggerers: how many triggerers (named ``triggerer``, or ``triggerer-1``... when more
        than one); each one's job id is in :attr:`job_ids` once it has started.
    """

    def __init__(
        self,
        home: Path | str,
        dags_folder: Path | str,
        env: Mapping[str, str] | None = None,
        *,
        standalone: bool = False,
        parallelism: int = 4,
        username: str = "admin",
        password: str | None = None,
        serve_logs: bool = True,
        api_port: int | None = None,
        startup_timeout: float = 240.0,
        airflow: str | None = None,
        database_url: str | None = None,
        celery_broker: str | None = None,
        celery_result_backend: str | None = None,
        celery_workers: int = 2,
        worker_concurrency: int = 4,
        triggerers: int = 1,
    ) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.extra_env = dict(env or {})
        self.standalone = standalone
        self.parallelism = parallelism
        self.username = username
        self._password = password
        self.serve_logs = serve_logs
        self.api_port = api_port
        self.startup_timeout = startup_timeout
        self.airflow = airflow or airflow_executable()
        self.database_url = database_url
        self.celery_broker = celery_broker
        self.celery_result_backend = celery_result_backend or celery_broker
        self.celery_workers = celery_workers if celery_broker else 0
        self.worker_concurrency = worker_concurrency
        self.triggerers = max(1, triggerers)
        #: component name -> its job id (``job`` table), for triggerers
        self.job_ids: dict[str, int] = {}
        self.marker = uuid.uuid4().hex
        #: session ids of the processes started here (each is started as a session leader)
        self.sessions: set[int] = set()
        self.components: dict[str, Component] = {}
        self._reaper: subprocess.Popen[bytes] | None = None
        self._token: str | None = None
        self._client: httpx.Client | None = None
        self.env: dict[str, str] = {}

    # -- paths and settings -------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.home / "airflow.db"

    @property
    def process_logs(self) -> Path:
        return self.home / "processes"

    @property
    def task_logs(self) -> Path:
        return self.home / "logs"

    @property
    def passwords_file(self) -> Path:
        return self.home / "passwords.json"

    @property
    def url(self) -> str:
        """The API server / UI, e.g. ``http://127.0.0.1:43117``."""
        if self.api_port is None:
            raise LocalAirflowError("not started")
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def password(self) -> str:
        if self._password is None:
            raise LocalAirflowError("not started")
        return self._password

    def _prepare_password(self) -> str:
        """Write the simple auth manager's password file ourselves so the password is known."""
        stored: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError):
            stored = dict(json.loads(self.passwords_file.read_text()))
        password = self._password or stored.get(self.username) or secrets.token_urlsafe(12)
        stored[self.username] = password
        self.passwords_file.write_text(json.dumps(stored) + "\n")
        self.passwords_file.chmod(0o600)
        return password

    def _build_env(self) -> dict[str, str]:
        """Our settings on top of this process's environment minus anything Airflow-ish it had."""
        assert self.api_port is not None
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != MARKER_VARIABLE}
        settings = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # a 2-core machine: one parsing process, and no re-parse of unchanged files every 30 s
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
            MARKER_VARIABLE: self.marker,
        }
        if self.database_url:
            settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url
        if self.celery_broker:
            settings["AIRFLOW__CORE__EXECUTOR"] = "CeleryExecutor"
            settings["AIRFLOW__CELERY__BROKER_URL"] = self.celery_broker
            settings["AIRFLOW__CELERY__RESULT_BACKEND"] = self.celery_result_backend or self.celery_broker
            settings["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(self.worker_concurrency)
        # `airflow standalone` starts its components as plain `airflow` from PATH
        base["PATH"] = os.pathsep.join([str(Path(self.airflow).parent), base.get("PATH", os.defpath)])
        return {**base, **settings, **self.extra_env}

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> LocalAirflow:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalAirflow:
        """Migrate the DB and start the components; returns once the API says all are healthy."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        self.home.mkdir(parents=True, exist_ok=True)
        self.process_logs.mkdir(exist_ok=True)
        self.api_port = self.api_port or free_port()
        self._password = self._prepare_password()
        self.env = self._build_env()
        self._start_reaper()
        self.run_cli("db", "migrate", timeout=max(30.0, deadline - time.monotonic()), log_name="db-migrate")
        # several triggerers or workers on one machine cannot share a log server port
        skip = [] if self.serve_logs and self.triggerers == 1 else ["--skip-serve-logs"]
        if self.standalone:
            self._spawn("standalone", [self.airflow, "standalone"])
        else:
            commands: dict[str, list[str]] = {
                "api-server": ["api-server", "-H", "127.0.0.1", "-p", str(self.api_port), "-w", "1"],
                "dag-processor": ["dag-processor"],
                "scheduler": ["scheduler", *([] if self.serve_logs else ["--skip-serve-logs"])],
            }
            for n in range(1, self.celery_workers + 1):
                commands[f"worker-{n}"] = [
                    *("celery", "worker", "--skip-serve-logs", "-H", f"worker-{n}@%h"),
                    *("-c", str(self.worker_concurrency)),
                ]
            for name, args in commands.items():
                self._spawn(name, [self.airflow, *args])
            for name in self.triggerer_names:
                self._spawn_triggerer(name, [self.airflow, "triggerer", *skip], deadline - time.monotonic())
        self.wait_healthy(timeout=max(10.0, deadline - time.monotonic()))

    @property
    def triggerer_names(self) -> list[str]:
        if self.triggerers == 1:
            return ["triggerer"]
        return [f"triggerer-{n}" for n in range(1, self.triggerers + 1)]

    def _triggerer_jobs(self) -> set[int]:
        return {int(row[0]) for row in self.query("SELECT id FROM job WHERE job_type = 'TriggererJob'")}

    def _spawn_triggerer(self, name: str, command: list[str], timeout: float) -> Component:
        """Start a triggerer and learn its job id: the one triggerer job row that was not there
        before (one starts at a time; a killed one's row stays ``running``, so state cannot tell)."""
        before = self._triggerer_jobs()
        component = self._spawn(name, command)
        deadline = time.monotonic() + max(10.0, timeout)
        while time.monotonic() < deadline:
            self.check_alive()
            new = self._triggerer_jobs() - before
            if new:
                self.job_ids[name] = max(new)
                return component
            time.sleep(0.5)
        raise LocalAirflowError(f"no job row for {name} after {timeout:.0f} s\n{self._tails()}")

    # -- one component ---------------------------------------------------------------------------------
    def component_pids(self, name: str) -> list[int]:
        """Every live process of one component (its session: the supervisor and its children)."""
        component = self.components[name]
        if component.popen is None:
            return []
        session = component.popen.pid
        return [pid for pid in marked_processes(self.marker, {session}) if _session_of(pid) == session]

    def signal(self, name: str, sig: int) -> list[int]:
        """Send ``sig`` to every process of one component (SIGKILL: a machine dies, SIGSTOP: it
        freezes); a SIGKILL marks it down on purpose. Returns the pids signalled."""
        pids = self.component_pids(name)
        if sig == signal.SIGKILL:
            self.components[name].down_on_purpose = True
        for pid in pids:
            _signal(pid, sig)
        return pids

    def stop_component(self, name: str, grace: float = 30.0) -> int | None:
        """Stop one component gracefully (SIGTERM, SIGKILL after ``grace``); its exit code."""
        component = self.components[name]
        component.down_on_purpose = True
        self._terminate([component], grace)
        if component.log_file is not None:
            component.log_file.close()
            component.log_file = None
        return component.popen.returncode if component.popen else None

    def _start_reaper(self) -> None:
        log = (self.process_logs / "reaper.log").open("ab")
        try:
            self._reaper = subprocess.Popen(
                [sys.executable, "-m", __name__, "reap", self.marker],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal must not reach it first
                env={k: v for k, v in os.environ.items() if k != MARKER_VARIABLE},
                cwd=Path(__file__).resolve().parents[1],  # `-m dev.local_airflow` from the checkout
            )
        finally:
            log.close()

    def _spawn(self, name: str, command: list[str]) -> Component:
        component = Component(name, command, self.process_logs / f"{name}.log")
        component.log_file = component.log_path.open("ab")
        component.popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=component.log_file,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.home,
            start_new_session=True,  # its own session and process group: stopped as a whole
        )
        self.components[name] = component
        self._register(component.popen.pid)
        return component

    def _register(self, session: int) -> None:
        """Tell the reaper about a new session (a process we started with ``start_new_session``)."""
        self.sessions.add(session)
        if self._reaper is not None and self._reaper.stdin is not None:
            with contextlib.suppress(OSError):
                self._reaper.stdin.write(f"{session}\n".encode())
                self._reaper.stdin.flush()

    def run_cli(
        self, *args: str, timeout: float = 180.0, log_name: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` with this environment (its own process group, killed at ``timeout``)."""
        if not self.env:
            raise LocalAirflowError("not started")
        with subprocess.Popen(
            [self.airflow, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.home,
            text=True,
            start_new_session=True,
        ) as proc:
            self._register(proc.pid)
            try:
                out, err = proc.communicate(timeout=timeout)
            except BaseException:
                _signal(proc.pid, signal.SIGKILL, group=True)
                proc.communicate()
                raise
        if log_name:
            (self.process_logs / f"{log_name}.log").write_text(out + err)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise LocalAirflowError(
                f"airflow {' '.join(args)} exited {proc.returncode}:\n{(out + err)[-3000:]}"
            )
        return result

    def check_alive(self) -> None:
        """Raise, with the end of its log, if a component has exited."""
        for component in self.components.values():
            if not component.alive and not component.down_on_purpose:
                code = component.popen.returncode if component.popen else None
                raise LocalAirflowError(
                    f"airflow {component.name} exited ({code}); {component.log_path}:\n{component.tail()}"
                )

    def stop(self, grace: float = 20.0) -> None:
        """Stop everything this runner started, in an order that lets running tasks report: the
        scheduler (and its executor's workers) first, then triggerer and DAG processor, the API
        server (which the workers report to) last. Each stage gets SIGTERM, a second SIGTERM
        halfway through ``grace`` (Airflow 3.3.2's scheduler can swallow the first: its handler's
        ``sys.exit`` may land in a garbage-collector callback), then SIGKILL to its process group.
        Finally whatever is left in our sessions is swept, and the reaper is let go."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        try:
            workers = [n for n in self.components if n.startswith("worker-")]
            triggerers = [n for n in self.components if n.startswith("triggerer")]
            stages = [["scheduler"], [*workers, *triggerers, "dag-processor", "standalone"], ["api-server"]]
            named = {name for stage in stages for name in stage}
            stages[-1] += [name for name in self.components if name not in named]
            for stage in stages:
                self._terminate([self.components[n] for n in stage if n in self.components], grace)
            sweep(self.marker, self.sessions, grace=5.0)
        finally:
            for component in self.components.values():
                if component.log_file is not None:
                    component.log_file.close()
                    component.log_file = None
            if self._reaper is not None:
                with contextlib.suppress(Exception):
                    assert self._reaper.stdin is not None
                    self._reaper.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._reaper.wait(timeout=15)
                self._reaper = None

    def restart(
        self,
        name: str,
        grace: float = 20.0,
        while_stopped: Callable[[], None] | None = None,
        timeout: float = 120.0,
    ) -> Component:
        """Stop one component as :meth:`stop` does (SIGTERM, then SIGKILL after ``grace``) unless it
        is already down (killed), call ``while_stopped``, and start it again with the same command
        (a triggerer restart between two rounds of work, with work finishing while it is down). A
        triggerer's new job id is in :attr:`job_ids` when this returns."""
        old = self.components[name]
        old.down_on_purpose = True
        self._terminate([old], grace)
        if old.log_file is not None:
            old.log_file.close()
            old.log_file = None
        if while_stopped is not None:
            while_stopped()
        if name.startswith("triggerer"):
            return self._spawn_triggerer(name, old.command, timeout)
        return self._spawn(name, old.command)

    @staticmethod
    def _terminate(components: Sequence[Component], grace: float) -> None:
        popens = [c.popen for c in components if c.popen is not None and c.popen.poll() is None]
        start = time.monotonic()
        for sig, until in ((signal.SIGTERM, grace / 2), (signal.SIGTERM, grace), (signal.SIGKILL, grace + 5)):
            alive = [p for p in popens if p.poll() is None]
            for popen in alive:
                _signal(popen.pid, sig, group=True)
            for popen in alive:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=max(0.1, start + until - time.monotonic()))

    def leftover_processes(self) -> list[int]:
        """Processes still running in this runner's sessions or with its marker (none after :meth:`stop`)."""
        return [pid for pid in marked_processes(self.marker, self.sessions) if _alive(pid)]

    # -- REST API ------------------------------------------------------------------------------------
    def client(self) -> httpx.Client:
        import httpx

        if self._client is None:
            self._client = httpx.Client(base_url=self.url, timeout=httpx.Timeout(60.0, connect=10.0))
        return self._client

    def token(self, refresh: bool = False) -> str:
        """A JWT for the admin user from ``POST /auth/token``."""
        if self._token is None or refresh:
            response = self.client().post(
                "/auth/token", json={"username": self.username, "password": self.password}
            )
            if response.status_code not in (200, 201):
                raise LocalAirflowError(f"/auth/token answered {response.status_code}: {response.text[:500]}")
            self._token = str(response.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, *, ok: Sequence[int] = (), **kwargs: Any) -> Any:
        """Call the REST API (``/api/v2/...``) as admin; the JSON answer, or LocalAirflowError."""
        refresh = False
        for _ in range(5):
            headers = {"Authorization": f"Bearer {self.token(refresh=refresh)}"}
            response = self.client().request(method, path, headers=headers, **kwargs)
            if response.status_code == 401 and not refresh:
                refresh = True
            elif response.status_code == 500 and "Database error" in response.text:
                # SQLite's one writer: under load a busy database answers 500 before the call
                # changed anything (the audit-log insert comes first), so it is safe to repeat
                time.sleep(2.0)
            else:
                break
        if response.is_success or response.status_code in ok:
            return response.json() if response.content else None
        raise LocalAirflowError(f"{method} {path} answered {response.status_code}: {response.text[:1000]}")

    def health(self) -> dict[str, Any]:
        import httpx

        try:
            response = self.client().get("/api/v2/monitor/health")
        except httpx.HTTPError:
            return {}
        return dict(response.json()) if response.is_success else {}

    def wait_healthy(self, timeout: float = 180.0) -> dict[str, Any]:
        """Until the API answers and the DB, scheduler, triggerer and DAG processor are healthy."""
        deadline = time.monotonic() + timeout
        wanted = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            self.check_alive()
            health = self.health()
            if health and all((health.get(name) or {}).get("status") == "healthy" for name in wanted):
                return health
            time.sleep(1.0)
        raise LocalAirflowError(f"Airflow not healthy after {timeout:.0f} s: {health}\n{self._tails()}")

    def _tails(self) -> str:
        return "\n".join(f"--- {c.name} ({c.log_path}):\n{c.tail(20)}" for c in self.components.values())

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, run_id: str | None = None) -> str:
        """Start a manual run through the REST API; returns its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        answer = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(answer["dag_run_id"])

    def set_connection(self, conn_id: str, conn: Mapping[str, Any]) -> None:
        """Create or replace a connection in the metadata DB (it shows in the UI, unlike env ones).
        ``conn`` is Airflow's JSON connection form: conn_type, host, login, password, extra (dict)."""
        body: dict[str, Any] = {"connection_id": conn_id, **{k: v for k, v in conn.items() if k != "extra"}}
        if "extra" in conn:
            extra = conn["extra"]
            body["extra"] = extra if isinstance(extra, str) else json.dumps(extra)
        self.api("DELETE", f"/api/v2/connections/{conn_id}", ok=(404,))
        self.api("POST", "/api/v2/connections", json=body)

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """A task's XCom value (deserialized by the API), or None when there is none."""
        answer = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"map_index": map_index, "deserialize": True, "stringify": False},
            ok=(404,),
        )
        if not answer or "value" not in answer:
            return None
        return answer["value"]

    # -- the metadata DB (read only; WAL mode lets us read while Airflow writes) ---------------------
    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            yield connection
        finally:
            connection.close()

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows for ``sql`` with ``?`` placeholders, on SQLite or the ``database_url`` PostgreSQL
        (timestamps come back as ISO strings from both)."""
        if self.database_url:
            return self._query_postgres(sql, params)
        for attempt in range(5):
            try:
                with self.db() as connection:
                    return list(connection.execute(sql, params).fetchall())
            except sqlite3.OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.5)
        return []

    def _query_postgres(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        import psycopg2  # type: ignore[import-untyped,import-not-found,unused-ignore]  # the drill installs it

        assert self.database_url is not None
        dsn = self.database_url.replace("postgresql+psycopg2://", "postgresql://", 1)
        connection = psycopg2.connect(dsn)
        try:
            connection.set_session(readonly=True, autocommit=True)
            with connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), tuple(params))
                rows = cursor.fetchall()
        finally:
            connection.close()
        return [tuple(v.isoformat() if isinstance(v, dt.datetime) else v for v in row) for row in rows]

    def parsed_dags(self) -> set[str]:
        """DAG ids the DAG processor has serialized and not marked stale."""
        rows = self.query(
            "SELECT d.dag_id FROM dag d JOIN serialized_dag s ON s.dag_id = d.dag_id WHERE NOT d.is_stale"
        )
        return {row[0] for row in rows}

    def import_errors(self) -> dict[str, str]:
        return {
            filename: trace for filename, trace in self.query("SELECT filename, stacktrace FROM import_error")
        }

    def wait_for_dags(self, dag_ids: Sequence[str], timeout: float = 180.0) -> None:
        """Until every DAG in ``dag_ids`` is parsed; an import error fails at once."""
        deadline = time.monotonic() + timeout
        missing = set(dag_ids)
        while time.monotonic() < deadline:
            self.check_alive()
            errors = self.import_errors()
            if errors:
                raise LocalAirflowError(f"DAG import errors: {json.dumps(errors, indent=1)[:4000]}")
            missing = set(dag_ids) - self.parsed_dags()
            if not missing:
                return
            time.sleep(1.0)
        raise LocalAirflowError(f"DAGs not parsed after {timeout:.0f} s: {sorted(missing)}")

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return rows[0][0] if rows else None

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstanceRow]:
        rows = self.query(
            "SELECT task_id, map_index, state, try_number, start_date, end_date, hostname, pid, next_method "
            "FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
            dag_id,
            run_id,
        )
        return [TaskInstanceRow(*row) for row in rows]

    def task_history(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Earlier tries (``task_instance_history``): a retry or a clear leaves a row here."""
        rows = self.query(
            "SELECT task_id, map_index, try_number, state, start_date, end_date FROM task_instance_history "
            "WHERE dag_id = ? AND run_id = ? ORDER BY task_id, try_number",
            dag_id,
            run_id,
        )
        keys = ("task_id", "map_index", "try_number", "state", "start_date", "end_date")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def event_log(self, dag_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        """Airflow's audit log (``log`` table): ``running``/``deferred``/``success``... per task try,
        with the time each happened; ``run_id=None`` also gives DAG-level events (triggering)."""
        sql = "SELECT dttm, task_id, map_index, try_number, event, run_id FROM log WHERE dag_id = ?"
        params: list[Any] = [dag_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        keys = ("dttm", "task_id", "map_index", "try_number", "event", "run_id")
        return [dict(zip(keys, row, strict=True)) for row in self.query(sql + " ORDER BY id", *params)]

    def deferrals(self, dag_id: str, run_id: str) -> dict[str, list[Deferral]]:
        """Each task's deferrals: when Airflow recorded it ``deferred`` (event log), when the
        triggerer fired its event (trigger log) and when a worker picked it up again (event log)."""
        events: dict[tuple[str, int], list[tuple[str, float]]] = {}
        for row in self.event_log(dag_id, run_id):
            at = parse_time(row["dttm"])
            if row["task_id"] and at is not None:
                events.setdefault((row["task_id"], row["map_index"]), []).append((row["event"], at))
        found: dict[str, list[Deferral]] = {}
        for (task_id, map_index), seen in events.items():
            fired = sorted(
                at
                for path in self.trigger_logs(dag_id, run_id, task_id)
                for event in read_log_events(path)
                if event.get("event") == "Trigger fired event"
                and (at := parse_time(event.get("timestamp"))) is not None
            )
            key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
            for event, at in seen:
                if event != "deferred":
                    continue
                fire = next((f for f in fired if f >= at), None)
                resumed = next((t for e, t in seen if e == "running" and t > at), None)
                found.setdefault(key, []).append(Deferral(at, fire, resumed))
        return found

    def jobs(self, job_type: str) -> list[dict[str, Any]]:
        """Rows of the ``job`` table (``SchedulerJob``, ``TriggererJob``, ``DagProcessorJob``)."""
        rows = self.query("SELECT id, state, hostname, start_date FROM job WHERE job_type = ?", job_type)
        return [dict(zip(("id", "state", "hostname", "start_date"), row, strict=True)) for row in rows]

    def wait_for_runs(
        self,
        runs: Mapping[str, str],
        timeout: float = 300.0,
        interval: float = 0.5,
        on_poll: Callable[[dict[str, RunWatch]], None] | None = None,
    ) -> dict[str, RunWatch]:
        """Poll ``{dag_id: run_id}`` until every run is finished; records each task's state changes.
        Raises LocalAirflowError (with what was seen) at ``timeout`` or if a component dies."""
        watches = {dag_id: RunWatch(dag_id, run_id) for dag_id, run_id in runs.items()}
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            for watch in watches.values():
                if watch.state in FINISHED_RUN_STATES:
                    continue
                watch.observe(self.task_instances(watch.dag_id, watch.run_id))
                watch.state = self.run_state(watch.dag_id, watch.run_id)
                if watch.state in FINISHED_RUN_STATES:  # the last task states, after the run ended
                    watch.observe(self.task_instances(watch.dag_id, watch.run_id))
            if on_poll is not None:
                on_poll(watches)
            if all(w.state in FINISHED_RUN_STATES for w in watches.values()):
                return watches
            if time.monotonic() >= deadline:
                seen = {d: {t: w.states_seen(t) for t in w.changes} for d, w in watches.items()}
                raise LocalAirflowError(f"runs not finished after {timeout:.0f} s: {seen}\n{self._tails()}")
            time.sleep(interval)

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float = 300.0, interval: float = 0.5
    ) -> RunWatch:
        return self.wait_for_runs({dag_id: run_id}, timeout, interval)[dag_id]

    # -- logs ------------------------------------------------------------------------------------------
    def task_log_dir(self, dag_id: str, run_id: str, task_id: str) -> Path:
        return self.task_logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"

    def trigger_logs(self, dag_id: str, run_id: str, task_id: str) -> list[Path]:
        """The triggerer's log files of one task (``attempt=N.log.trigger.<job id>.log``)."""
        return sorted(self.task_log_dir(dag_id, run_id, task_id).glob("**/*.log.trigger.*.log"))

    def all_logs(self) -> list[Path]:
        """Every log file under AIRFLOW_HOME: process output, task and trigger logs, DAG processor."""
        return sorted(p for p in self.home.rglob("*.log") if p.is_file())


def read_log_events(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of an Airflow 3 task/trigger log (non-JSON lines become ``{"event": line}``)."""
    events: list[dict[str, Any]] = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = {"event": line}
        events.append(value if isinstance(value, dict) else {"event": line})
    return events


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dev.local_airflow reap <marker>`` (used internally)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "reap":
        return _reaper_main(args[1])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
