"""Retrain every day, or update: a daily incremental update against a daily full retrain, on time-ordered data.

    python benchmarks/incremental.py [--datasets synthetic rsc15 ml-100k] [--out docs/quality.md]

Each dataset is cut by time into a base period and daily (ml-100k: weekly)
slices. The base period trains a model as ``recsys train`` does (ranking
stage, metadata mapper where there is metadata) and registers it as the
champion. Then, slice after slice, two models follow the data, each scored
on the slice after:

* **update**: ``recsys update`` of yesterday's model with today's slice
  (:func:`recsys.update`, every option at its default), a chain of updates;
* **full retrain**: ``recsys train`` on everything up to today, from
  scratch (what a team runs every night today).

Both are pinned to one item2vec configuration per dataset (``--no-auto``:
the selection would cost the same every night and is not what an update
changes) and answer the next slice's next-item cases as they would in
production (:class:`recsys.evaluation.methods.RecommenderMethod`: ranking
stage, cold items), on the same cases. Each job's wall time (the whole
``update`` / ``run_training`` call: reading, training, evaluation, logging,
registration) and its training time alone are measured in this process, with
the peak memory (the high-water mark reset before each job). Items first seen
in a slice are counted by how the update served them (trained vectors,
vectors from metadata, or left out), and the drift of the chain since the
full training (top-10 kept) is recorded beside the NDCG@10 it gives up and
beside the churn of the daily retrains themselves: the measurement behind
:attr:`recsys.config.UpdateConfig.drift_warning`. A second table runs the
update chain with other settings (:data:`VARIANTS`) on the same slices, and
scores the base model left alone: how the defaults were chosen.

The shared datasets (``../shared/data``) are skipped when absent; nothing is
copied into the project (the slices live in a temporary directory with the
MLflow store, removed at the end). Writes the ``## Incremental updates``
section of ``--out`` and ``benchmarks/results/incremental.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
from _common import ROOT, commit, write_results, write_section

from recsys.config import PipelineConfig, load_pipeline_config
from recsys.data.datasets import read_metadata
from recsys.data.readers import read_events
from recsys.data.sessions import sessionize
from recsys.data.synthetic_events import EventsSynthConfig, generate_events, item_metadata
from recsys.errors import DriftWarning
from recsys.evaluation.cases import build_cases
from recsys.evaluation.methods import Method, RecommenderMethod
from recsys.evaluation.protocol import MethodResult, evaluate_methods
from recsys.pipeline import run_training
from recsys.recommender import Recommender
from recsys.resources import peak_rss_mb, reset_peak_rss
from recsys.updating import update, vector_drift

DATASETS = ("synthetic", "rsc15", "ml-100k")
SHARED = ROOT.parent / "shared" / "data"
K = 10
SYNTHETIC = EventsSynthConfig(n_events=200_000, n_users=1_500, n_items=6_000, n_topics=60, span_days=30,
                              new_items=0.2, seed=23)
"""The synthetic log: 30 days of sessions, a fifth of the 6,000 items released during them."""


@dataclass(frozen=True)
class Periods:
    """A dataset cut by time: the sequences of the base period, then of each slice, oldest first."""

    name: str
    base: pl.DataFrame
    slices: list[pl.DataFrame]
    labels: list[str]
    """Each slice's day (or week)."""
    metadata: pl.DataFrame | None
    unit: str
    """``day`` or ``week``."""


def _cut(events: pl.DataFrame, period: pl.Expr, *, base: int, gap_minutes: float,
         drop_repeats: bool) -> tuple[pl.DataFrame, list[pl.DataFrame], list[Any]]:
    """Sessionize each period's events apart; periods before ``base`` make the base sequences."""
    events = events.with_columns(period.alias("_period"))
    periods = sorted(events["_period"].unique().to_list())
    cut = {}
    for value in periods:
        part = events.filter(pl.col("_period") == value).drop("_period")
        sequences = sessionize(part, gap_minutes=gap_minutes, drop_repeats=drop_repeats)
        cut[value] = sequences.with_columns(pl.format("{}:{}", pl.lit(str(value)), "sequence_id").alias("sequence_id"))
    first = periods[:base]
    return pl.concat([cut[p] for p in first]), [cut[p] for p in periods[base:]], periods[base:]


