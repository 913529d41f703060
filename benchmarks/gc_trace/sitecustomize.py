"""Benchmarks only (``triggerer_real --trace-gc``): puts this folder on the measured Airflow's
``PYTHONPATH``, so every process of it records its full (oldest-generation) garbage collections,
one JSON line each, to ``$JOBSTATUS_GC_TRACE/gc-<pid>.jsonl``: when it ended (epoch seconds), how
long it took, the objects it freed, the objects left in the oldest generation (counted after the
timing: a few milliseconds more of the pause), and the collections of each generation the
process has run so far. A blocked-loop warning can then be matched with the collection that held
the loop. Before each middle-generation collection, the young objects it will promote are
counted by type, to ``young-<pid>.jsonl``."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections import Counter
from typing import Any

_folder = os.environ.get("JOBSTATUS_GC_TRACE")
_started: list[float] = []


def _record(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") == 1 and phase == "start":
        _young()
    if info.get("generation") != 2:
        return
    if phase == "start":
        _started[:] = [time.perf_counter()]
        return
    if not _started:
        return
    seconds = time.perf_counter() - _started[0]
    line = {
        "end": time.time(),
        "seconds": seconds,
        "collected": info.get("collected", 0),
        "kept": len(gc.get_objects(generation=2)),
        "collections": [generation["collections"] for generation in gc.get_stats()],
        "argv": " ".join(sys.argv[:3])[:120],
    }
    with open(os.path.join(str(_folder), f"gc-{os.getpid()}.jsonl"), "a") as out:
        out.write(json.dumps(line) + "\n")


def _young() -> None:
    """Before a middle-generation collection: what it will promote into the oldest generation
    (every young object still alive), by type."""
    young = gc.get_objects(generation=0) + gc.get_objects(generation=1)
    line = {
        "young_at": time.time(),
        "young": len(young),
        "types": Counter(type(o).__qualname__ for o in young).most_common(15),
    }
    del young
    with open(os.path.join(str(_folder), f"young-{os.getpid()}.jsonl"), "a") as out:
        out.write(json.dumps(line) + "\n")


if _folder:
    gc.callbacks.append(_record)
