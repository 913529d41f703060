"""A real S3 API for tests: moto's server mode in its own process on a free port, and the Airflow
``aws`` connection (``endpoint_url`` in its extra) that ObjectStoragePath reaches it through.

Its own process, so the bytes it stores never count in the memory the tests measure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ACCESS_KEY, SECRET_KEY, REGION = "moto-test-key", "moto-test-secret", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    conn_id: str

    def connection_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_<ID>`` for an ``aws`` connection to this server."""
        conn = {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION},
        }
        return {f"AIRFLOW_CONN_{self.conn_id.upper()}": json.dumps(conn)}

    def client(self) -> Any:
        """A boto3 S3 client, to look at the store from outside the code under test."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def open_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads started and neither completed nor aborted (orphans)."""
        answer = self.client().list_multipart_uploads(Bucket=bucket)
        return sorted(upload["Key"] for upload in answer.get("Uploads", []))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_s3_server(log_dir: Path, conn_id: str = "aws_moto") -> Iterator[S3Server]:
    """Start ``python -m moto.server`` on a free port; stop it afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (log_dir / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MOTO_PORT": str(port)},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited: {(log_dir / 'moto.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/moto-api/data.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto server not answering on {url}")
            time.sleep(0.2)
        yield S3Server(url, conn_id)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
