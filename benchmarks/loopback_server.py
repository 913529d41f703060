"""A minimal keep-alive HTTP/1.1 server that plays just enough of two vendor APIs for benchmarks.

The benchmarks measure the *client's* CPU, so the server must stay cheap and in its own process
(the full simulator costs several times more per request; it is used for correctness, not here).

- ``POST /nitro/oauth/token`` -> a bearer token.
- ``GET /nitro/jobs/d<epoch_ms>/status`` -> Nitro ``running`` until that time, then ``completed``.
- ``GET /nitro/jobs/d<epoch_ms>`` -> 404 until that time (what ``HttpSensorTrigger`` waits on), then 200.
- ``POST /pdfco/v1/job/check`` -> PDF.co ``working`` (a job that never ends).
- ``GET /_stats`` -> request counts; ``GET /_first`` -> when each job was first polled;
  ``POST /_reset`` zeroes both.

Run: ``python benchmarks/loopback_server.py --port 0`` prints its URL and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import Counter

COUNTS: Counter[str] = Counter()
#: when each job was first asked about: the start of its wait's schedule
FIRST_SEEN: dict[str, float] = {}
_JOB = re.compile(rb"^(GET|POST) /nitro/jobs/d(\d+)(/status)? ")


def response(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


TOKEN = response(b"200 OK", b'{"accessToken": "bench-token", "tokenType": "Bearer", "expiresIn": 86400}')
WORKING = response(b"200 OK", b'{"status": "working", "remainingCredits": 60227}')
NOT_FOUND = response(
    b"404 Not Found", b'{"title": "Not Found", "status": 404, "detail": "Resource not found"}'
)


def route(request_line: bytes) -> bytes:
    match = _JOB.match(request_line)
    if match:
        now = time.time()
        done = int(match.group(2)) / 1000 <= now
        job = b"d" + match.group(2)
        FIRST_SEEN.setdefault(job.decode(), now)
        if match.group(3):
            COUNTS["status"] += 1
            if done:
                body = b'{"jobID": "' + job + b'", "status": "completed", "result": {"text": "ok"}}'
            else:
                body = b'{"jobID": "' + job + b'", "status": "running", "progress": 0.5}'
            return response(b"200 OK", body)
        COUNTS["result"] += 1
        return response(b"200 OK", b'{"jobID": "' + job + b'", "status": "completed"}') if done else NOT_FOUND
    if b"/oauth/token" in request_line:
        COUNTS["token"] += 1
        return TOKEN
    if b"/job/check" in request_line:
        COUNTS["pdfco"] += 1
        return WORKING
    if request_line.startswith(b"GET /_stats"):
        return response(b"200 OK", json.dumps(COUNTS).encode())
    if request_line.startswith(b"GET /_first"):
        return response(b"200 OK", json.dumps(FIRST_SEEN).encode())
    if request_line.startswith(b"POST /_reset"):
        COUNTS.clear()
        FIRST_SEEN.clear()
        return response(b"200 OK", b"{}")
    return NOT_FOUND


class _Http(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            self.buf = self.buf[end:]
            self.transport.write(route(head.split(b"\r\n", 1)[0]))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", port, backlog=8192)
    sock_port = server.sockets[0].getsockname()[1]
    print(json.dumps({"url": f"http://127.0.0.1:{sock_port}"}), flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
