"""Training speed: the whole ``recsys train`` pipeline against the hand recipe.

Measured in one run, on the synthetic events log of ``--events`` events:

* **recipe**: what a user writes by hand on the same training sequences
  (written as one space-separated line each): parse the file into Python
  lists, then ``Word2Vec(sentences=..., same hyperparameters, workers=W)``;
  its training alone (the ``Word2Vec`` call) is the yardstick;
* **pipeline**: ``recsys train --data events.parquet --format events`` in a
  subprocess with a cold sequences cache: reading, sessionizing, split,
  training, evaluation against the baselines, MLflow logging and model
  registration. Target: at most 1.2x the recipe's training alone, and its
  own training step faster than the recipe's;
* **modes**: in-memory against ``corpus_file`` training, for 1 and W workers,
  at several corpus sizes (words/s per worker, and where ``file`` wins:
  ``recsys.item2vec.CORPUS_FILE_MIN_WORDS``);
* **quality**: HR@10 of both modes on the same split, two seeds each.

Recipe and pipeline alternate, ``--repeat`` times each. Results go to
``benchmarks/results/train.json``.

    .venv/bin/python benchmarks/bench_train.py --events 10000000 --epochs 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


from _common import write_results  # noqa: E402

from recsys import train  # noqa: E402
from recsys.config import Item2VecConfig, load_pipeline_config  # noqa: E402
from recsys.data.load import PreparedData, load_training_data  # noqa: E402
from recsys.data.synthetic import write_playlists  # noqa: E402
from recsys.data.synthetic_events import EventsSynthConfig, write_events  # noqa: E402
from recsys.evaluation.cases import build_cases  # noqa: E402
from recsys.evaluation.methods import Item2VecMethod  # noqa: E402
from recsys.evaluation.protocol import evaluate_methods  # noqa: E402

_RECIPE = """
import json, sys, time
from gensim.models import Word2Vec
path, options = sys.argv[1], json.loads(sys.argv[2])
started = time.perf_counter()
with open(path, encoding="utf-8") as handle:
    sentences = [line.split() for line in handle]
parsed, cpu = time.perf_counter(), time.process_time()
Word2Vec(sentences=sentences, hs=0, **options)
done = time.perf_counter()
print(json.dumps({"parse_seconds": parsed - started, "train_seconds": done - parsed,
                  "train_cpu_seconds": time.process_time() - cpu}))
"""


_HYPERPARAMETERS = ("vector_size", "window", "negative", "ns_exponent", "sample", "min_count", "sg", "alpha",
                    "min_alpha", "shrink_windows", "seed")
"""Options the recipe passes to gensim with the pipeline's values (``Item2VecConfig`` defaults)."""


