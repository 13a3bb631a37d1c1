"""The cold-start table: items nobody has played, served from their metadata, on every dataset with metadata.

    python benchmarks/cold_start.py [--datasets synthetic yes ml-100k] [--out docs/quality.md] [--set KEY=VALUE ...]

Runs the cold-start protocol (:func:`recsys.evaluation.cold_start.evaluate_cold_start`,
the same one ``recsys evaluate`` runs for a dataset with metadata) with
``pipelines/configs/<dataset>.toml``, skipping datasets whose files are
absent, and writes the tables, a summary and the command into the
``## Cold start`` section of ``--out`` (replacing it if it is there, the
rest of the file untouched).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone

from _common import ROOT, commit, dataset_arguments, write_section

import polars as pl

from recsys.config import PipelineConfig, load_pipeline_config
from recsys.data.load import load_training_data
from recsys.data.synthetic import SynthConfig, generate_playlists, planted_next_counts
from recsys.evaluation.cold_start import SUBSETS, ColdStartReport, evaluate_cold_start
from recsys.evaluation.methods import Method, ScoreTable
from recsys.evaluation.metrics import bootstrap_difference

CONFIGS = ROOT / "pipelines" / "configs"
DATASETS = ("synthetic", "yes", "ml-100k")
LIMIT = "generator-limit"
"""Name of the synthetic data's known-answer reference (:func:`_references`)."""

PREAMBLE = """\
## Cold start

Measured by `{command}` ({date}, commit `{commit}`, {cores} cores, Python {python};
{minutes:.1f} minutes in all). A random {fraction:.0%} of each dataset's training items
(seed {seed}) is made cold: every occurrence is removed from the training
sequences, item2vec (default settings) is trained on the rest, the metadata
mapper is fitted on its warm items, and the cold items get vectors from their
metadata alone. Next-item test cases are split by whether the **query** is
cold, the **target** is cold, or **neither**; every method has the same
catalogue (all training items) and answers the same cases. `popular` never
recommends a cold item (nobody played it); `metadata-knn` is the cosine of the
mapper's own features, equal cosines (the same artist, the same genre) in
catalogue order, which is by plays; `coldstart-*` is item2vec with the cold
items' vectors from metadata, a cold query's "next" ranked by the fitted blend
of its predicted vector, metadata and plays (as the recommender ranks it);
`warm-*` the upper bound, the same items trained normally. On the synthetic
data, `{limit}` ranks by the generator's own next-track probabilities
(counted on 400,000 fresh playlists drawn like the shipped ones): the best
any method can do on average when a case shows only its query.
Cells are the value and its bootstrap 95% interval (1,000 resamples).
"""


def _references(config: PipelineConfig, metadata: pl.DataFrame) -> list[Method]:
    """The generator's own next-track counts, when the data is the shipped synthetic corpus (none otherwise)."""
    if config.data.name != "synthetic" or not metadata.equals(generate_playlists(SynthConfig())[1]):
        return []
    return [ScoreTable(LIMIT, *planted_next_counts(SynthConfig()))]


def _limit(report: ColdStartReport, k: int) -> str:
    """How the generator's limit and metadata-knn compare on cold queries ("" without the limit)."""
    results = {r.method: r for r in report.results["cold query"]}
    if LIMIT not in results:
        return ""
    diff, low, high = bootstrap_difference(results[LIMIT].ranks, results["metadata-knn"].ranks, k,
                                           n_resamples=max(report.n_resamples, 1), seed=report.seed)
    cells = {m: f"{report.metric('cold query', m, f'hr_at_{k}'):.4f} / {report.metric('cold query', m, f'ndcg_at_{k}'):.4f}"
             for m in (LIMIT, "metadata-knn", "coldstart-next")}
    return (f" On {report.dataset} cold queries, the generator's own next-track probabilities ({LIMIT}) score "
            f"{cells[LIMIT]} (HR@{k} / NDCG@{k}), metadata-knn {cells['metadata-knn']}, coldstart-next "
            f"{cells['coldstart-next']}; NDCG@{k} of {LIMIT} minus metadata-knn {diff:+.4f} [{low:+.4f}, {high:+.4f}]. "
            "metadata-knn sits at the limit there, so no ranking that sees only the query can beat it by more than "
            "chance.")


