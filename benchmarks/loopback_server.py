"""A minimal keep-alive HTTP/1.1 server that answers every request with one fixed JSON body.

Used where the full simulator would be the bottleneck: the benchmarks measure the *client's* CPU,
so the server must stay cheap. Any path gets PDF.co's "working" answer (what PDF.co says for a job
still running) unless the path contains ``/done/`` (Nitro-style 200) and 404 for ``/missing/``.

Run: ``python benchmarks/loopback_server.py --port 0`` prints the port and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

WORKING = b'{"status": "working", "remainingCredits": 60227}'


def _response(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: keep-alive\r\n\r\n"
        + body
    )


OK = _response(b"200 OK", WORKING)
NOT_FOUND = _response(b"404 Not Found", b'{"title": "Not Found", "status": 404}')
DONE = _response(b"200 OK", b'{"status": "success", "jobId": "x", "url": "http://127.0.0.1/x"}')


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
            request_line = head.split(b"\r\n", 1)[0]
            self.buf = self.buf[end:]
            if b"/missing/" in request_line:
                self.transport.write(NOT_FOUND)
            elif b"/done/" in request_line:
                self.transport.write(DONE)
            else:
                self.transport.write(OK)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", port, backlog=4096)
    sock_port = server.sockets[0].getsockname()[1]
    print(json.dumps({"url": f"http://127.0.0.1:{sock_port}"}), flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
