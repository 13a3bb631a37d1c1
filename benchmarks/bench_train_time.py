"""What the automatic selection and the ranking stage cost: `recsys train` with no options against
the hand recipe, the same without the selection or the ranking stage, and the previous defaults.

    python benchmarks/bench_train_time.py [--config pipelines/configs/yes.toml | --data FILE] [--repeat 2]
                                          [--against "hand recipe" "no ranking stage" "no selection"
                                                     "no selection or ranking stage" "previous defaults"]

Times the whole command, once per arm per repeat and in turns so that every
arm sees the same machine: as it runs now with no options (data-adaptive
defaults, the automatic selection and the ranking stage); the hand recipe
(``_hand_recipe.py``: the data parsed to lists and gensim's ``Word2Vec``
with the final options the no-options run of the same turn chose, on all
the data); the same with ``ranking.enabled = false`` (no ranking stage);
with ``--no-auto`` (no selection: the data-adaptive rules alone, which
choose the same final options as the selection on data where it keeps the
rules' choice), and with both; pinned to the defaults before the selection
(symmetric context, 20 epochs, alpha 0.025, sample 1e-3, relation "next",
no selection, no ranking stage).
Each run logs to a fresh MLflow store in a temporary directory. Prints the
wall times, the stage summaries and the ratio of "no options" to each other
arm; with the hand recipe, the ratio of every arm to its training alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_results
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).resolve().parents[1]
NO_RANKING = ["--set", "ranking.enabled=false"]
PREVIOUS_DEFAULTS = ["--no-auto", "--set", "context=symmetric", "--set", "epochs=20", "--set", "alpha=0.025",
                     "--set", "sample=0.001", "--set", "relation=next", *NO_RANKING]
ARMS = {"no options": [], "no ranking stage": NO_RANKING, "no selection": ["--no-auto"],
        "no selection or ranking stage": ["--no-auto", *NO_RANKING], "previous defaults": PREVIOUS_DEFAULTS}
HAND_RECIPE = "hand recipe"


def _run(source: list[str], extra: list[str]) -> tuple[float, str, dict[str, str]]:
    """Wall seconds, the stage summary (with the test HR@10 and NDCG@10) and the final options of one
    `recsys train`."""
    with tempfile.TemporaryDirectory(prefix="recsys-bench-") as store:
        uri = f"sqlite:///{store}/mlflow.db"
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONHASHSEED": "0"}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "recsys.cli", "train", *source, "--quiet", *extra],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"recsys train failed:\n{result.stderr[-2000:]}")
        client = MlflowClient(uri)
        runs = [run for run in client.search_runs([e.experiment_id for e in client.search_experiments()])
                if "mlflow.parentRunId" not in run.data.tags and "vector_size" in run.data.params]
        params = runs[0].data.params if runs else {}
        metrics = runs[0].data.metrics if runs else {}
    stages = next((line for line in result.stdout.splitlines() if line.startswith("stages:")), "")
    if "hr_at_10" in metrics:
        stages += f"; test hr_at_10 {metrics['hr_at_10']:.4f}, ndcg_at_10 {metrics['ndcg_at_10']:.4f}"
    return seconds, stages, params


def _hand_recipe(data: Path, params: dict[str, str]) -> tuple[float, str, float]:
    """Wall seconds, a summary and the training seconds of the hand recipe with a run's final options."""
    workers = len(os.sched_getaffinity(0)) if params.get("workers", "None") == "None" else int(params["workers"])
    options = {"vector_size": int(params["vector_size"]), "window": int(params["window"]),
               "negative": int(params["negative"]), "ns_exponent": float(params["ns_exponent"]),
               "sample": float(params["sample"]), "epochs": int(params["epochs"]), "alpha": float(params["alpha"]),
               "min_count": int(params["min_count"]), "workers": workers, "seed": int(params["seed"])}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("_hand_recipe.py")), str(data),
                             json.dumps(options)], capture_output=True, text=True, env={**os.environ,
                                                                                         "PYTHONHASHSEED": "0"})
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the hand recipe failed:\n{result.stderr[-2000:]}")
    timing = json.loads(result.stdout.splitlines()[-1])
    summary = (f"parse {timing['parse_seconds']:.1f} s, train {timing['train_seconds']:.1f} s "
               f"({params.get('context')} chosen; {json.dumps(options)})")
    return seconds, summary, timing["train_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, default=ROOT / "pipelines" / "configs" / "yes.toml")
    source.add_argument("--data", type=Path, help="a playlists text file or an events log, with no config")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--against", nargs="+", default=None,
                        help='default: "no ranking stage" and "previous defaults", and "hand recipe" with --data',
                        choices=[HAND_RECIPE, *(arm for arm in ARMS if arm != "no options")])
    args = parser.parse_args()
    if args.against is None:
        args.against = [*([HAND_RECIPE] if args.data else []), "no ranking stage", "previous defaults"]
    if HAND_RECIPE in args.against and args.data is None:
        parser.error("the hand recipe needs --data (a playlists text file or an events log)")
    source = ["--data", str(args.data.resolve())] if args.data else ["--config", str(args.config)]
    arms = ["no options", *args.against]
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    hand_training: list[float] = []
    for repeat in range(args.repeat):
        chosen: dict[str, str] = {}
        for arm in arms:
            if arm == HAND_RECIPE:
                seconds, stages, trained = _hand_recipe(args.data, chosen)
                hand_training.append(trained)
            else:
                seconds, stages, params = _run(source, ARMS[arm])
                chosen = params if arm == "no options" else chosen
            times[arm].append(seconds)
            print(f"{arm:18s} run {repeat + 1}: {seconds:6.1f} s  {stages}", flush=True)
    ratios = {arm: [new / old for new, old in zip(times["no options"], times[arm])] for arm in args.against}
    if hand_training:
        for arm in (arm for arm in arms if arm != HAND_RECIPE):
            ratios[f"{arm} / hand recipe's training alone"] = [
                new / old for new, old in zip(times[arm], hand_training)]
    for name, values in ratios.items():
        label = name if "/" in name else f"no options / {name}"
        print(f"{label}: " + ", ".join(f"{r:.2f}" for r in values))
    write_results("train_time", {"source": source, "seconds": times, "ratios": ratios})


if __name__ == "__main__":
    main()
