"""The Recommender with a ranking stage: prepared and unprepared answers agree, rank="vectors", filters,
sessions, explanations, stored tables, export."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_serving import running

from recsys import Recommender, train
from recsys.config import Item2VecConfig, RankingConfig, SelectionConfig
from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.errors import ConfigError
from recsys.item2vec import ItemVectors
from recsys.ranking import Blend, Ranking
from recsys.selection import fit_ranking, validation_split
from recsys.serving import create_app
from tests.test_cli import _in_process

CONFIG = Item2VecConfig(vector_size=16, epochs=8, workers=1, relation="next", context="symmetric")


def _corpus(n_sequences: int = 400, seed: int = 0) -> pl.DataFrame:
    """Two clusters of 20 items that never meet; in each, item 0 is always followed by item 1."""
    rng = np.random.default_rng(seed)
    sequences = []
    for i in range(n_sequences):
        group = "a" if i % 2 == 0 else "b"
        order = [f"{group}{j}" for j in rng.permutation(np.arange(2, 20))[:6]]
        at = int(rng.integers(0, len(order) + 1))
        order[at:at] = [f"{group}0", f"{group}1"]
        sequences.append(order)
    return pl.DataFrame({"sequence_id": [f"s{i:04d}" for i in range(n_sequences)], "items": sequences},
                        schema=SEQUENCES_SCHEMA)


@pytest.fixture(scope="module")
def model() -> tuple[ItemVectors, Ranking]:
    corpus = _corpus()
    fit, validation = validation_split(corpus, SelectionConfig())
    fitted = fit_ranking(train(fit, CONFIG), fit, validation, RankingConfig(choose=False, max_cases=500))
    vectors = train(corpus, CONFIG)
    return vectors, fitted.ranking(corpus, vectors)


@pytest.fixture(scope="module")
def prepared(model: tuple[ItemVectors, Ranking]) -> Recommender:
    vectors, ranking = model
    return Recommender(vectors, ranking=ranking).prepare()


def test_ranked_answers_are_the_same_prepared_or_not(model: tuple[ItemVectors, Ranking], prepared: Recommender) -> None:
    vectors, ranking = model
    fresh = Recommender(vectors, ranking=ranking)
    assert prepared.search_mode == "table" and fresh.search_mode == "exact"
    assert prepared.ranks_by_default() and prepared.ranks_by_default("session")
    for item in vectors.item_ids:
        ids, scores = prepared.recommend(item, k=10)
        fresh_ids, fresh_scores = fresh.recommend(item, k=10)
        assert ids.tolist() == fresh_ids.tolist() and scores == pytest.approx(fresh_scores, rel=1e-5)
        assert all(other[0] == item[0] for other in ids) and item not in ids.tolist()
    many = prepared.recommend_many(["a0", "b3"], k=10)
    assert many.item_ids[0].tolist() == prepared.recommend("a0", k=10).item_ids.tolist()


def test_the_harness_reads_item_queries_from_the_prepared_tables(
    model: tuple[ItemVectors, Ranking], prepared: Recommender
) -> None:
    """The training pipeline evaluates item queries with the tables the model serves: the same ranks as searching."""
    from recsys.evaluation.cases import build_cases
    from recsys.evaluation.methods import Item2VecMethod, RankedMethod
    from recsys.evaluation.protocol import evaluate_method

    vectors, ranking = model
    ranked_table, similar_table = prepared.neighbour_table("next", ranked=True), prepared.neighbour_table("similar")
    # the plain "next" table the ranked one took its candidates from is kept for the plain ranking
    next_table = prepared.neighbour_table("next")
    assert ranked_table is not None and similar_table is not None and next_table is not None
    cases = build_cases(_corpus(120, seed=5), "next_item")
    pairs = [(RankedMethod(vectors, ranking, table=ranked_table), RankedMethod(vectors, ranking)),
             (Item2VecMethod.from_vectors(vectors, relation="similar", table=similar_table),
              Item2VecMethod.from_vectors(vectors, relation="similar")),
             (Item2VecMethod.from_vectors(vectors, relation="next", table=next_table),
              Item2VecMethod.from_vectors(vectors, relation="next"))]
    for (listed, searched), table in zip(pairs, (ranked_table, similar_table, next_table)):
        rows = np.arange(6)
        assert listed.top_items(rows, 10).tolist() == table.rows[rows, :10].tolist()  # read, not searched
        ranks = evaluate_method(listed, cases, ks=(10,)).ranks
        np.testing.assert_array_equal(ranks, evaluate_method(searched, cases, ks=(10,)).ranks)
        assert ranks.any()
    with pytest.raises(ConfigError, match="ranked table"):
        RankedMethod(vectors, ranking, variant="evidence", table=ranked_table)


def test_the_observed_successor_comes_first(prepared: Recommender) -> None:
    assert prepared.recommend("a0", k=3).item_ids[0] == "a1"
    assert prepared.recommend("b0", k=3, rank="ranker").item_ids[0] == "b1"


def test_rank_vectors_is_the_plain_nearest_neighbour_ranking(
    model: tuple[ItemVectors, Ranking], prepared: Recommender,
) -> None:
    vectors, _ = model
    plain = Recommender(vectors).prepare()
    for item in ("a0", "a5", "b7"):
        ids, scores = prepared.recommend(item, k=10, rank="vectors")
        plain_ids, plain_scores = plain.recommend(item, k=10)
        assert ids.tolist() == plain_ids.tolist() and scores == pytest.approx(plain_scores, rel=1e-5)
    assert prepared.search_mode_of(rank="vectors") == "table"  # the ranked table's candidates, kept
    session = prepared.for_session(["a2", "a3"], k=5, rank="vectors")
    assert session.item_ids.tolist() == plain.for_session(["a2", "a3"], k=5).item_ids.tolist()


def test_filtered_queries_are_ranked_on_their_candidates(prepared: Recommender) -> None:
    ids, _ = prepared.recommend("a0", k=5, exclude=["a1"])
    assert "a1" not in ids.tolist() and len(ids) == 5
    only = prepared.recommend("a0", k=5, include_only=["a1", "a4", "b2"])
    assert set(only.item_ids.tolist()) <= {"a1", "a4", "b2"} and only.item_ids[0] == "a1"


def test_sessions_are_ranked_by_the_session_blend(model: tuple[ItemVectors, Ranking], prepared: Recommender) -> None:
    vectors, ranking = model
    result = prepared.for_session(["a5", "a0"], k=5)
    assert result.item_ids[0] == "a1" and not {"a5", "a0"} & set(result.item_ids.tolist())
    rows = np.array([vectors.vocabulary.row("a5"), vectors.vocabulary.row("a0")])
    ranker = ranking.ranker(inputs=vectors.vectors, outputs=vectors.context_vectors)
    expected, _ = ranker.rank([rows], ranking.blends["session"], 5)
    assert result.item_ids.tolist() == [vectors.item_ids[r] for r in expected[0]]
    with pytest.raises(ConfigError, match="recency_decay"):
        prepared.for_session(["a5", "a0"], recency_decay=0.5, rank="ranker")
    decayed = prepared.for_session(["a5", "a0"], k=5, recency_decay=0.5)  # a decay orders by the vectors
    assert decayed.item_ids.tolist() == prepared.for_session(["a5", "a0"], k=5, recency_decay=0.5,
                                                             rank="vectors").item_ids.tolist()


def test_bad_rank_requests_are_refused(model: tuple[ItemVectors, Ranking], prepared: Recommender) -> None:
    vectors, _ = model
    with pytest.raises(ConfigError, match="rank must be one of"):
        prepared.recommend("a0", rank="best")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="relation='next'"):
        prepared.recommend("a0", relation="similar", rank="ranker")
    with pytest.raises(ConfigError, match="has none"):
        Recommender(vectors).recommend("a0", rank="ranker")
    assert prepared.recommend("a0", relation="similar", k=3).item_ids.tolist() == \
        Recommender(vectors).recommend("a0", relation="similar", k=3).item_ids.tolist()


def test_explain_shows_each_signals_contribution(prepared: Recommender) -> None:
    explanation = prepared.explain("a0", "a1")
    assert explanation.signals is not None and explanation.contributions is not None
    assert set(explanation.contributions) == {"vector", "after", "share", "after_earlier", "before", "popularity"}
    assert sum(explanation.contributions.values()) == pytest.approx(explanation.next_score)
    assert explanation.signals["share"] > 0.3 and explanation.contributions["share"] != 0
    assert explanation.next_rank == 1
    ids, scores = prepared.recommend("a0", k=10)
    third = prepared.explain("a0", str(ids[2]))
    assert third.next_rank == 3 and third.next_score == pytest.approx(float(scores[2]), rel=1e-5)
    assert prepared.explain("a0", "b4").next_rank > 19  # another cluster: after all 19 of a0's own
    assert Recommender(prepared.trained_vectors).explain("a0", "a1").contributions is None


def test_ranked_table_is_stored_and_keyed_by_the_stage(model: tuple[ItemVectors, Ranking], tmp_path: Path) -> None:
    vectors, ranking = model
    vectors_dir = vectors.save(tmp_path / "item_vectors")
    ranking_dir = ranking.save(tmp_path / "ranking")
    first = Recommender.from_directory(vectors_dir, ranking_dir=ranking_dir).prepare()
    assert first.preparations["next"].source == "built" and (vectors_dir / "search" / "next-ranked-table").is_dir()
    second = Recommender.from_directory(vectors_dir, ranking_dir=ranking_dir).prepare()
    assert second.preparations["next"].source == "stored"
    assert second.preparations["similar"].source == "stored"  # a catalogue under 100 items too
    assert second.recommend("a0", k=10).item_ids.tolist() == first.recommend("a0", k=10).item_ids.tolist()
    # the plain "next" table the first built its candidates from is not stored: the second searches
    assert first.search_mode_of(rank="vectors") == "table" and second.search_mode_of(rank="vectors") == "exact"
    assert not (vectors_dir / "search" / "next-table").exists()
    assert second.recommend("a0", k=10, rank="vectors").item_ids.tolist() == \
        first.recommend("a0", k=10, rank="vectors").item_ids.tolist()
    weights = list(ranking.blends["item"].weights)
    weights[2] = -weights[2]  # another stage: the stored table is not its order
    other = Ranking(ranking.evidence, {**ranking.blends, "item": Blend(tuple(weights))}, ranking.evidence_blends)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another stage's table is simply not this one: no warning
        third = Recommender.from_directory(vectors_dir, store=True).prepare()
        assert third.preparations["next"].source == "built"  # no ranking: the plain table
        fourth = Recommender(vectors, ranking=other, store=third.store).prepare()
    assert fourth.preparations["next"].source == "built"


def test_export_writes_what_recommend_answers(prepared: Recommender, tmp_path: Path) -> None:
    report = prepared.export_neighbours(tmp_path / "next.parquet", k=5)
    frame = pl.read_parquet(report.path)
    for item in ("a0", "b5"):
        exported = frame.filter(pl.col("item_id") == item).sort("rank")["neighbour_id"].to_list()
        assert exported == prepared.recommend(item, k=5).item_ids.tolist()
    plain = pl.read_parquet(prepared.export_neighbours(tmp_path / "plain.parquet", k=5, rank="vectors").path)
    assert plain.filter(pl.col("item_id") == "a0").sort("rank")["neighbour_id"].to_list() == \
        prepared.recommend("a0", k=5, rank="vectors").item_ids.tolist()


# ------------------------------------------------------------------ through REST and the command line
@pytest.fixture(scope="module")
def model_dir(model: tuple[ItemVectors, Ranking], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory laid out as a logged model's artifacts: item_vectors/ and ranking/."""
    vectors, ranking = model
    root = tmp_path_factory.mktemp("ranked") / "model"
    vectors.save(root / "item_vectors")
    ranking.save(root / "ranking")
    return root


