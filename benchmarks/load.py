"""The load generator: N keep-alive HTTP/1.1 clients (asyncio) for a fixed time, in its own
process so it does not share the benchmark's interpreter.

    python -m benchmarks.load '{"base": "http://127.0.0.1:8000", "clients": 8, "duration": 5,
                                "kind": "get", "paths": ["/healthz"]}'

(or the same JSON on standard input).
`kind` "book" POSTs /api/v1/bookings: each request a fresh phone number; half aim at a few "hot"
slots that every client wants, half at a random slot. Prints one JSON object: requests,
elapsed, rate (requests/s), codes, p50_ms, p99_ms, errors.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from urllib.parse import urlsplit


class Stats:
    def __init__(self) -> None:
        self.codes: Counter = Counter()
        self.latencies: list[float] = []
        self.errors = 0


def requests_for(spec: dict, client: int):
    """A function returning the next (method, path, body) for one client."""
    if spec["kind"] == "get":
        paths = spec["paths"]
        state = {"n": client}

        def next_get():
            state["n"] += 1
            return "GET", paths[state["n"] % len(paths)], b""
        return next_get
    slots, hot = spec["slots"], spec["slots"][:spec.get("hot", 6)]
    rng = random.Random(spec.get("seed", 0) * 1000 + client)
    counter = {"n": 0}
    base = (spec.get("run", 0) * 64 + client) * 20_000  # distinct numbers per run and client

    def next_booking():
        counter["n"] += 1
        service, start = rng.choice(hot) if rng.random() < 0.5 else rng.choice(slots)
        number = 2_000_000 + (base + counter["n"]) % 7_999_999
        body = {"service": service, "start": start,
                "client": {"name": "Bench Client", "phone": f"+1415{number:07d}"},
                "sms_consent": True,
                "intake": {"uses_prescription_topicals": False, "concerns": ["blackheads"]}}
        return "POST", "/api/v1/bookings", json.dumps(body).encode()
    return next_booking


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    close = headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0")
    return status, close


async def one_client(n: int, spec: dict, deadline: float, stats: Stats) -> None:
    url = urlsplit(spec["base"])
    host, port = url.hostname, url.port
    make = requests_for(spec, n)
    reader = writer = None
    while time.perf_counter() < deadline:
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        method, path, body = make()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        began = time.perf_counter()
        try:
            writer.write(head.encode() + body)
            status, close = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            stats.errors += 1
            writer.close()
            writer = None
            continue
        stats.latencies.append(time.perf_counter() - began)
        stats.codes[status] += 1
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def run(spec: dict) -> dict:
    stats = Stats()
    began = time.perf_counter()
    deadline = began + spec["duration"]
    await asyncio.gather(*(one_client(n, spec, deadline, stats) for n in range(spec["clients"])))
    elapsed = time.perf_counter() - began
    done = sorted(stats.latencies)
    count = len(done)
    return {"requests": count, "elapsed": round(elapsed, 3), "rate": round(count / elapsed, 1),
            "codes": {str(k): v for k, v in sorted(stats.codes.items())}, "errors": stats.errors,
            "p50_ms": round(done[count // 2] * 1000, 2) if done else None,
            "p99_ms": round(done[min(count - 1, int(count * .99))] * 1000, 2) if done else None}


def main() -> None:
    spec = json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read())
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
