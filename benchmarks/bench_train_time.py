"""What the automatic selection and the ranking stage cost: `recsys train` with no options against
the same without the ranking stage and against the previous defaults.

    python benchmarks/bench_train_time.py [--config pipelines/configs/yes.toml] [--repeat 2]
                                          [--against "no ranking stage" "previous defaults"]

Times the whole command, once per arm per repeat and in turns so that every
arm sees the same machine: as it runs now with no options (data-adaptive
defaults, the automatic selection and the ranking stage); the same with
``ranking.enabled = false`` (no ranking stage); pinned to the defaults
before the selection (symmetric context, 20 epochs, alpha 0.025, sample
1e-3, relation "next", no selection, no ranking stage). Each run logs to a
fresh MLflow store in a temporary directory. Prints the wall times, the
stage summaries and the ratio of "no options" to each other arm.
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
NO_RANKING = ["--set", "ranking.enabled=false"]
PREVIOUS_DEFAULTS = ["--no-auto", "--set", "context=symmetric", "--set", "epochs=20", "--set", "alpha=0.025",
                     "--set", "sample=0.001", "--set", "relation=next", *NO_RANKING]
ARMS = {"no options": [], "no ranking stage": NO_RANKING, "previous defaults": PREVIOUS_DEFAULTS}


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
    parser.add_argument("--against", nargs="+", default=["no ranking stage", "previous defaults"],
                        choices=[arm for arm in ARMS if arm != "no options"])
    args = parser.parse_args()
    arms = ["no options", *args.against]
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    for repeat in range(args.repeat):
        for arm in arms:
            seconds, stages = _run(args.config, ARMS[arm])
            times[arm].append(seconds)
            print(f"{arm:18s} run {repeat + 1}: {seconds:6.1f} s  {stages}", flush=True)
    ratios = {arm: [new / old for new, old in zip(times["no options"], times[arm])] for arm in args.against}
    for arm, values in ratios.items():
        print(f"no options / {arm}: " + ", ".join(f"{r:.2f}" for r in values))
    write_results("train_time", {"config": str(args.config), "seconds": times, "ratios": ratios})


if __name__ == "__main__":
    main()
