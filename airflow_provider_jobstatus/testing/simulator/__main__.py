"""``python -m airflow_provider_jobstatus.testing.simulator --port N``: serve until SIGINT/SIGTERM.

Once both servers listen it prints one line of JSON (``{"url", "files_url", "vendors": {...},
"control", "config", "pid"}``, for scripts: read the first line), then, for people, the
``export AIRFLOW_CONN_...`` lines that point the five default connections at it and a first
control call; then it serves, and exits 0 after a clean stop.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ..connections import export_lines
from .server import Simulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_jobstatus.testing.simulator",
        description="Serve simulated Nitro, PDF.co, Alteryx, APIDataTools and Playment APIs.",
    )
    parser.add_argument("--port", type=int, default=0, help="API port (0: pick a free one)")
    parser.add_argument("--files-port", type=int, default=0, help="files-origin port (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="access-token lifetime, seconds")
    parser.add_argument("--link-ttl", type=float, default=3600.0, help="signed-link lifetime, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nitro-token-style", choices=("camel", "snake"), default="camel")
    return parser.parse_args(argv)


def how_to_use(sim: Simulator) -> str:
    """The lines a person copies: connection variables for the shell that runs Airflow, and a job."""
    job = shlex.quote(json.dumps({"vendor": "pdfco", "outcome": "succeeded", "polls": 2}))
    return "\n".join(
        [
            "",
            "# Point Airflow's default connections at this simulator (in the shell that runs Airflow):",
            *export_lines(sim),
            "# Create a job to wait on (more calls: docs/simulator.md, 'The simulator's control API'):",
            f"curl -s -X POST {sim.url}/_sim/jobs -H 'Content-Type: application/json' -d {job}",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sim = Simulator(
        host=args.host,
        port=args.port,
        files_port=args.files_port,
        token_ttl=args.token_ttl,
        seed=args.seed,
        link_ttl=args.link_ttl,
        nitro_token_style=args.nitro_token_style,
    )
    try:
        sim.start()
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    sys.stdout.write(json.dumps({**sim.info(), "pid": os.getpid()}) + "\n")
    sys.stdout.write(how_to_use(sim))
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            if not sim.running:
                print("error: the simulator stopped unexpectedly", file=sys.stderr, flush=True)
                return 1
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
