"""REST throughput and latency: a bounded load generator against `recsys serve` on loopback.

    python benchmarks/bench_rest.py [--items 20000] [--requests 20000] [--clients 4]

Starts `recsys serve` in a subprocess on 127.0.0.1 (a free port) over a
synthetic catalogue, then sends a fixed number of `GET /similar/{id}?k=10`
requests for random items from a few concurrent keep-alive connections
(plain asyncio sockets, so the client stays cheap), and reports requests per
second, latency percentiles and the number of errors. Results also go to
benchmarks/results/rest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import clustered_catalogue, percentiles_ms, write_results  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not come up")


async def _client(port: int, paths: list[str], latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in paths:
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") or not body.startswith(b'{"item_id"'):
                errors.append(head.split(b"\r\n", 1)[0].decode())
    finally:
        writer.close()


async def _load(port: int, paths: list[str], clients: int) -> tuple[float, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, paths[i::clients], latencies, errors) for i in range(clients)))
    return time.perf_counter() - started, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20_000, help="catalogue size (dim 64)")
    parser.add_argument("--requests", type=int, default=20_000, help="requests to send (after 1,000 warm-up)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--index", default="auto", choices=["auto", "exact", "hnsw"])
    args = parser.parse_args()

    catalogue = clustered_catalogue(args.items)
    rng = np.random.default_rng(1)
    paths = [f"/similar/{catalogue.item_ids[i]}?k=10" for i in rng.integers(0, args.items, args.requests + 1000)]
    with tempfile.TemporaryDirectory() as workdir:
        catalogue.save(Path(workdir) / "model")
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "recsys.cli", "serve", "--model", str(Path(workdir) / "model"),
             "--port", str(port), "--index", args.index],
            env={**os.environ, "TQDM_DISABLE": "1"},
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", server)
            asyncio.run(_load(port, paths[:1000], args.clients))
            seconds, latencies, errors = asyncio.run(_load(port, paths[1000:], args.clients))
            mode = httpx.get(f"http://127.0.0.1:{port}/health").json()["search_mode"]
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)

    results = {
        "items": args.items, "requests": args.requests, "clients": args.clients, "search_mode": mode,
        "seconds": seconds, "requests_per_second": args.requests / seconds, "errors": len(errors),
        **percentiles_ms(latencies),
    }
    print(f"GET /similar/{{id}}?k=10 on {args.items:,} items ({mode} search), {args.requests:,} requests, "
          f"{args.clients} clients on loopback")
    print(f"  {results['requests_per_second']:,.0f} requests/s   p50 {results['p50_ms']:.2f} ms   "
          f"p99 {results['p99_ms']:.2f} ms   max {results['max_ms']:.1f} ms   errors {len(errors)}")
    if errors:
        print(f"  first error: {errors[0]}")
    print(f"  written to {write_results('rest', results)}")


if __name__ == "__main__":
    main()