def _summary(reports: list[ColdStartReport], k: int) -> list[str]:
    """One line per dataset: coldstart-next against popular, metadata-knn and the warm model, HR@k / NDCG@k."""
    lines = [f"| dataset | subset | popular | metadata-knn | coldstart-next | warm-next | kept (HR@{k}) |",
             "|---|---|---|---|---|---|---|"]
    for report in reports:
        for subset in SUBSETS[:2]:
            cells = []
            for method in ("popular", "metadata-knn", "coldstart-next", "warm-next"):
                cells.append(f"{report.metric(subset, method, f'hr_at_{k}'):.4f} / "
                             f"{report.metric(subset, method, f'ndcg_at_{k}'):.4f}")
            lines.append(f"| {report.dataset} | {subset} | " + " | ".join(cells)
                         + f" | {report.kept(subset, 'next', f'hr_at_{k}'):.0%} |")
    return [f"HR@{k} / NDCG@{k}, relation \"next\" (the default):", "", *lines, "", _plainly(reports, k)]


def _plainly(reports: list[ColdStartReport], k: int) -> str:
    """Where coldstart-next does and does not beat both baselines, and what the cold items cost the warm cases."""
    misses = []
    for report in reports:
        for subset in SUBSETS[:2]:
            for baseline in ("popular", "metadata-knn"):
                for name in (f"hr_at_{k}", f"ndcg_at_{k}"):
                    if report.metric(subset, "coldstart-next", name) <= report.metric(subset, baseline, name):
                        misses.append(f"{report.dataset} {subset} {name.replace('_at_', '@').upper()} vs {baseline}")
    costs = ", ".join(
        f"{r.dataset} {r.metric('neither', 'coldstart-next', f'hr_at_{k}') / r.metric('neither', 'warm-next', f'hr_at_{k}') - 1:+.0%}"
        for r in reports
    )
    verdict = ("coldstart-next beats popular and metadata-knn on HR@{k} and NDCG@{k} for cold queries and cold "
               "targets everywhere" if not misses else
               "coldstart-next beats popular and metadata-knn on HR@{k} and NDCG@{k} for cold queries and cold "
               "targets except: " + "; ".join(misses)).format(k=k)
    return (f"Plainly: {verdict}. Cases where neither item is cold, coldstart-next against warm-next (HR@{k}; "
            f"with {reports[0].n_cold / reports[0].n_items:.0%} of the catalogue cold, the cold items take some of "
            f"their top-{k} places): {costs}." + "".join(_limit(r, k) for r in reports)
            if reports else "Plainly: no dataset was measured.")


def main() -> None:
    args = dataset_arguments(__doc__, DATASETS)
    started = time.perf_counter()
    reports, skipped = [], []
    for name in args.datasets:
        config = load_pipeline_config(CONFIGS / f"{name}.toml", overrides=args.overrides)
        missing = [p for p in (config.data.path, config.data.metadata) if p is None or not p.exists()]
        if missing:
            skipped.append(name)
            print(f"skipping {name}: {missing[0]} is absent", file=sys.stderr)
            continue
        print(f"== {name}", file=sys.stderr)
        prepared = load_training_data(config)
        assert prepared.metadata is not None
        reports.append(evaluate_cold_start(config, prepared.train, prepared.test, prepared.metadata,
                                           references=_references(config, prepared.metadata),
                                           say=lambda message: print(f"  {message}", file=sys.stderr)))
    config = load_pipeline_config(CONFIGS / "synthetic.toml", overrides=args.overrides)
    command = "python benchmarks/cold_start.py" + "".join(f" --set {o}" for o in args.overrides)
    text = PREAMBLE.format(
        command=command, date=datetime.now(timezone.utc).strftime("%Y-%m-%d"), commit=commit(),
        cores=os.cpu_count(), python=platform.python_version(), minutes=(time.perf_counter() - started) / 60,
        fraction=config.cold_start.evaluation_fraction, seed=config.cold_start.seed, limit=LIMIT,
    )
    body = [text, *_summary(reports, args.k), ""]
    if skipped:
        body += [f"Skipped (files absent): {', '.join(skipped)}.", ""]
    body += [f"### {report.dataset}\n\n{report.to_markdown(k=args.k)}" for report in reports]
    write_section(args.out, "cold-start", "\n".join(body))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
