"""Time-to-ready of `recsys serve`: from starting the process to the first `GET /health` answered.

    python benchmarks/bench_serve_ready.py [--sizes 100000 1000000] [--repeat 3] [--before-src DIR] [--stored-only]

For each catalogue size (random clustered vectors, dim 64, with output
vectors, so both relations are prepared: tables up to 100,000 items, HNSW
graphs beyond), a model directory is saved once, then `recsys serve --model
DIR` is started in a fresh process and timed until it answers:

- ``built``: no structures stored beside the model: they are built (and stored);
- ``stored``: the structures stored by the run before are loaded (``--repeat`` times);
- ``before`` (with ``--before-src``, a checkout of the code before stored
  structures, e.g. ``git worktree add /tmp/before <commit>``): the same
  command with that code, which builds at every start.

The lines `recsys serve` prints about each structure are kept. Results also
go to benchmarks/results/serve_ready.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import clustered_catalogue, write_results  # noqa: E402

from recsys.search_store import SEARCH_DIR  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def time_to_ready(model: Path, *, src: Path | None = None, timeout: float = 1800) -> tuple[float, list[str]]:
    """Seconds from starting `recsys serve --model model` until /health answers, and what it printed."""
    port = _free_port()
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "recsys.cli", "serve", "--model", str(model), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    ready = time.perf_counter() - started
                    break
            except OSError:
                if process.poll() is not None or time.perf_counter() - started > timeout:
                    raise RuntimeError(f"recsys serve did not come up: {process.stderr.read() if process.stderr else ''}")
                time.sleep(0.02)
    finally:
        os.killpg(process.pid, 15)
        _, stderr = process.communicate(timeout=60)
    lines = [line for line in stderr.splitlines() if line.startswith(("similar:", "next:", "serving", "warning"))]
    return ready, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before-src", type=Path, default=None)
    parser.add_argument("--stored-only", action="store_true",
                        help="Only time starts with the structures a previous run stored (no build).")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "recsys-bench-serve")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        model = args.data_dir / f"model_{size}"
        if not (model / "config.json").exists():
            catalogue = clustered_catalogue(size)
            context = np.random.default_rng(1).normal(size=catalogue.vectors.shape).astype(np.float32)
            dataclasses.replace(catalogue, context_vectors=context).save(model)
        row: dict[str, object] = {"items": size}
        if args.stored_only and not (model / SEARCH_DIR).is_dir():
            raise SystemExit(f"{model / SEARCH_DIR} is absent: run without --stored-only first")
        if args.before_src is not None and not args.stored_only:
            shutil.rmtree(model / SEARCH_DIR, ignore_errors=True)
            row["before_seconds"], row["before_lines"] = time_to_ready(model, src=args.before_src)
            print(f"{size:>9,} items  before: {row['before_seconds']:.1f} s", flush=True)
        if not args.stored_only:
            shutil.rmtree(model / SEARCH_DIR, ignore_errors=True)
            row["built_seconds"], row["built_lines"] = time_to_ready(model)
            print(f"{size:>9,} items  built:  {row['built_seconds']:.1f} s  " + "; ".join(row["built_lines"][:2]),
                  flush=True)
        stored = [time_to_ready(model) for _ in range(args.repeat)]
        row["stored_seconds"] = [seconds for seconds, _ in stored]
        row["stored_lines"] = stored[-1][1]
        print(f"{size:>9,} items  stored: " + ", ".join(f"{s:.1f} s" for s in row["stored_seconds"]) + "  "
              + "; ".join(row["stored_lines"][:2]), flush=True)
        rows.append(row)
    name = "serve_ready_stored" if args.stored_only else "serve_ready"
    print(f"results: {write_results(name, {'runs': rows})}")


if __name__ == "__main__":
    main()