def _recipe(corpus: Path, epochs: int, workers: int) -> dict[str, float]:
    defaults = Item2VecConfig().model_dump()
    options = {name: defaults[name] for name in _HYPERPARAMETERS} | {"epochs": epochs, "workers": workers}
    done = subprocess.run([sys.executable, "-c", _RECIPE, str(corpus), json.dumps(options)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pipeline(events: Path, scratch: Path, epochs: int, workers: int, baselines: list[str]) -> dict[str, object]:
    """``recsys train`` end to end in a subprocess; wall time, stage times and HR@10 of the run."""
    import mlflow

    store = f"sqlite:///{scratch / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "RECSYS_CACHE_DIR": str(scratch / "cache")}
    command = [sys.executable, "-m", "recsys.cli", "train", "--data", str(events), "--format", "events",
               "--name", "bench", "--set", f"epochs={epochs}", "--set", f"workers={workers}", "--quiet",
               "--set", f"evaluation.baselines={json.dumps(baselines)}"]
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=scratch, check=True)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    run_id = done.stdout.strip().splitlines()[-1].removeprefix("run_id=")
    summary = next(line for line in done.stdout.splitlines() if line.startswith("stages: "))
    mlflow.set_tracking_uri(store)
    metrics = mlflow.MlflowClient().get_run(run_id).data.metrics
    stages = {name: float(value) for name, value in re.findall(r"(\w+) ([\d.]+) s", summary.split(";")[0])}
    return {"wall_seconds": wall, "cpu_seconds": cpu, "stages": stages, "summary": summary,
            "train_cpu_seconds": metrics["stages/train_cpu_seconds"], "hr_at_10": metrics["hr_at_10"],
            "peak_rss_mb": max(v for k, v in metrics.items() if k.endswith("_peak_rss_mb"))}


def _children_cpu() -> float:
    """User and system CPU seconds of all finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _warm_store(scratch: Path) -> None:
    """Create the MLflow store once (its schema migrations are a one-time cost, not a run's)."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{scratch / 'mlflow.db'}")
    mlflow.MlflowClient().search_experiments()


def _modes(prepared: PreparedData, workers: int, sizes: list[int]) -> list[dict[str, object]]:
    """Seconds of train() and words/s per worker, memory vs file, on prefixes of the training sequences."""
    rows = []
    lengths = prepared.train["items"].list.len().cum_sum()
    for words in sizes:
        subset = prepared.train.head(int((lengths < words).sum()) + 1)
        for n_workers in sorted({1, workers}):
            for mode in ("memory", "file"):
                config = Item2VecConfig(epochs=1, workers=n_workers, corpus=mode)
                started, cpu = time.perf_counter(), time.process_time()
                vectors = train(subset, config)
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                epoch = vectors.epochs[0]
                rows.append({"words": int(subset["items"].list.len().sum()), "workers": n_workers, "mode": mode,
                             "seconds": seconds, "cpu_seconds": cpu, "words_per_second": epoch.words_per_second,
                             "words_per_second_per_worker": epoch.words_per_second / n_workers})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def _quality(prepared: PreparedData, workers: int, epochs: int) -> list[dict[str, object]]:
    """HR@10 of in-memory and corpus_file training on the same split, two seeds each."""
    cases = build_cases(prepared.test, "next_item")
    rows = []
    for seed in (42, 7):
        for mode in ("memory", "file"):
            item2vec = Item2VecConfig(epochs=epochs, workers=workers, corpus=mode, seed=seed)
            vectors = train(prepared.train, item2vec)
            result = evaluate_methods([Item2VecMethod.from_vectors(vectors)], cases, ks=(10,), n_catalogue=len(vectors))
            rows.append({"mode": mode, "seed": seed, "hr_at_10": result[0].metrics["hr_at_10"]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baselines", nargs="*", default=["popular", "cooccurrence"],
                        help="Baselines the pipeline evaluates (evaluation.baselines).")
    parser.add_argument("--parts", nargs="+", default=["end_to_end", "modes", "quality"],
                        choices=["end_to_end", "modes", "quality"])
    parser.add_argument("--quality-events", type=int, default=1_000_000)
    parser.add_argument("--mode-sizes", type=int, nargs="+", default=[30_000, 300_000, 3_000_000])
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "recsys-bench")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)

    def events_file(size: int) -> Path:
        path = args.data_dir / f"events_{size}.parquet"
        if not path.exists():
            write_events(path, EventsSynthConfig(n_events=size))
        return path

    def prepared_for(path: Path, scratch: Path) -> PreparedData:
        data = {"path": str(path), "format": "events", "name": "bench", "cache_dir": str(scratch / "cache")}
        return load_training_data(load_pipeline_config(base={"data": data}))

    results: dict[str, object] = {"events": args.events, "epochs": args.epochs, "workers": args.workers,
                                  "baselines": args.baselines}
    with tempfile.TemporaryDirectory(dir=args.data_dir) as scratch_name:
        scratch = Path(scratch_name)
        events = events_file(args.events)
        prepared = prepared_for(events, scratch)
        corpus = write_playlists(prepared.train, scratch / "train.txt")
        results["train_words"] = int(prepared.train["items"].list.len().sum())
        _warm_store(scratch)
        runs = []
        for attempt in range(args.repeat if "end_to_end" in args.parts else 0):
            recipe = _recipe(corpus, args.epochs, args.workers)
            print(json.dumps({"recipe": recipe}), flush=True)
            (scratch / "cache").mkdir(exist_ok=True)
            for old in (scratch / "cache").iterdir():
                old.unlink()
            ours = _pipeline(events, scratch, args.epochs, args.workers, args.baselines)
            print(json.dumps({"pipeline": ours}), flush=True)
            runs.append({
                "attempt": attempt + 1, "recipe": recipe, "pipeline": ours,
                "pipeline_over_recipe_train": ours["wall_seconds"] / recipe["train_seconds"],
                "train_step_over_recipe_train": ours["stages"]["train"] / recipe["train_seconds"],
                "pipeline_cpu_over_recipe_train_cpu": ours["cpu_seconds"] / recipe["train_cpu_seconds"],
                "train_step_cpu_over_recipe_train_cpu": ours["train_cpu_seconds"] / recipe["train_cpu_seconds"],
            })
            print(json.dumps({k: v for k, v in runs[-1].items() if k.endswith(("recipe_train", "_cpu"))}), flush=True)
        results["end_to_end"] = runs
        if "modes" in args.parts:
            results["modes"] = _modes(prepared, args.workers, args.mode_sizes)
        if "quality" in args.parts:
            results["quality"] = _quality(prepared_for(events_file(args.quality_events), scratch), args.workers, args.epochs)
    path = write_results("train" if len(args.parts) == 3 else "train_" + "_".join(args.parts), results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
