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

import numpy as np
import polars as pl
from _common import ROOT, commit, dataset_arguments, write_section

from recsys.config import PipelineConfig, load_pipeline_config
from recsys.data.load import load_training_data
from recsys.data.synthetic import SynthConfig, generate_playlists, planted_next_counts
from recsys.evaluation.cold_start import SUBSETS, ColdStartReport, cold_items, evaluate_cold_start
from recsys.evaluation.methods import Method, ScoreTable
from recsys.evaluation.metrics import bootstrap_difference
from recsys.selection import resolved_config

CONFIGS = ROOT / "pipelines" / "configs"
DATASETS = ("synthetic", "yes", "ml-100k")
LIMIT = "generator-limit"
"""The synthetic data's known answer: its generator's own next-track counts (:func:`_references`)."""
LIMIT_BY_ARTIST = "generator-limit-cold-by-artist"
"""The same, a cold item's popularity unknown (the mean of its artist's tracks)."""

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
any method can do on average when a case shows only its query;
`{limit_by_artist}` is the same with each cold item's probability replaced by
the mean of its artist's tracks (its own popularity is what metadata cannot tell).
Cells are the value and its bootstrap 95% interval (1,000 resamples).
"""


def _references(config: PipelineConfig, train: pl.DataFrame, metadata: pl.DataFrame) -> list[Method]:
    """The generator's limits, when the data is the shipped synthetic corpus (none otherwise).

    :data:`LIMIT` ranks by the generator's own next-track counts;
    :data:`LIMIT_BY_ARTIST` does too, except that a cold item's column is the
    mean of its artist's columns: its own popularity, which its metadata
    cannot tell, replaced by that of a typical track of its artist.
    """
    if config.data.name != "synthetic" or not metadata.equals(generate_playlists(SynthConfig())[1]):
        return []
    item_ids, counts = planted_next_counts(SynthConfig())
    table = counts.toarray().astype(np.float64)
    by_artist = table.copy()
    artist = metadata["artist"].to_numpy()
    row = {item: i for i, item in enumerate(item_ids)}
    cold = np.array([row[item] for item in cold_items(config, train, metadata)])
    for name in np.unique(artist[cold]):
        by_artist[:, cold[artist[cold] == name]] = table[:, artist == name].mean(axis=1, keepdims=True)
    return [ScoreTable(LIMIT, item_ids, table), ScoreTable(LIMIT_BY_ARTIST, item_ids, by_artist)]


def _limits(report: ColdStartReport, k: int) -> str:
    """Where metadata-knn and coldstart-next stand against the generator's limits ("" without them)."""
    if LIMIT not in {r.method for r in report.results["cold query"]}:
        return ""

    def cell(subset: str, method: str) -> str:
        return _hr_ndcg(report, subset, method, k)

    results = {r.method: r for r in report.results["cold query"]}
    diff, low, high = bootstrap_difference(results[LIMIT].ranks, results["metadata-knn"].ranks, k,
                                           n_resamples=max(report.n_resamples, 1), seed=report.seed)

    return (
        f" Against what the {report.dataset} data allows (HR@{k} / NDCG@{k}): on cold queries the generator's own "
        f"next-track probabilities ({LIMIT}) score {cell('cold query', LIMIT)}, metadata-knn "
        f"{cell('cold query', 'metadata-knn')} (NDCG@{k} of the limit minus metadata-knn "
        f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]), coldstart-next {cell('cold query', 'coldstart-next')}: metadata-knn sits at "
        "the limit, so no ranking that sees only the query can beat it there by more than chance. On cold targets, "
        f"the generator's ranking with a cold item's own popularity (which its metadata cannot tell) replaced by "
        f"its artist's mean ({LIMIT_BY_ARTIST}) scores {cell('cold target', LIMIT_BY_ARTIST)}; metadata-knn "
        f"{cell('cold target', 'metadata-knn')}, coldstart-next {cell('cold target', 'coldstart-next')}. A method "
        "scores more on that subset only by favouring cold items, at the expense of the cases where neither is cold."
    )


def _hr_ndcg(report: ColdStartReport, subset: str, method: str, k: int) -> str:
    """``HR@k / NDCG@k`` of one method on one subset, as the tables show them."""
    return f"{report.metric(subset, method, f'hr_at_{k}'):.4f} / {report.metric(subset, method, f'ndcg_at_{k}'):.4f}"


def _summary(reports: list[ColdStartReport], k: int) -> list[str]:
    """One line per dataset: coldstart-next against popular, metadata-knn and the warm model, HR@k / NDCG@k."""
    lines = [f"| dataset | subset | popular | metadata-knn | coldstart-next | warm-next | kept (HR@{k}) |",
             "|---|---|---|---|---|---|---|"]
    for report in reports:
        for subset in SUBSETS[:2]:
            cells = []
            for method in ("popular", "metadata-knn", "coldstart-next", "warm-next"):
                cells.append(_hr_ndcg(report, subset, method, k))
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
            f"their top-{k} places): {costs}." + "".join(_limits(r, k) for r in reports)
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
                                           references=_references(config, prepared.train, prepared.metadata),
                                           resolve=resolved_config, say=lambda message: print(f"  {message}", file=sys.stderr)))
    config = load_pipeline_config(CONFIGS / "synthetic.toml", overrides=args.overrides)
    command = "python benchmarks/cold_start.py" + "".join(f" --set {o}" for o in args.overrides)
    text = PREAMBLE.format(
        command=command, date=datetime.now(timezone.utc).strftime("%Y-%m-%d"), commit=commit(),
        cores=os.cpu_count(), python=platform.python_version(), minutes=(time.perf_counter() - started) / 60,
        fraction=config.cold_start.evaluation_fraction, seed=config.cold_start.seed, limit=LIMIT,
        limit_by_artist=LIMIT_BY_ARTIST,
    )
    body = [text, *_summary(reports, args.k), ""]
    if skipped:
        body += [f"Skipped (files absent): {', '.join(skipped)}.", ""]
    body += [f"### {report.dataset}\n\n{report.to_markdown(k=args.k)}" for report in reports]
    write_section(args.out, "cold-start", "\n".join(body))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
