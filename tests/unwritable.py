"""A folder nobody may write to, even root (the tests run as root in CI): ``chattr +i`` there,
plain permissions elsewhere."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def unwritable_folder(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    locked = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if locked.returncode != 0:
        pytest.skip(f"cannot make a folder unwritable as root here: {locked.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
