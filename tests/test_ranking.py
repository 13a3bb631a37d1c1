"""The ranking stage: evidence counts, the conditional logit, candidates and their order, fitting, saving."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from recsys import train
from recsys.config import Item2VecConfig, RankingConfig, SelectionConfig
from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.synthetic import two_cluster_corpus
from recsys.errors import ModelLoadError
from recsys.evaluation.cases import build_cases
from recsys.evaluation.methods import Item2VecMethod, RankedMethod
from recsys.evaluation.protocol import evaluate_methods
from recsys.index import ExactIndex
from recsys.item2vec import ItemVectors
from recsys.ranking import (
    SIGNALS,
    VECTORS_ONLY,
    Blend,
    Evidence,
    Ranker,
    Ranking,
    context_signals,
    fit_logit,
    log_likelihood,
)
from recsys.selection import fit_ranking, validation_split


def _sequences(*lists: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"sequence_id": [str(i) for i in range(len(lists))], "items": list(lists)},
                        schema=SEQUENCES_SCHEMA)


def _blend(**weights: float) -> Blend:
    return Blend(tuple(float(weights.get(signal, 0.0)) for signal in SIGNALS))


# ------------------------------------------------------------------ evidence
def test_evidence_counts_what_followed_what_by_distance() -> None:
    sequences = _sequences(["a", "b", "c"], ["a", "b"], ["b", "b", "a"], ["a", "x", "c"])
    evidence = Evidence.from_sequences(sequences, ("a", "b", "c"), steps=2)
    counts = evidence.successors.toarray()
    # a->b twice at distance 1; a->c at distance 2 twice (the unknown x still counts as a step); b->b is no pair
    assert counts[0].tolist() == pytest.approx([0.0, 2.0, 1.0])
    assert counts[1].tolist() == pytest.approx([1.5, 0.0, 1.0])  # b->a at 1 and at 2 (b b a), b->c at 1
    assert counts[2].tolist() == [0.0, 0.0, 0.0]
    assert evidence.totals.tolist() == pytest.approx([3.0, 2.5, 0.0])
    assert evidence.plays.tolist() == [4.0, 4.0, 2.0]
    assert evidence.predecessors.toarray() == pytest.approx(counts.T)


def test_evidence_keeps_the_heaviest_successors_and_the_full_totals() -> None:
    sequences = _sequences(["a", "b", "c", "d"], ["a", "b"], ["a", "c"], ["a", "b"])
    evidence = Evidence.from_sequences(sequences, ("a", "b", "c", "d"), steps=3, depth=1)
    assert np.diff(evidence.successors.indptr).max() == 1
    assert evidence.successors[0].indices.tolist() == [1]  # b followed a 3 times: kept; c and d dropped
    assert evidence.totals[0] == pytest.approx(3 + 1 + 0.5 + 1 / 3)


def test_evidence_extended_for_items_never_seen() -> None:
    evidence = Evidence.from_sequences(_sequences(["a", "b"]), ("a", "b"))
    grown = evidence.extended(2, plays=7.0)
    assert len(grown) == 4 and grown.successors.shape == (4, 4)
    assert grown.successors[2:].nnz == 0 and grown.predecessors[2:].nnz == 0
    assert grown.plays.tolist() == [1.0, 1.0, 7.0, 7.0]


def test_signals_of_a_session() -> None:
    evidence = Evidence.from_sequences(_sequences(["a", "b", "c"], ["c", "a"]), ("a", "b", "c"), steps=1)
    # context a, b (b is the last item): candidate c followed b once, followed nothing earlier, preceded a once
    signals = context_signals([np.array([0, 1])], np.array([[2, -1]]), evidence, profiles=None, outputs=None)
    values = dict(zip(SIGNALS, signals[0, 0]))
    assert values["vector"] == 0.0
    assert values["after"] == pytest.approx(np.log(2.0))
    assert values["share"] == pytest.approx(1.0)
    assert values["after_earlier"] == pytest.approx(0.0)
    assert values["before"] == pytest.approx(np.log1p(0.5))  # c before a, a weighs 0.5 one step back
    assert values["popularity"] == pytest.approx(np.log1p(2.0))
    assert (signals[0, 1] == 0).all()  # padding


# ------------------------------------------------------------------ the logit
def test_fit_logit_recovers_planted_weights() -> None:
    rng = np.random.default_rng(0)
    signals = rng.normal(size=(3000, 30, 3))
    truth = np.array([1.5, -0.7, 0.0])
    logits = signals @ truth
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    target = np.array([rng.choice(30, p=row) for row in p])
    allowed = np.ones((3000, 30), dtype=bool)
    weights, ll = fit_logit(signals, allowed, target, start=np.array([1.0, 0.0, 0.0]))
    assert weights == pytest.approx(truth, abs=0.12)
    assert ll == pytest.approx(log_likelihood(signals, allowed, target, weights))
    held, held_ll = fit_logit(signals, allowed, target, start=np.array([1.0, 0.0, 0.0]),
                              fixed=np.array([False, True, True]))
    assert held[1:].tolist() == [0.0, 0.0] and held_ll < ll


# ------------------------------------------------------------------ the ranker
@pytest.fixture(scope="module")
def planted() -> tuple[Ranker, np.ndarray]:
    """100 random vectors, and evidence that item 0 is always followed by item 99."""
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(100, 8)).astype(np.float32)
    outputs = rng.normal(size=(100, 8)).astype(np.float32)
    ids = tuple(str(i) for i in range(100))
    sequences = _sequences(*[["0", "99", str(i)] for i in range(1, 40)])
    evidence = Evidence.from_sequences(sequences, ids, steps=1)
    return Ranker(evidence, inputs=inputs, outputs=outputs, candidates=10), inputs @ outputs.T


def test_vectors_only_is_the_plain_nearest_neighbour_order(planted: tuple[Ranker, np.ndarray]) -> None:
    ranker, scores = planted
    rows, values = ranker.rank([np.array([q]) for q in range(100)], VECTORS_ONLY, 10)
    exact_rows, exact_scores = ExactIndex(ranker.outputs, normalize=False).search(
        ranker.inputs, 10, exclude_rows=np.arange(100))
    assert (rows == exact_rows).all()
    assert values == pytest.approx(exact_scores, rel=1e-5)


def test_an_observed_successor_outside_the_vectors_best_is_ranked_by_the_blend(
    planted: tuple[Ranker, np.ndarray],
) -> None:
    ranker, scores = planted
    assert 99 not in np.argsort(-scores[0])[:11]  # the vectors alone never show it
    rows, _ = ranker.rank([np.array([0])], _blend(vector=1.0, share=50.0), 5)
    assert rows[0, 0] == 99
    plain, _ = ranker.rank([np.array([0])], VECTORS_ONLY, 5)
    assert 99 not in plain[0]


def test_context_and_masked_items_are_never_returned(planted: tuple[Ranker, np.ndarray]) -> None:
    ranker, _ = planted
    session = np.array([5, 7, 0])
    mask = np.ones(100, dtype=bool)
    mask[[99, 3]] = False
    rows, values = ranker.rank([session], _blend(vector=1.0, share=50.0), 30, mask=mask)
    assert not set(rows[0]) & {0, 5, 7, 99, 3}
    assert rows.shape == (1, 30) and (rows[0] >= 0).all()  # k above the candidates: that many ranked
    assert (np.diff(values[0]) <= 0).all()


def test_evidence_only_needs_no_vectors(planted: tuple[Ranker, np.ndarray]) -> None:
    ranker, _ = planted
    plain = Ranker(ranker.evidence, inputs=None, outputs=None, candidates=10)
    rows, _ = plain.rank([np.array([0])], _blend(share=10.0, popularity=1.0), 3, source="popularity")
    assert rows[0, 0] == 99
    assert set(rows[0, 1:]) <= set(np.argsort(-ranker.evidence.plays, kind="stable")[:12])


# ------------------------------------------------------------------ fitting on real training
@pytest.fixture(scope="module")
def clusters() -> tuple[pl.DataFrame, pl.DataFrame, ItemVectors, Ranking]:
    """The two-cluster corpus, vectors trained on it, and a ranking stage fitted on its validation split."""
    corpus = two_cluster_corpus(n_sequences=300)
    config = Item2VecConfig(vector_size=16, epochs=8, workers=1, relation="next")
    fit, validation = validation_split(corpus, SelectionConfig())
    fitted = fit_ranking(train(fit, config), fit, validation, RankingConfig(max_cases=500))
    vectors = train(corpus, config)
    return fit, validation, vectors, fitted.ranking(corpus, vectors)


def test_fitted_stage_keeps_clusters_apart(clusters: tuple[pl.DataFrame, pl.DataFrame, ItemVectors, Ranking]) -> None:
    _, _, vectors, ranking = clusters
    ranker = ranking.ranker(inputs=vectors.vectors, outputs=vectors.context_vectors)
    rows, _ = ranker.rank([np.array([r]) for r in range(len(vectors))], ranking.blends["item"], 10)
    ids = np.asarray(vectors.item_ids)
    for query, found in zip(ids, rows):
        assert all(item[0] == query[0] for item in ids[found]), (query, ids[found])
    for kind in ("item", "session"):
        assert ranking.blends[kind].n_cases >= 20
        assert ranking.blends[kind].log_likelihood >= ranking.blends[kind].log_likelihood_vectors - 1e-6
        assert ranking.evidence_blends[kind].weights[0] == 0.0  # evidence only: no vector signal
        assert ranking.default(kind) in ("ranker", "vectors")
        assert f"{kind}/ranker_score" in ranking.validation and f"{kind}/vectors_score" in ranking.validation


def test_without_choice_the_blend_is_the_default(
    clusters: tuple[pl.DataFrame, pl.DataFrame, ItemVectors, Ranking],
) -> None:
    fit, validation, vectors, _ = clusters
    fitted = fit_ranking(vectors, fit, validation, RankingConfig(choose=False, max_cases=200))
    assert dict(fitted.defaults) == {"item": "ranker", "session": "ranker"}


def test_ranked_method_answers_like_the_ranker_in_the_harness(
    clusters: tuple[pl.DataFrame, pl.DataFrame, ItemVectors, Ranking],
) -> None:
    _, validation, vectors, ranking = clusters
    plain = Item2VecMethod.from_vectors(vectors)
    methods = [RankedMethod(vectors, ranking), RankedMethod(vectors, ranking, variant="evidence"), plain]
    assert [m.name for m in methods[:2]] == ["item2vec-ranked", "item2vec-evidence"]
    for protocol in ("next_item", "session"):
        results = evaluate_methods(methods, build_cases(validation, protocol), ks=(10,))
        assert len({r.cases_digest for r in results}) == 1
    scores = methods[0].score(np.array([0]))
    assert np.isneginf(scores).sum() > 0  # items outside the candidates are never recommended
    ranker = ranking.ranker(inputs=vectors.vectors, outputs=vectors.context_vectors)
    rows, _ = ranker.rank([np.array([0])], ranking.blends["item"], 10)
    assert np.argsort(-scores[0], kind="stable")[:10].tolist() == rows[0].tolist()
    # the harness asks for the top rows directly: the same as ranking the dense scores
    assert methods[0].top_items(np.array([0]), 10).tolist() == [rows[0].tolist()]
    plain_scores = plain.score(np.array([0]))[0]
    plain_scores[0] = -np.inf
    # the vectors alone are searched with faiss: the top of their dense scores
    assert plain.top_items(np.array([0]), 10).tolist() == [np.argsort(-plain_scores, kind="stable")[:10].tolist()]


def test_the_default_variant_follows_the_stages_choice_per_kind(
    clusters: tuple[pl.DataFrame, pl.DataFrame, ItemVectors, Ranking],
) -> None:
    _, _, vectors, ranking = clusters
    plain = Item2VecMethod.from_vectors(vectors)
    ranked = RankedMethod(vectors, ranking)
    mixed = RankedMethod(vectors, Ranking(ranking.evidence, ranking.blends, ranking.evidence_blends,
                                          {"item": "vectors", "session": "ranker"}), variant="default")
    assert mixed.name == "item2vec"
    rows, sessions = np.array([0, 3]), [np.array([1, 2]), np.array([5])]
    assert mixed.score(rows) == pytest.approx(plain.score(rows))
    assert np.array_equal(mixed.score_sessions(sessions), ranked.score_sessions(sessions))


def test_save_load_round_trip_and_tampering(
    clusters: tuple[pl.DataFrame, pl.DataFrame, ItemVectors, Ranking], tmp_path,
) -> None:
    _, _, _, ranking = clusters
    path = ranking.save(tmp_path / "ranking")
    loaded = Ranking.load(path)
    assert loaded.digest == ranking.digest
    for attribute in ("blends", "evidence_blends"):  # as JSON: NaN likelihoods compare equal there
        assert ({kind: blend.to_json() for kind, blend in getattr(loaded, attribute).items()}
                == {kind: blend.to_json() for kind, blend in getattr(ranking, attribute).items()})
    assert dict(loaded.defaults) == dict(ranking.defaults) and loaded.candidates == ranking.candidates
    assert (loaded.evidence.successors != ranking.evidence.successors).nnz == 0
    assert not any(p.suffix == ".pkl" for p in path.iterdir())
    header = json.loads((path / "ranking.json").read_text())
    header["blends"]["item"]["weights"]["share"] += 1.0
    (path / "ranking.json").write_text(json.dumps(header))
    with pytest.raises(ModelLoadError, match="ranking.json"):
        Ranking.load(path)


def test_a_blend_needs_one_weight_per_signal() -> None:
    with pytest.raises(ValueError, match="weights"):
        Blend((1.0, 2.0))
