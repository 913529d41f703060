"""``make compat``: the unit, simulator and integration suites and one ``airflow dags test`` of an
example DAG on each older Airflow line we claim, each in a virtualenv of its own under
``.venv-compat/<line>/`` (kept between runs; rebuilt when ``pyproject.toml`` or the Airflow release
changes). The lines run side by side; one summary line per Airflow version, exit 0 only if all
passed.

    python -m dev.compat                 # the newest patch of every line in LINES
    python -m dev.compat --airflow 3.1.8 # one release
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dev.local_airflow import newest_run_task_states

REPO = Path(__file__).resolve().parents[1]
#: the Airflow lines below the one `make test` runs on (the claim in docs/quickstart.md starts at the first)
LINES = ("3.1", "3.2")
SUITES = ("tests/unit", "tests/simulator", "tests/integration")
#: the suites mostly wait (poll intervals, retries, servers): 4 workers a line take a third of the
#: time of one, also on 2 cores with both lines at once
SUITE_WORKERS = 4
EXAMPLE_DAG = "example_jobstatus_all_vendors"
#: pytest's closing line, e.g. "812 passed, 3 skipped in 95.1s"
_PYTEST_SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|error).*?) in [\d.]+s", re.M)


def newest_patches(lines: Sequence[str]) -> list[str]:
    """The newest release of each line, as the package index lists them."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "apache-airflow", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    listed = re.search(r"Available versions: (.*)", out)
    if listed is None:
        raise SystemExit(f"pip index versions apache-airflow said nothing usable:\n{out}")
    releases = [v.strip() for v in listed.group(1).split(",") if re.fullmatch(r"\d+\.\d+\.\d+", v.strip())]
    chosen = []
    for line in lines:
        patches = [v for v in releases if v.startswith(f"{line}.")]
        if not patches:
            raise SystemExit(f"no apache-airflow {line}.x on the package index")
        chosen.append(max(patches, key=lambda v: tuple(int(p) for p in v.split("."))))
    return chosen


#: how long after an Airflow release its dependencies' releases still count as "of its day"
#: (its own packages, core and task SDK, are uploaded minutes after it)
RELEASE_MARGIN = timedelta(days=1)


def uv(*args: str) -> list[str]:
    """A uv command (uv is in the test extra: resolving and installing a line takes seconds)."""
    return [sys.executable, "-m", "uv", *args]


