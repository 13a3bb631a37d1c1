"""The quality report: item2vec and every baseline on every dataset found, one Markdown file.

    python benchmarks/quality.py [--datasets synthetic yes rsc15 ml-100k] [--out docs/quality.md] [--set KEY=VALUE ...]

Runs ``recsys evaluate`` (:func:`recsys.evaluate.run_evaluation`)
with ``pipelines/configs/<dataset>.toml`` for the shipped synthetic data and
each real dataset in ``../shared/data``, skipping those whose files are
absent; logs every method as an MLflow run in the dataset's experiment; and
writes the tables, the command and the machine to ``--out``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import ROOT, commit, dataset_arguments, write_section

from recsys.config import PipelineConfig, load_pipeline_config
from recsys.evaluate import EvaluationReport, run_evaluation

CONFIGS = ROOT / "pipelines" / "configs"
DATASETS = ("synthetic", "yes", "rsc15", "ml-100k")

PREAMBLE = """\
## Datasets: item2vec against the baselines, three protocols

Measured by `{command}` ({date}, commit `{commit}`, {cores} cores, Python {python};
{minutes:.1f} minutes in all). Every method is trained on the same training
sequences and answers exactly the same cases (the digest under each table);
item2vec runs as `recsys evaluate` and `recsys train` run it with the
dataset's config (the data-adaptive defaults, the automatic selection and
the ranking stage fitted on a validation split of the training part, on one
thread so that runs repeat), the baselines with their defaults
(`recsys/evaluation/baselines.py`). The machine was shared with other jobs
while measuring, so the seconds are upper bounds.

How to read a table: each cell is the value with its bootstrap 95% interval
(1,000 resamples of the cases). `Δ NDCG@10 vs item2vec` is the paired
bootstrap interval of the difference on the same cases: positive means the
baseline is better than item2vec, and an interval that excludes 0 is a real
difference. `P@10` is precision (HR / 10 with one target per case; recall@k
equals HR@k and is logged, not shown); `cov@10` the share of the catalogue
ever recommended; `pop@10` the mean popularity percentile of the recommended
items (50 = as popular as a random item, 100 = only the most popular);
`unknown` the cases whose context or target the method has never seen
(counted as misses); `fit s` and `eval s` wall-clock seconds (eval covers all
three cut-offs and the bootstrap). Items already in the session are never
recommended (`evaluation.exclude_seen`).

Protocols: **next item** (every position of a test sequence, query = the
current item), **last item** (query = second-to-last, target = last, as in
Caselles-Dupré et al. 2018), **session** (every position, query = the
session so far, its last 20 items, target = the next item not already in
it; item-item methods average the rows of the session's items, embeddings
use the normalized mean vector, sequential rules the last item, `vsknn`
the neighbour sessions).

item2vec's rows: `item2vec`, what the model answers by default (the ranking
stage's blend of the vector score with the observed evidence, or the
vectors alone for a kind of query where validation chose them; the
reference of every Δ column); `item2vec-next` and `item2vec-similar`, the
vectors alone by each relation; `item2vec-evidence`, the ranking stage
fitted without the vector signal (candidates from plays); `item2vec-ranked`,
the blend, shown only where it is not the default for every kind of query.
"""


def _missing(config: PipelineConfig) -> list[Path]:
    """The configured input files that are missing."""
    data = config.data
    return [p for p in (data.path, data.test_path, data.metadata) if p is not None and not p.exists()]


def _summary(reports: list[EvaluationReport], k: int) -> list[str]:
    """One line per dataset and protocol: item2vec's three rankings against the best baseline (NDCG@k)."""
    lines = ["### Summary", "",
             f"| dataset | protocol | item2vec | vectors only (next) | evidence only | best baseline | its NDCG@{k} "
             f"| popular |",
             "|---|---|---|---|---|---|---|---|"]
    wins = cells = 0
    for report in reports:
        for protocol in report.protocols:
            value = {m.method: m.results[protocol].metrics[f"ndcg_at_{k}"] for m in report.methods}
            item2vec = {name: v for name, v in value.items() if name.startswith("item2vec")}
            baselines = {name: v for name, v in value.items() if name not in item2vec}
            best = max(baselines, key=baselines.__getitem__)
            default = report.methods[0].method
            lines.append(f"| {report.dataset} | {protocol} | {value[default]:.4f} "
                         f"| {value.get('item2vec-next', float('nan')):.4f} "
                         f"| {value.get('item2vec-evidence', float('nan')):.4f} | {best} | {value[best]:.4f} "
                         f"| {value.get('popular', float('nan')):.4f} |")
            wins += value[default] > value[best]
            cells += 1
    lines += ["", f"Plainly: item2vec as it answers by default (NDCG@{k}) beats every baseline in {wins} of "
              f"{cells} dataset x protocol cells."]
    return lines


def main() -> None:
    args = dataset_arguments(__doc__, DATASETS)
    started = time.perf_counter()
    reports, skipped = [], []
    for name in args.datasets:
        config = load_pipeline_config(CONFIGS / f"{name}.toml", overrides=args.overrides)
        missing = _missing(config)
        if missing:
            skipped.append(f"{name} (missing {', '.join(map(str, missing))})")
            print(f"skipping {name}: {missing[0]} is absent", file=sys.stderr)
            continue
        print(f"== {name}", file=sys.stderr)
        reports.append(run_evaluation(config, on_stage=lambda message: print(f"  {message}", file=sys.stderr)))
    command = "python benchmarks/quality.py" + "".join(f" --set {o}" for o in args.overrides)
    text = PREAMBLE.format(
        command=command, date=datetime.now(timezone.utc).strftime("%Y-%m-%d"), commit=commit(),
        cores=os.cpu_count(), python=platform.python_version(), minutes=(time.perf_counter() - started) / 60,
    )
    body = [text, *_summary(reports, args.k), ""]
    if skipped:
        body += [f"Skipped (files absent): {'; '.join(skipped)}.", ""]
    body += [report.to_markdown(k=args.k) for report in reports]
    write_section(args.out, "datasets", "\n".join(body))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
