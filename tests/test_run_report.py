"""The run report: report.html of a training run and of a sweep, and the metric sections."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest

from recsys.config import Item2VecConfig
from recsys.item2vec import ItemVectors
from recsys.ranking import SIGNALS
from recsys.recommender import Recommender
from recsys.run_report import REPORT_ARTIFACT, example_items, examples, render
from recsys.run_report._render import config_sections, num
from recsys.tuning import SweepResult


class _Tables(HTMLParser):
    """The text of every table cell by table id, the rows' data attributes, and the image sources."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.row_attributes: dict[str, list[dict[str, str]]] = {}
        self.images: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "table" and "id" in attributes:
            self._table = attributes["id"]
            self.tables[self._table], self.row_attributes[self._table] = [], []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table and self._in_body:
            self.tables[self._table].append([])
            self.row_attributes[self._table].append(attributes)
        elif tag == "td" and self._table and self._in_body:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")
        elif tag == "img":
            self.images.append(attributes.get("src", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _report(run_id: str, tmp_path: Path) -> tuple[str, _Tables]:
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=REPORT_ARTIFACT, dst_path=str(tmp_path))
    html = Path(path).read_text(encoding="utf-8")
    parsed = _Tables()
    parsed.feed(html)
    return html, parsed


def test_training_report_has_quality_table_plots_and_examples(sweep_result: SweepResult, tmp_path: Path) -> None:
    final = sweep_result.final
    html, parsed = _report(final.run_id, tmp_path)
    # one row per method, in the order evaluated, with 95% intervals from the run's metrics
    methods = [row["data-method"] for row in parsed.row_attributes["quality-table"]]
    assert methods == [r.method for r in final.results]
    run = mlflow.get_run(final.run_id)
    first = parsed.tables["quality-table"][0]
    hr = run.data.metrics["hr_at_10"]
    low, high = (run.data.metrics[f"{final.results[0].method}/hr_at_10_ci_{side}"] for side in ("low", "high"))
    assert first[1] == f"{hr:.4f} [{low:.4f}, {high:.4f}]" and low <= hr <= high
    # the plots are embedded, none is a link to a file
    # (HR/NDCG@k, coverage, sequence lengths, popularity; the loss only with one worker, else a note says why)
    assert len(parsed.images) >= 4 and all(src.startswith("data:image/png;base64,") for src in parsed.images)
    has_loss = not any(np.isnan(e.loss) for e in final.vectors.epochs)
    assert ("training loss per epoch" in html.lower()) == has_loss and ("unreliable with several workers" in html) != has_loss
    for section in ("quality", "examples", "coverage", "training", "dataset", "configuration"):
        assert f'id="{section}"' in html
    # the configuration actually used is the run's params
    assert f">{run.data.params['window']}<" in html and "sweep_role" in html
    assert run.data.params["data.path"] in html and run.data.tags["dataset.digest"] in html


def test_report_examples_are_what_the_model_recommends_with_titles(sweep_result: SweepResult, tmp_path: Path) -> None:
    final = sweep_result.final
    html, _ = _report(final.run_id, tmp_path)
    metadata = final.data.metadata
    recommender = Recommender(final.vectors, metadata, ranking=final.ranking)  # as the model answers
    chosen = example_items(final.vectors, metadata)
    assert [kind for kind, _ in chosen] == ["popular"] * 3 + ["rare"] * 3
    title_of = dict(zip(metadata["item_id"].to_list(), metadata["title"].to_list()))
    for _, item in chosen:
        assert f'data-item="{item}"' in html
        for relation in ("next", "similar"):
            ids, _ = recommender.recommend(item, 5, relation=relation)
            for other in ids.tolist():
                assert f"<td>{title_of[other]}</td>" in html
    assert html.count('class="recommendations" data-relation="next"') == 6


def test_example_items_are_popular_and_rare_from_different_genres() -> None:
    counts = np.array([50, 40, 39, 30, 20, 10, 5, 4, 3, 2, 2, 1], dtype=np.int64)
    ids = [f"i{n}" for n in range(12)]
    vectors = ItemVectors(ids, np.eye(12, 4, dtype=np.float32), counts, Item2VecConfig())
    genres = pl.DataFrame({"item_id": ids, "genre": ["a", "a", "b", "c", "a", "b", "c", "a", "b", "a", "c", "c"]})
    chosen = example_items(vectors, genres, n_popular=3, n_rare=2)
    # popular: i0 (a), i1 is another "a" so i2 (b) and i3 (c) come first; rare: from the tail, two genres
    assert chosen == [("popular", "i0"), ("popular", "i2"), ("popular", "i3"), ("rare", "i11"), ("rare", "i9")]
    assert example_items(vectors, None, n_popular=2, n_rare=1) == [("popular", "i0"), ("popular", "i1"), ("rare", "i11")]


def test_training_report_shows_the_ranking_stage(sweep_result: SweepResult, tmp_path: Path) -> None:
    final = sweep_result.final
    assert final.ranking is not None
    html, parsed = _report(final.run_id, tmp_path)
    assert 'id="ranking"' in html
    rows = {row[0]: row[1:] for row in parsed.tables["ranking-weights"]}
    assert set(rows) == set(SIGNALS)
    for column, (kind, blend) in enumerate(final.ranking.blends.items()):
        for signal, weight in blend.by_signal.items():
            assert rows[signal][column] == f"{weight:.3f}", (kind, signal)
    for kind in ("item", "session"):
        chosen = "the blend" if final.ranking.default(kind) == "ranker" else "the vectors alone"
        assert f"<strong>{kind} queries</strong>: {chosen}" in html


def test_report_escapes_metadata() -> None:
    ids = ["a", "b", "c"]
    vectors = ItemVectors(ids, np.eye(3, 2, dtype=np.float32) + 0.1, np.array([3, 2, 1]), Item2VecConfig())
    metadata = pl.DataFrame({"item_id": ids, "title": ["<script>alert(1)</script>", "b & c", "c"]})
    shown = examples(vectors, metadata, [("popular", "b")], k=2)
    html = render("training_report.html.j2", **_minimal_context(shown))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "b &amp; c" in html


def _minimal_context(shown: list) -> dict:
    from recsys.run_report import QualityRow

    row = QualityRow(method="item2vec-similar", values={k: 0.5 for k in ("hr", "ndcg", "mrr", "precision", "coverage",
                                                                          "popularity")},
                     delta_hr=None, n_unknown=0, n_pairs=10, seconds=0.1, primary=True)
    return dict(
        run_id="0" * 32, run_name="test", dataset="tiny", k=10, ks=[10], protocol="next_item", n_resamples=0,
        source={"path": "x.txt", "format": "playlists", "digest": "d", "metadata": None, "test_path": None},
        counts={"items": 3}, lengths={}, popularity={}, rows=[row], best={}, verdict="v", champion="c",
        train_seconds=1.0, epochs=[], default_relation="similar", examples=shown, example_k=2,
        relations=["similar"], label_columns=["title"], relation_titles={}, config_sections=[], tags=[],
        figures={}, other_figures=[], ranking=None,
    )


def test_config_sections_group_params_like_the_config() -> None:
    params = {"window": "5", "vector_size": "64", "split.seed": "42", "data.path": "p.txt",
              "selection.candidates": "4"}
    assert config_sections(params) == [
        ("item2vec", [("vector_size", "64"), ("window", "5")]),
        ("data", [("path", "p.txt")]),
        ("selection", [("candidates", "4")]),
        ("split", [("seed", "42")]),
    ]


def test_training_run_metrics_are_grouped_in_sections(sweep_result: SweepResult) -> None:
    run = mlflow.get_run(sweep_result.final.run_id)
    metrics = run.data.metrics
    bare = {name for name in metrics if "/" not in name}
    assert bare == {"hr_at_10", "ndcg_at_10", "mrr_at_10", "coverage_at_10", "train_seconds"}
    sections = {name.rpartition("/")[0] for name in metrics if "/" in name}
    assert sections == {"item2vec-ranked", "item2vec-next", "item2vec-similar", "item2vec-evidence", "popular",
                        "cooccurrence", "data", "training", "stages", "corpus", "cold_start", "ranking",
                        "_headline", "baselines"}
    assert {name: metrics[f"_headline/{name}"] for name in bare} == {name: metrics[name] for name in bare}
    assert metrics["coverage_at_10"] == metrics[f"{sweep_result.final.results[0].method}/coverage_at_10"]
    description = run.data.tags["mlflow.note.content"]
    assert f"HR@10 **{metrics['hr_at_10']:.4f}**" in description and "report.html" in description
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert "report.html" in experiment.tags["mlflow.note.content"]


def test_sweep_report_lists_trials_and_the_champion_decision(sweep_result: SweepResult, tmp_path: Path) -> None:
    html, parsed = _report(sweep_result.parent_run_id, tmp_path)
    rows = parsed.row_attributes["trials-table"]
    assert len(rows) == len(sweep_result.trials)
    assert sorted(int(r["data-trial"]) for r in rows) == sorted(t.trial for t in sweep_result.trials)
    best = [r for r in rows if r.get("class") == "primary"]
    assert len(best) == 1
    test_value = sweep_result.final.results[0].metrics["hr_at_10"]
    assert f"{test_value:.4f}" in html and f"{sweep_result.best_validation:.4f}" in html
    assert "became the champion" in html  # the first model of its registered name
    assert len(parsed.images) >= 2 and all(src.startswith("data:image/png;base64,") for src in parsed.images)
    trial_metrics = mlflow.MlflowClient().search_runs(
        [mlflow.get_run(sweep_result.parent_run_id).info.experiment_id],
        f"tags.mlflow.parentRunId = '{sweep_result.parent_run_id}' and tags.sweep_trial = 'true'",
    )[0].data.metrics
    assert {n for n in trial_metrics if "/" not in n} == {"hr_at_10", "ndcg_at_10", "mrr_at_10", "coverage_at_10",
                                                            "trial_seconds"}
    assert "validation/hr_at_20" in trial_metrics


@pytest.mark.parametrize("value", [float("nan"), None])
def test_missing_numbers_render_as_a_dash(value: float | None) -> None:

    assert num(value) == "—"