def released(airflow: str) -> datetime:
    """When ``apache-airflow==airflow`` was uploaded, as the package index says (through uv's
    PEP 751 lock, which records each file's upload time)."""
    import tomllib  # Python 3.11+, as the Makefile's .venv

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.txt").write_text(f"apache-airflow=={airflow}\n")
        proc = subprocess.run(
            uv("pip", "compile", "-q", "--no-deps", "--no-header", "in.txt", "-o", "pylock.toml"),
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if proc.returncode != 0:
            raise StepFailed(
                f"cannot find apache-airflow {airflow} on the package index: {proc.stderr.strip()}"
            )
        lock = tomllib.loads((Path(tmp) / "pylock.toml").read_text())
    (package,) = lock["packages"]
    files = [package.get("sdist", {}), *package.get("wheels", [])]
    times: list[datetime] = [f["upload-time"] for f in files if isinstance(f.get("upload-time"), datetime)]
    if not times:
        raise StepFailed(f"the package index gives no upload time for apache-airflow {airflow}")
    return max(times)


@dataclass
class Result:
    airflow: str
    ok: bool
    summary: str
    seconds: float
    log: Path


class Line:
    """One Airflow release: its virtualenv, its AIRFLOW_HOME, its log."""

    def __init__(self, airflow: str, root: Path) -> None:
        self.airflow = airflow
        self.line = ".".join(airflow.split(".")[:2])
        self.venv = root / self.line
        self.home = self.venv / "airflow-home"
        self.log_path = root / f"{self.line}.log"
        self.bin = self.venv / "bin"
        self._log_lock = threading.Lock()

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
        return {
            **base,
            "PATH": f"{self.bin}{os.pathsep}{base.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            **extra,
        }

    def run(self, args: Sequence[str], timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
        """One command under a hard timeout; its output goes to the line's log in one piece (the
        suites and the DAG run side by side)."""
        started = time.monotonic()
        proc = subprocess.run(
            ["timeout", "-s", "KILL", str(int(timeout)), *args],
            cwd=REPO,
            env=self.env(**env),
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - started
        with self._log_lock, self.log_path.open("a") as log:
            log.write(
                f"\n$ {' '.join(args)}\n{proc.stdout}{proc.stderr}[exit {proc.returncode}, {took:.0f} s]\n"
            )
        return proc

    def stamp(self) -> str:
        text = (REPO / "pyproject.toml").read_bytes() + self.airflow.encode()
        return hashlib.sha256(text).hexdigest()

    def install(self) -> None:
        """A virtualenv with this Airflow, its dependencies as of its release (what Airflow's
        constraints file for the release pins: pip alone takes today's releases, and Airflow 3.2.2's
        own execution API breaks on today's fastapi and svcs) and the project, editable, with its
        test extra on top."""
        stamp_file = self.venv / ".compat-stamp"
        if stamp_file.exists() and stamp_file.read_text() == self.stamp():
            return
        shutil.rmtree(self.venv, ignore_errors=True)
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        python = str(self.bin / "python")
        cutoff = (released(self.airflow) + RELEASE_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")
        wanted, constraints = self.venv / "airflow.in", self.venv / "airflow-constraints.txt"
        self.step(uv("venv", "-q", "--python", sys.executable, str(self.venv)))
        wanted.write_text(f"apache-airflow=={self.airflow}\n")
        # Airflow and what it needs, resolved as of its release: the line's constraints file
        self.step(
            uv(
                "pip",
                "compile",
                "-q",
                "--python",
                python,
                "--exclude-newer",
                cutoff,
                "--no-header",
                str(wanted),
                "-o",
                str(constraints),
            )
        )
        self.step(
            uv(
                "pip",
                "install",
                "-q",
                "--python",
                python,
                "-c",
                str(constraints),
                f"apache-airflow=={self.airflow}",
                "-e",
                ".[test]",
            )
        )
        stamp_file.write_text(self.stamp())

    def step(self, args: Sequence[str]) -> None:
        proc = self.run(args, timeout=900)
        if proc.returncode != 0:
            raise StepFailed(f"install failed: {(proc.stdout + proc.stderr).strip()[-300:]}")

    def check(self) -> str:
        self.install()
        installed = self.run([str(self.bin / "airflow"), "version"], timeout=300).stdout.strip().splitlines()
        if not installed or installed[-1] != self.airflow:
            raise StepFailed(f"the venv runs Airflow {installed[-1:] or '?'}, not {self.airflow}")
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        if self.run([str(self.bin / "airflow"), "db", "migrate"], timeout=600).returncode != 0:
            raise StepFailed("airflow db migrate failed")
        providers = self.run([str(self.bin / "airflow"), "providers", "list", "-o", "json"], timeout=300)
        listed = {p["package_name"]: p["version"] for p in _json_tail(providers.stdout)}
        if "airflow-provider-jobstatus" not in listed:
            raise StepFailed("airflow providers list does not show airflow-provider-jobstatus")
        # the suites use no Airflow DB; the DAG run gets the migrated home to itself
        tests_home = self.venv / "airflow-home-tests"
        shutil.rmtree(tests_home, ignore_errors=True)
        shutil.copytree(self.home, tests_home)
        with ThreadPoolExecutor(max_workers=2) as pool:
            suites = pool.submit(self.suites, tests_home)
            dag = pool.submit(self.dags_test)
            outcomes = [_outcome(suites), _outcome(dag)]
        failed = [text for ok, text in outcomes if not ok]
        if failed:
            raise StepFailed("; ".join(failed))
        ours = listed["airflow-provider-jobstatus"]
        return f"{outcomes[0][1]}; {outcomes[1][1]}; providers list: {ours}"

    def suites(self, home: Path) -> str:
        """The suites, spread over SUITE_WORKERS pytest-xdist workers."""
        tests = self.run(
            [str(self.bin / "python"), "-m", "pytest", "-q", "-n", str(SUITE_WORKERS), *SUITES],
            timeout=1500,
            AIRFLOW_HOME=str(home),
        )
        found = _PYTEST_SUMMARY.findall(tests.stdout)
        summary = f"suites {found[-1][0] if found else 'no pytest summary'}"
        if tests.returncode != 0:
            raise StepFailed(summary)
        return summary

    def dags_test(self) -> str:
        """The example DAG against a simulator of this venv, under a hard timeout."""
        code = (
            "import json, sys, time\n"
            "from airflow_provider_jobstatus.testing.pytest_plugin import connection_env\n"
            "from airflow_provider_jobstatus.testing.simulator import Simulator\n"
            "sim = Simulator().start()\n"
            "print(json.dumps(connection_env(sim)), flush=True)\n"
            "sys.stdin.read()\n"
            "sim.stop()\n"
        )
        sim = subprocess.Popen(
            [str(self.bin / "python"), "-c", code],
            cwd=REPO,
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert sim.stdout is not None
            conns: dict[str, str] = json.loads(sim.stdout.readline())
            proc = self.run(
                [str(self.bin / "airflow"), "dags", "test", EXAMPLE_DAG],
                # each task starts a fresh interpreter: ~2 s on an idle machine, over a minute at
                # a load of 11 on 2 cores
                timeout=1500,
                AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "example_dags"),
                **conns,
            )
        finally:
            sim.communicate("", timeout=60)
        states = newest_run_task_states(self.home / "airflow.db", EXAMPLE_DAG)
        if proc.returncode != 0 or not states or set(states.values()) != {"success"}:
            raise StepFailed(f"dags test {EXAMPLE_DAG}: exit {proc.returncode}, task states {states}")
        return f"dags test {EXAMPLE_DAG}: {len(states)} tasks success"


class StepFailed(Exception):
    pass


def _outcome(future: Future[str]) -> tuple[bool, str]:
    try:
        return True, future.result()
    except StepFailed as exc:
        return False, str(exc)


def _json_tail(text: str) -> list[dict[str, str]]:
    """The JSON list an ``-o json`` command prints last (after any warnings)."""
    start = text.find("[")
    try:
        value = json.loads(text[start:]) if start >= 0 else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def run_line(airflow: str, root: Path) -> Result:
    line = Line(airflow, root)
    line.log_path.parent.mkdir(parents=True, exist_ok=True)
    line.log_path.write_text(f"compat run for Airflow {airflow}\n")
    started = time.monotonic()
    try:
        summary, ok = line.check(), True
    except StepFailed as exc:
        summary, ok = str(exc), False
    return Result(airflow, ok, summary, time.monotonic() - started, line.log_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.compat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--airflow", nargs="*", help="releases to test (default: newest of each line)")
    parser.add_argument("--root", type=Path, default=REPO / ".venv-compat", help="where the venvs live")
    parser.add_argument("--serial", action="store_true", help="one line after the other")
    args = parser.parse_args(argv)
    releases = args.airflow or newest_patches(LINES)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1 if args.serial else len(releases)) as pool:
        results = list(pool.map(lambda release: run_line(release, args.root), releases))
    for r in results:
        print(
            f"compat: Airflow {r.airflow}: {'PASS' if r.ok else 'FAIL'} ({r.seconds:.0f} s): {r.summary}"
            + ("" if r.ok else f" [log: {r.log}]"),
            flush=True,
        )
    print(f"compat: {len(results)} Airflow versions in {time.monotonic() - started:.0f} s", flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
