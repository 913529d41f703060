"""The wheel and the sdist, built as a release would be (`python -m build`) from a copy of the
checkout that lies under a folder named ``tmp`` and has a used checkout's clutter in it (hatchling
drops the whole ``.gitignore`` there): each holds exactly what it should, `twine check` passes,
and the wheel installs in a fresh virtualenv where `airflow providers list` shows it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import airflow_provider_jobstatus

ROOT = Path(__file__).resolve().parents[2]
VERSION = airflow_provider_jobstatus.__version__
PACKAGE = "airflow_provider_jobstatus"
#: what a used checkout has lying around: none of it may ship
CLUTTER = [
    ".airflow-demo/passwords.json",
    ".airflow-demo/airflow.db",
    ".airflow/airflow.cfg",
    ".hypothesis/examples/0/1",
    ".venv/bin/python",
    ".pytest_cache/v/x",
    "dist/old-0.0.1.tar.gz",
    f"{PACKAGE}/__pycache__/status.cpython-311.pyc",
    "tests/__pycache__/x.cpython-311.pyc",
    "tmp/scratch.txt",
]
#: repository-only tools, moved out of the package
NOT_IN_THE_WHEEL = [f"{PACKAGE}/testing/demo.py", f"{PACKAGE}/testing/local_airflow.py"]


def tracked_files() -> list[str]:
    """Files git tracks or would (untracked but not ignored): what a clean clone holds."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if (ROOT / line).is_file()]


@dataclass(frozen=True)
class Dists:
    tracked: frozenset[str]
    wheel: Path
    sdist: Path

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as whl:
            return set(whl.namelist())

    def sdist_names(self) -> set[str]:
        prefix = f"airflow_provider_jobstatus-{VERSION}/"
        with tarfile.open(self.sdist) as tar:
            names = {m.name for m in tar.getmembers() if m.isfile()}
        assert all(n.startswith(prefix) for n in names), names
        return {n[len(prefix) :] for n in names}


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    checkout = tmp_path_factory.mktemp("release") / "tmp" / "checkout"
    tracked = tracked_files()
    for name in tracked:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, checkout / name)
    for name in CLUTTER:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text('{"admin": "not-for-release"}')
    out = checkout.parent / "out"
    # the default: the sdist first, then the wheel built from the sdist (so the sdist must be whole)
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(checkout)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Dists(frozenset(tracked), wheel, sdist)


def test_the_wheel_holds_the_package_and_nothing_else(dists: Dists) -> None:
    names = dists.wheel_names()
    info = f"airflow_provider_jobstatus-{VERSION}.dist-info"
    assert dists.wheel.name == f"airflow_provider_jobstatus-{VERSION}-py3-none-any.whl"
    assert {n.split("/")[0] for n in names} == {PACKAGE, info}
    package = {n for n in names if n.startswith(f"{PACKAGE}/")}
    assert package == {n for n in dists.tracked if n.startswith(f"{PACKAGE}/")}, "exactly the tracked files"
    for needed in (
        "py.typed",
        "testing/pytest_plugin.py",
        "testing/simulator/__main__.py",
        "testing/connections.py",
    ):
        assert f"{PACKAGE}/{needed}" in names
    assert not set(NOT_IN_THE_WHEEL) & names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_metadata(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as whl:
        info = f"airflow_provider_jobstatus-{VERSION}.dist-info"
        metadata = whl.read(f"{info}/METADATA").decode()
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    assert f"\nVersion: {VERSION}\n" in metadata
    assert "Requires-Dist: apache-airflow>=3.1" in metadata
    assert re.search(r"^Provides-Extra: testing$", metadata, re.M)
    assert "provider_info = airflow_provider_jobstatus:get_provider_info" in entry_points
    assert "jobstatus_simulator = airflow_provider_jobstatus.testing.pytest_plugin" in entry_points


def test_the_sdist_holds_tracked_files_only(dists: Dists) -> None:
    names = dists.sdist_names() - {"PKG-INFO"}
    assert names <= dists.tracked | {".gitignore"}, sorted(names - dists.tracked)
    for name in CLUTTER:
        assert name not in names
    assert not [n for n in names if n.startswith((".airflow", ".hypothesis", ".venv", "dist/"))]
    assert not [n for n in names if "passwords.json" in n or n.endswith((".db", ".pyc"))]
    must = {"pyproject.toml", "README.md", "CHANGELOG.md", "Makefile", f"{PACKAGE}/py.typed"}
    assert must <= names
    for folder in (PACKAGE, "tests", "example_dags", "dev"):
        assert {n for n in dists.tracked if n.startswith(f"{folder}/")} <= names, f"all of {folder}/"


def test_the_changelog_names_this_version() -> None:
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings and headings[0] == VERSION


def test_twine_check(dists: Dists) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dists.wheel), str(dists.sdist)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


_IMPORTS = """
import json, sys
import airflow_provider_jobstatus.testing.pytest_plugin
heavy = {"airflow", "starlette", "uvicorn", "httpx", "aiohttp"}
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


@pytest.mark.slow
def test_the_wheel_installs_and_airflow_lists_it(dists: Dists, tmp_path: Path) -> None:
    """A fresh virtualenv (minutes: all of Airflow installs), so it is in `make slow`; `make compat`
    does the same on each older Airflow line."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python, airflow = venv / "bin" / "python", venv / "bin" / "airflow"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    installed = subprocess.run(
        [*pip, f"{dists.wheel}[testing]"], capture_output=True, text=True, timeout=1200
    )
    assert installed.returncode == 0, installed.stderr[-4000:]
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "AIRFLOW_HOME": str(tmp_path / "home")}
    listed = subprocess.run(
        [str(airflow), "providers", "list", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr[-4000:]
    providers = {p["package_name"]: p["version"] for p in json.loads(listed.stdout)}
    assert providers.get("airflow-provider-jobstatus") == VERSION, sorted(providers)
    imports = subprocess.run(
        [str(python), "-c", _IMPORTS], capture_output=True, text=True, env=env, timeout=120
    )
    assert imports.returncode == 0, imports.stderr[-2000:]
    assert json.loads(imports.stdout) == [], (
        "the pytest plugin (pytest: the testing extra) loads nothing heavy"
    )