def test_rest_answers_ranked_and_by_the_vectors(model_dir: Path, prepared: Recommender) -> None:
    with running(create_app(str(model_dir))) as client:
        ranked = client.get("/similar/a0", params={"k": 5}).json()["recommendations"]
        assert [r["item_id"] for r in ranked] == prepared.recommend("a0", k=5).item_ids.tolist()
        plain = client.get("/similar/a0", params={"k": 5, "rank": "vectors"}).json()["recommendations"]
        assert [r["item_id"] for r in plain] == prepared.recommend("a0", k=5, rank="vectors").item_ids.tolist()
        assert client.get("/similar/a0", params={"rank": "best"}).status_code == 422
        session = client.post("/session", json={"items": ["a5", "a0"], "k": 3, "rank": "ranker"})
        assert session.status_code == 200 and session.json()["recommendations"][0]["item_id"] == "a1"
        batch = client.post("/similar", json={"item_ids": ["a0", "b0"], "k": 3, "rank": "vectors"}).json()
        assert [r["item_id"] for r in batch["results"][0]["recommendations"]] == \
            prepared.recommend("a0", k=3, rank="vectors").item_ids.tolist()
        refused = client.post("/session", json={"items": ["a5", "a0"], "recency_decay": 0.5, "rank": "ranker"})
        assert refused.status_code == 422 and "recency_decay" in refused.text
    with running(create_app(str(model_dir / "item_vectors"))) as client:  # the vectors alone: no stage
        answer = client.get("/similar/a0", params={"rank": "ranker"})
        assert answer.status_code == 422 and "ranking stage" in answer.text


def test_cli_recommend_takes_rank(model_dir: Path, prepared: Recommender) -> None:
    def recommend(*options: str) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "recsys.cli", "recommend", "a0", "-k", "4", "--model",
                               str(model_dir), "--json", *options], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return [r["item_id"] for r in json.loads(done.stdout)["recommendations"]]

    assert recommend() == prepared.recommend("a0", k=4).item_ids.tolist()
    assert recommend("--rank", "vectors") == prepared.recommend("a0", k=4, rank="vectors").item_ids.tolist()
    bad = _in_process("recommend", "a0", "--model", str(model_dir / "item_vectors"), "--rank", "ranker",
                      cwd=model_dir)
    assert bad.returncode == 2 and "ranking stage" in bad.stderr and "Traceback" not in bad.stderr