def synthetic_periods() -> Periods:
    """30 days of synthetic sessions with new releases: the first 24 days are the base, then six days (the few
    sessions pushed past the 30 days by the generator's pauses are left out)."""
    events = generate_events(SYNTHETIC)
    day = pl.col("timestamp").dt.date()
    base, slices, labels = _cut(events, day, base=24, gap_minutes=30, drop_repeats=True)
    return Periods("synthetic", base, slices[:6], [str(d) for d in labels[:6]], item_metadata(SYNTHETIC), "day")


def rsc15_periods() -> Periods:
    """The rsc15 sample's 7 days of clicks (its train and test files): 3 days of base, then 4 days
    (the last day's 22 late clicks of the train file join the test file's day)."""
    folder = SHARED / "rsc15_100k"
    events = pl.concat([
        read_events(folder / f"yoochoose-clicks-100k_{part}.txt", user_column="SessionId", item_column="ItemId",
                    time_column="Time", time_unit="s").collect()
        for part in ("train_full", "test")
    ]).sort("timestamp")
    day = pl.col("timestamp").dt.date().clip(upper_bound=pl.date(2014, 4, 7))
    base, slices, labels = _cut(events, day, base=3, gap_minutes=525_600, drop_repeats=True)
    return Periods("rsc15", base, slices, [str(d) for d in labels], None, "day")


