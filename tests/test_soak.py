"""A bounded soak of `recsys serve`: several clients for about a minute, a reload every few
seconds alternating two models, zero errors, and no memory growth from reload to reload."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from recsys import Item2VecConfig, ItemVectors, Recommender

from _net import free_port, wait_for_health

CLIENTS = 4
REQUESTS_PER_CLIENT = 500
REQUEST_INTERVAL = 0.12
"""Seconds between a client's requests: 500 of them take about a minute."""
RELOADS = 12
RELOAD_INTERVAL = 5.0
N_ITEMS = 10_000
QUERIES = [f"i{n}" for n in range(0, N_ITEMS, 997)]


def _model(seed: int) -> ItemVectors:
    rng = np.random.default_rng(seed)
    return ItemVectors(
        item_ids=tuple(f"i{n}" for n in range(N_ITEMS)),
        vectors=rng.normal(size=(N_ITEMS, 32)).astype(np.float32),
        counts=rng.integers(1, 100, size=N_ITEMS),
        config=Item2VecConfig(vector_size=32),
        context_vectors=rng.normal(size=(N_ITEMS, 32)).astype(np.float32),
    )


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_soak_clients_and_reloads(tmp_path: Path) -> None:
    models = [_model(1), _model(2)]
    expected = [  # what each model answers for the queries: every answer must be one of them, whole
        {q: frozenset(Recommender(m).recommend(q, k=10, relation="similar").item_ids) for q in QUERIES}
        for m in models
    ]
    model_dir = models[0].save(tmp_path / "model")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "recsys.cli", "serve", "--model", str(model_dir), "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    errors: list[str] = []
    answered = [0] * CLIENTS
    try:
        wait_for_health(f"{base}/health", server, timeout=180)

        def client(number: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as session:
                for n in range(REQUESTS_PER_CLIENT):
                    started = time.monotonic()
                    query = QUERIES[(n + number) % len(QUERIES)]
                    try:
                        if n % 3 == 0:
                            response = session.get(f"/similar/{query}", params={"k": 10, "relation": "similar"})
                            ids = frozenset(r["item_id"] for r in response.json()["recommendations"])
                            if response.status_code != 200 or ids not in (expected[0][query], expected[1][query]):
                                errors.append(f"GET {query}: {response.status_code} {ids}")
                        elif n % 3 == 1:
                            response = session.post("/similar", json={"item_ids": QUERIES, "k": 20})
                            if response.status_code != 200 or len(response.json()["results"]) != len(QUERIES):
                                errors.append(f"POST /similar: {response.status_code}")
                        else:
                            response = session.post("/session", json={"items": QUERIES[:4], "k": 10})
                            if response.status_code != 200 or len(response.json()["recommendations"]) != 10:
                                errors.append(f"POST /session: {response.status_code}")
                    except (httpx.HTTPError, ValueError, KeyError) as error:
                        errors.append(f"{query}: {error!r}")
                    answered[number] += 1
                    time.sleep(max(0.0, REQUEST_INTERVAL - (time.monotonic() - started)))

        rss_after_reload: list[int] = []

        def reloader() -> None:
            with httpx.Client(base_url=base, timeout=120) as session:
                for n in range(1, RELOADS + 1):
                    time.sleep(RELOAD_INTERVAL)
                    models[n % 2].save(model_dir)  # the next reload swaps in the other model
                    response = session.post("/reload")
                    if response.status_code != 200 or response.json()["reloads"] != n:
                        errors.append(f"reload {n}: {response.status_code} {response.text}")
                    rss_after_reload.append(_rss_kib(server.pid))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        threads.append(threading.Thread(target=reloader))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not any(thread.is_alive() for thread in threads), "the soak did not finish"
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert errors == [], errors[:10]
    assert answered == [REQUESTS_PER_CLIENT] * CLIENTS
    assert len(rss_after_reload) == RELOADS
    first, last = rss_after_reload[0], rss_after_reload[-1]
    print(f"soak: {sum(answered):,} requests, {RELOADS} reloads, RSS after each reload (KiB): {rss_after_reload}")
    assert abs(last - first) <= 0.10 * first, f"RSS after each reload (KiB): {rss_after_reload}"
    assert "Traceback" not in stderr
