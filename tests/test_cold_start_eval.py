"""The cold-start protocol: cold items removed from training, served from metadata, against the baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.config import load_pipeline_config
from recsys.data.split import random_split
from recsys.data.synthetic import (
    SynthConfig,
    generate_playlists,
    planted_next_counts,
    write_synthetic,
)
from recsys.errors import ConfigError, DataError
from recsys.evaluate import run_evaluation
from recsys.evaluation.cold_start import SUBSETS, ColdStartReport, evaluate_cold_start
from recsys.evaluation.methods import ScoreTable
from recsys.selection import resolved_config

OPTIONS = ["epochs=8", "vector_size=16", "workers=1", "evaluation.bootstrap_resamples=50", "evaluation.ks=[10]"]
METHODS = ["popular", "metadata-knn", "coldstart-similar", "coldstart-next", "warm-similar", "warm-next", "limit"]


@pytest.fixture(scope="module")
def report() -> ColdStartReport:
    sequences, metadata = generate_playlists(SynthConfig(n_playlists=800))
    train, test = random_split(sequences, test_fraction=0.2, seed=1)
    config = load_pipeline_config(base={"data": {"name": "cold-eval", "path": "unused.txt"}}, overrides=OPTIONS)
    limit = ScoreTable("limit", *planted_next_counts(SynthConfig(n_playlists=800), n_playlists=20_000))
    return evaluate_cold_start(config, train, test, metadata, references=[limit], resolve=resolved_config)


def test_every_method_answers_the_same_cases(report: ColdStartReport) -> None:
    assert list(report.results) == list(SUBSETS)
    assert report.n_cold == round(0.1 * report.n_items)
    for results in report.results.values():
        assert [r.method for r in results] == METHODS
        assert len({r.cases_digest for r in results}) == 1 and len({r.n_pairs for r in results}) == 1
        assert all(r.n_unknown < r.n_pairs for r in results)
    assert report.results["cold query"][0].n_pairs > 0 and report.results["cold target"][0].n_pairs > 0


def test_popular_never_finds_a_cold_target(report: ColdStartReport) -> None:
    assert report.metric("cold target", "popular", "hr_at_10") == 0.0
    assert report.metric("cold query", "popular", "hr_at_10") > 0.0


def test_vectors_from_metadata_beat_popular_on_cold_items(report: ColdStartReport) -> None:
    """The synthetic data plants genre and artist structure that metadata reveals."""
    for subset in ("cold query", "cold target"):
        for name in ("hr_at_10", "ndcg_at_10"):
            assert report.metric(subset, "coldstart-next", name) > 2 * report.metric(subset, "popular", name)
    assert 0 < report.kept("cold query", "next") < 2


def test_the_generator_limit_is_a_reference_on_the_same_catalogue(report: ColdStartReport) -> None:
    """The planted probabilities rank "next" at least as well as anything trained on 640 playlists."""
    for subset in SUBSETS:
        for name in ("hr_at_10", "ndcg_at_10"):
            assert report.metric(subset, "limit", name) >= report.metric(subset, "warm-next", name)
    assert report.metric("cold target", "limit", "hr_at_10") > report.metric("cold target", "popular", "hr_at_10")
    assert "| limit |" in report.to_markdown(k=10)


def test_a_score_table_answers_from_the_training_items_only() -> None:
    table = np.array([[0, 3, 1], [2, 0, 5], [4, 1, 0]], dtype=np.float32)
    method = ScoreTable("t", ["a", "b", "c"], table).fit(
        pl.DataFrame({"sequence_id": ["s"], "items": [["c", "a"]]})
    )
    assert method.item_ids_ == ("a", "c")
    assert method.score(np.array([1, 0])).tolist() == [[4, 0], [0, 1]]
    with pytest.raises(ConfigError, match="must be square"):
        ScoreTable("t", ["a", "b"], table)


def test_report_table_and_metrics(report: ColdStartReport) -> None:
    table = report.to_markdown(k=10)
    assert "**cold start** (cold-eval)" in table and "| coldstart-next |" in table
    assert "cold query: HR@10" in table and "Share of the warm model's HR@10" in table
    metrics = report.metrics()
    assert "cold_start/cold_query.coldstart-next.hr_at_10" in metrics
    assert all("@" not in name and np.isfinite(value) for name, value in metrics.items())


def test_metadata_that_matches_no_item_is_a_clear_error() -> None:
    sequences, _ = generate_playlists(SynthConfig(n_playlists=50))
    metadata = pl.DataFrame({"item_id": ["x", "y"], "title": ["a b", "a c"]})
    config = load_pipeline_config(base={"data": {"name": "t", "path": "unused.txt"}}, overrides=OPTIONS)
    with pytest.raises(DataError, match="needs .* training items with metadata, and 0 have some"):
        evaluate_cold_start(config, sequences, sequences, metadata)


def test_recsys_evaluate_reports_it_for_data_with_metadata(tmp_path: Path) -> None:
    playlists, metadata = write_synthetic(tmp_path, SynthConfig(n_playlists=800))  # the report's size, as above
    config = load_pipeline_config(
        base={"data": {"name": "cold-report", "path": str(playlists), "metadata": str(metadata)}},
        overrides=[*OPTIONS, "epochs=2", "evaluation.baselines=['popular']", "evaluation.protocols=['next_item']",
                   "evaluation.bootstrap_resamples=0"],
    )
    evaluation = run_evaluation(config, log=False)
    assert evaluation.cold_start is not None
    assert "**cold start** (cold-report)" in evaluation.to_markdown(k=10)
    skipped = run_evaluation(config.model_copy(update={"cold_start": config.cold_start.model_copy(
        update={"evaluate": False})}), log=False)
    assert skipped.cold_start is None
