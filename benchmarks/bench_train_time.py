"""What the automatic selection costs: `recsys train` with no options against the previous defaults.

    python benchmarks/bench_train_time.py [--config pipelines/configs/yes.toml] [--repeat 2]

Times the whole command, twice per repeat and in turns so that both see
the same machine: once as it runs now with no options (data-adaptive
defaults and the automatic selection), once pinned to the defaults before
them (symmetric context, 20 epochs, alpha 0.025, sample 1e-3, relation
"next", no selection). Each run logs to a fresh MLflow store in a
temporary directory. Prints the wall times, the stage summaries and the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_results

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_DEFAULTS = ["--no-auto", "--set", "context=symmetric", "--set", "epochs=20", "--set", "alpha=0.025",
                     "--set", "sample=0.001", "--set", "relation=next"]


def _run(config: Path, extra: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="recsys-bench-") as store:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db", "PYTHONHASHSEED": "0"}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "recsys.cli", "train", "--config", str(config), "--quiet", *extra],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"recsys train failed:\n{result.stderr[-2000:]}")
    stages = next((line for line in result.stdout.splitlines() if line.startswith("stages:")), "")
    return seconds, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "pipelines" / "configs" / "yes.toml")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"previous defaults": [], "no options": []}
    for repeat in range(args.repeat):
        for label, extra in (("previous defaults", PREVIOUS_DEFAULTS), ("no options", [])):
            seconds, stages = _run(args.config, extra)
            times[label].append(seconds)
            print(f"{label:18s} run {repeat + 1}: {seconds:6.1f} s  {stages}", flush=True)
    ratios = [new / old for new, old in zip(times["no options"], times["previous defaults"])]
    print("no options / previous defaults: " + ", ".join(f"{r:.2f}" for r in ratios))
    write_results("train_time", {"config": str(args.config), "seconds": times, "ratios": ratios})


if __name__ == "__main__":
    main()