def ml100k_periods() -> Periods:
    """MovieLens 100K by week (a user's ratings of a week are one sequence): weeks 0-24 are the base, then 25-30."""
    folder = SHARED / "ml-100k"
    events = read_events(folder / "u.data", separator="\t", has_header=False,
                         column_names=["user_id", "item_id", "rating", "timestamp"], time_unit="s").collect()
    start = events["timestamp"].min()
    week = ((pl.col("timestamp") - pl.lit(start)).dt.total_days() // 7).cast(pl.Int32)
    base, slices, labels = _cut(events, week, base=25, gap_minutes=1e8, drop_repeats=False)
    metadata = read_metadata(folder / "u.item", format="movielens")
    return Periods("ml-100k", base, slices, [f"week {w}" for w in labels], metadata, "week")


PERIODS: dict[str, Callable[[], Periods]] = {"synthetic": synthetic_periods, "rsc15": rsc15_periods,
                                             "ml-100k": ml100k_periods}

ITEM2VEC = ["vector_size=32", "window=5", "negative=10", "epochs=10", "min_count=2", "sample=0", "workers=1",
            "seed=42"]
"""The configuration every dataset's models share (pinned: no selection, the same for update and retrain)."""
VARIANTS = {"alpha_scale 0.25": ["update.alpha_scale=0.25"], "alpha_scale 0.5": ["update.alpha_scale=0.5"],
            "replay_fraction 2": ["update.replay_fraction=2"]}
"""Other settings of the update, each a chain of its own over the same slices (how the defaults were chosen)."""


@dataclass(frozen=True)
class Step:
    """One slice: the update and the full retrain trained up to it, scored on the next slice."""

    label: str
    n_sequences: int
    n_cases: int
    update: dict[str, float]
    """``ndcg``, ``hr``, ``seconds`` (the whole job), ``train_seconds``, ``peak_mb``."""
    full: dict[str, float]
    new_trained: int
    new_cold: int
    new_left_out: int
    top10_kept: float
    """Share of the top-10 lists kept since the full training the chain started from."""
    mean_cosine: float
    """Mean cosine of the kept items' vectors since that training."""
    retrain_top10_kept: float
    """Share of the top-10 lists a full retrain keeps from the full retrain of the day before: the churn that
    retraining every day causes anyway, the yardstick of the chain's drift."""
    stale: dict[str, float]
    """``ndcg``, ``hr`` of the base model served unchanged (neither updated nor retrained)."""
    variants: dict[str, dict[str, float]]
    """``ndcg``, ``hr``, ``train_seconds``, ``top10_kept`` of each of :data:`VARIANTS`."""


def _write(sequences: pl.DataFrame, path: Path) -> Path:
    sequences.select("sequence_id", "items").write_parquet(path)
    return path


def _config(name: str, train: Path, test: Path, metadata: Path | None, *, registered: str) -> PipelineConfig:
    data: dict[str, Any] = {"name": f"incremental-{name}", "path": str(train), "format": "sequences",
                            "test_path": str(test), "min_item_count": 1}
    if metadata is not None:
        data["metadata"] = str(metadata)
    return load_pipeline_config(
        base={"data": data, "split": {"method": "file"}, "selection": {"auto": False},
              "evaluation": {"ks": [K], "baselines": []}},
        overrides=[*ITEM2VEC, f"tracking.registered_model={registered}"],
    )


def _measured(job: Callable[[], Any]) -> tuple[Any, float, float]:
    """``job()``, its wall time and its peak memory (MiB, the high-water mark reset before)."""
    reset_peak_rss()
    started = time.perf_counter()
    result = job()
    return result, time.perf_counter() - started, peak_rss_mb()


def _scores(models: dict[str, Recommender], test: pl.DataFrame, config: PipelineConfig) -> list[MethodResult]:
    """The models' answers to the same next-item cases of ``test``."""
    evaluation = config.evaluation
    cases = build_cases(test, evaluation.protocols[0], session_window=evaluation.session_window)
    methods: list[Method] = [RecommenderMethod(name, model) for name, model in models.items()]
    return evaluate_methods(methods, cases, ks=[K], n_catalogue=max(len(m) for m in models.values()),
                            exclude_seen=evaluation.exclude_seen)


def _metrics(result: MethodResult) -> dict[str, float]:
    return {"ndcg": result.metrics[f"ndcg_at_{K}"], "hr": result.metrics[f"hr_at_{K}"]}


def run_dataset(periods: Periods, workdir: Path) -> list[Step]:
    """Train on the base period, then update and fully retrain slice after slice."""
    folder = workdir / periods.name
    folder.mkdir()
    metadata = None
    if periods.metadata is not None:
        metadata = folder / "metadata.csv"
        periods.metadata.write_csv(metadata)
    slices = [_write(s, folder / f"slice{i}.parquet") for i, s in enumerate(periods.slices)]
    history = [periods.base]
    base = _write(periods.base, folder / "base.parquet")
    print(f"{periods.name}: base {periods.base.height:,} sequences, {len(slices)} slices", file=sys.stderr)
    trained_config = _config(periods.name, base, slices[0], metadata, registered=f"incremental-{periods.name}")
    trained = run_training(trained_config)
    assert trained.model_uri is not None
    uri, previous_full, stale = trained.model_uri, trained.vectors, Recommender.load(trained.model_uri)
    variant_uris = dict.fromkeys(VARIANTS, trained.model_uri)
    steps = []
    for i in range(len(slices) - 1):
        history.append(periods.slices[i])
        everything = _write(pl.concat(history), folder / f"upto{i}.parquet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DriftWarning)  # recorded below, not a reason to stop
            updated, update_seconds, update_mb = _measured(lambda: update(uri, slices[i], test_data=slices[i + 1]))
            variants = {}
            for name, overrides in VARIANTS.items():
                variants[name] = update(variant_uris[name], slices[i], test_data=slices[i + 1],
                                        overrides=[*overrides, f"tracking.registered_model=incremental-{name}"])
                variant_uris[name] = variants[name].model_uri
        uri = updated.model_uri
        full, full_seconds, full_mb = _measured(lambda: run_training(_config(
            periods.name, everything, slices[i + 1], metadata, registered=f"incremental-{periods.name}-full")))
        assert full.model_uri is not None
        models = {"update": updated.recommender, "full": Recommender.load(full.model_uri), "stale": stale,
                  **{name: result.recommender for name, result in variants.items()}}
        scores = {r.method: r for r in _scores(models, periods.slices[i + 1], trained_config)}
        chain = updated.chain_drift or updated.drift
        step = Step(
            label=periods.labels[i], n_sequences=periods.slices[i].height, n_cases=scores["update"].n_pairs,
            update={"ndcg": scores["update"].metrics[f"ndcg_at_{K}"], "hr": scores["update"].metrics[f"hr_at_{K}"],
                    "seconds": update_seconds, "train_seconds": updated.train_seconds, "peak_mb": update_mb},
            full={"ndcg": scores["full"].metrics[f"ndcg_at_{K}"], "hr": scores["full"].metrics[f"hr_at_{K}"],
                  "seconds": full_seconds, "train_seconds": full.train_seconds, "peak_mb": full_mb},
            new_trained=len(updated.new_items.trained), new_cold=len(updated.new_items.cold),
            new_left_out=len(updated.new_items.left_out), top10_kept=chain.top10_overlap,
            mean_cosine=chain.mean_cosine,
            retrain_top10_kept=vector_drift(previous_full, full.vectors, seed=0).top10_overlap,
            stale=_metrics(scores["stale"]),
            variants={name: {**_metrics(scores[name]), "train_seconds": result.train_seconds,
                             "top10_kept": (result.chain_drift or result.drift).top10_overlap}
                      for name, result in variants.items()},
        )
        previous_full = full.vectors
        print(f"  {step.label}: update NDCG@{K} {step.update['ndcg']:.4f} in {update_seconds:.1f} s, "
              f"full {step.full['ndcg']:.4f} in {full_seconds:.1f} s; top-10 kept {step.top10_kept:.0%} "
              f"(a retrain keeps {step.retrain_top10_kept:.0%} of the day before's)",
              file=sys.stderr)
        steps.append(step)
    return steps


def _sum(steps: list[Step], side: str, key: str) -> float:
    return float(sum(getattr(step, side)[key] for step in steps))


def _table(name: str, steps: list[Step]) -> list[str]:
    unit = "week" if name == "ml-100k" else "day"
    lines = [f"### {name}", "",
             f"| {unit} | sequences | cases | update NDCG@{K} | retrain NDCG@{K} | update HR@{K} | retrain HR@{K} "
             "| update s (train s) | retrain s (train s) | peak MiB update / retrain | new items trained / metadata / "
             "left out | top-10 kept since training (by a retrain from the day before's) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in steps:
        lines.append(
            f"| {s.label} | {s.n_sequences:,} | {s.n_cases:,} | {s.update['ndcg']:.4f} | {s.full['ndcg']:.4f} "
            f"| {s.update['hr']:.4f} | {s.full['hr']:.4f} | {s.update['seconds']:.1f} ({s.update['train_seconds']:.1f}) "
            f"| {s.full['seconds']:.1f} ({s.full['train_seconds']:.1f}) | {s.update['peak_mb']:.0f} / "
            f"{s.full['peak_mb']:.0f} | {s.new_trained} / {s.new_cold} / {s.new_left_out} | {s.top10_kept:.0%} ({s.retrain_top10_kept:.0%}) |")
    return lines


def summary(steps: list[Step]) -> dict[str, float]:
    """Over a dataset's slices: the update's share of the retrain's time (job and training) and of its NDCG@10."""
    return {
        "time_ratio": _sum(steps, "update", "seconds") / _sum(steps, "full", "seconds"),
        "train_time_ratio": _sum(steps, "update", "train_seconds") / _sum(steps, "full", "train_seconds"),
        "ndcg_ratio": _sum(steps, "update", "ndcg") / max(_sum(steps, "full", "ndcg"), 1e-12),
        "hr_ratio": _sum(steps, "update", "hr") / max(_sum(steps, "full", "hr"), 1e-12),
    }


def render(results: dict[str, list[Step]], command: str) -> str:
    """The ``## Incremental updates`` section of docs/quality.md."""
    lines = ["## Incremental updates", "",
             f"`{command}` (commit {commit()}, {datetime.now(timezone.utc):%Y-%m-%d}, {platform.machine()}, "
             f"{len(os.sched_getaffinity(0))} cores shared with other jobs; one run, every number from it). Each "
             f"slice's update (`recsys update` of the day before's model, options at their defaults) and full "
             f"retrain (`recsys train` from scratch on every slice so far) share one pinned configuration "
             f"(`{' '.join(ITEM2VEC)}`, ranking stage and metadata mapper as training fits them) and are scored on "
             f"the next slice's next-item cases. Time is each whole job (read, train, evaluate, log, register), "
             "training alone in brackets.", "",
             "| dataset | slices | update time / retrain time | training time alone | update NDCG@10 / retrain "
             "| update HR@10 / retrain |", "|---|---:|---:|---:|---:|---:|"]
    for name, steps in results.items():
        s = summary(steps)
        lines.append(f"| {name} | {len(steps)} | {s['time_ratio']:.0%} | {s['train_time_ratio']:.0%} "
                     f"| {s['ndcg_ratio']:.1%} | {s['hr_ratio']:.1%} |")
    lines += ["", "Other settings of the update, each a chain of its own on the same slices, and the base model served "
              "unchanged (`stale`): NDCG@10 over the slices as a share of the full retrain's, and the share of "
              "top-10 lists the chain kept since the full training by its last slice.", "",
              "| dataset | defaults | " + " | ".join(VARIANTS) + " | stale |",
              "|---|---:|" + "---:|" * (len(VARIANTS) + 1)]
    for name, steps in results.items():
        full = max(_sum(steps, "full", "ndcg"), 1e-12)
        cells = [f"{summary(steps)['ndcg_ratio']:.1%} ({steps[-1].top10_kept:.0%})"]
        cells += [f"{sum(s.variants[v]['ndcg'] for s in steps) / full:.1%} ({steps[-1].variants[v]['top10_kept']:.0%})"
                  for v in VARIANTS]
        cells.append(f"{sum(s.stale['ndcg'] for s in steps) / full:.1%}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, steps in results.items():
        lines += _table(name, steps) + [""]
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark on the datasets asked for (the shared ones skipped when absent)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "quality.md")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    results: dict[str, list[Step]] = {}
    with tempfile.TemporaryDirectory(prefix="incremental-") as tmp:
        workdir = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"  # the runs go with the slices
        for name in args.datasets:
            if name != "synthetic" and not SHARED.exists():
                print(f"{name}: skipped, {SHARED} is absent", file=sys.stderr)
                continue
            try:
                periods = PERIODS[name]()
            except FileNotFoundError as error:
                print(f"{name}: skipped, {error}", file=sys.stderr)
                continue
            results[name] = run_dataset(periods, workdir)
            _write_out(results, args)  # after each dataset, so that a failure later keeps what was measured
        del os.environ["MLFLOW_TRACKING_URI"]
    print(render(results, _command(args)))


def _command(args: argparse.Namespace) -> str:
    return "nice -n 10 python benchmarks/incremental.py" + (
        f" --datasets {' '.join(args.datasets)}" if list(args.datasets) != list(DATASETS) else "")


def _write_out(results: dict[str, list[Step]], args: argparse.Namespace) -> None:
    command = _command(args)
    write_results("incremental", {"command": command, "item2vec": ITEM2VEC, "variants": VARIANTS, "summary": {
        name: summary(steps) for name, steps in results.items()}, "steps": {
        name: [step.__dict__ for step in steps] for name, steps in results.items()}})
    write_section(args.out, "incremental", render(results, command))


if __name__ == "__main__":
    main()
