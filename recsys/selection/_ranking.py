"""Fitting the ranking stage on the validation split, and choosing where it helps.

The vectors of the chosen candidate were trained on (a sample of) the
validation's training part, so the validation sequences are unseen by both
the vectors and the evidence counted on that part: what came next there is what the
blends are fitted on (:func:`recsys.ranking.fit_blend`), for item queries
(next-item cases) and sessions (session cases) apart. Each kind of query
then keeps the blend, or the vectors alone (by the relation the selection
chose) where the blend scores lower on the same cases
(``ranking.choose``). The blend orders "next": a model whose selection
chose "similar" answers "next" once the blend beats it
(:meth:`RankingFit.answering`). The final stage counts its evidence on all
the training sequences (:meth:`RankingFit.ranking`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from recsys.config import RankingConfig, Relation, SelectionConfig, SelectionMetric
from recsys.errors import ConfigError
from recsys.evaluation.cases import EvaluationCases, build_cases
from recsys.evaluation.methods import Item2VecMethod, RankedMethod
from recsys.evaluation.protocol import evaluate_method
from recsys.item2vec import ItemVectors, train
from recsys.ranking import Blend, Evidence, QueryKind, Rank, Ranker, Ranking, fit_blend
from recsys.selection._select import MIN_SEQUENCES, Selection, selection_score

__all__ = ["RankingFit", "fit_ranking", "fit_ranking_stage", "why_no_ranking"]

_PROTOCOLS: dict[QueryKind, str] = {"item": "next_item", "session": "session"}
_MAX_SCORED = 5_000
"""Validation cases each ranking is scored on when choosing, at most (a seeded sample)."""


@dataclass(frozen=True)
class RankingFit:
    """The fitted weights and the choice between the blend and the vectors, per kind of query."""

    blends: Mapping[str, Blend]
    evidence_blends: Mapping[str, Blend]
    defaults: Mapping[str, Rank]
    validation: Mapping[str, float]
    """``{kind}/{variant}_score`` (the selection score on validation) and ``{kind}/n_cases``."""
    config: RankingConfig
    relation: Relation = "next"
    """The relation the vectors alone were scored by (the one the selection chose)."""

    def answering(self, vectors: ItemVectors) -> ItemVectors:
        """``vectors`` with the relation the model answers by default: "next" when the blend (which orders
        "next") won for item queries, else their own."""
        if self.defaults["item"] != "ranker" or vectors.default_relation == "next":
            return vectors
        return dataclasses.replace(vectors, config=vectors.config.model_copy(update={"relation": "next"}))

    def ranking(self, sequences: pl.DataFrame, vectors: ItemVectors) -> Ranking:
        """The stage of the final model: these weights, evidence counted on ``sequences`` over ``vectors``' catalogue."""
        evidence = Evidence.from_sequences(sequences, vectors.item_ids, steps=self.config.steps,
                                           depth=self.config.depth)
        return Ranking(evidence, dict(self.blends), dict(self.evidence_blends), dict(self.defaults),
                       self.config.candidates, dict(self.validation))

    def summary(self) -> str:
        """One line for people: which ranking each kind of query uses, and the validation scores behind it."""
        parts = []
        for kind in _PROTOCOLS:
            ranker, vectors = (self.validation.get(f"{kind}/{v}_score", float("nan")) for v in ("ranker", "vectors"))
            parts.append(f"{kind} queries: {self.defaults[kind]} (validation {ranker:.4f} blended, "
                         f"{vectors:.4f} vectors only, {self.relation!r})")
        return "; ".join(parts)


def _contexts(cases: EvaluationCases, rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Each case's known context rows, its target row, and which cases can be learnt from: a known target
    that is not in its context (the session cases have none; a next-item case may repeat its query)."""
    contexts = [rows[begin:end][rows[begin:end] >= 0] for begin, end in zip(cases.begin, cases.end)]
    targets = rows[cases.end]
    keep = np.array([c.size > 0 and t >= 0 and t not in c for c, t in zip(contexts, targets)], dtype=bool)
    return contexts, targets, keep


def _sample(cases: EvaluationCases, keep: np.ndarray, limit: int, seed: int) -> EvaluationCases:
    """The cases flagged in ``keep``, at most ``limit`` of them (a seeded sample, in order)."""
    chosen = np.flatnonzero(keep)
    if chosen.size > limit:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, size=limit, replace=False))
    return dataclasses.replace(cases, begin=cases.begin[chosen], end=cases.end[chosen],
                               sequence_ids=cases.sequence_ids[chosen], positions=cases.positions[chosen])


def fit_ranking(
    vectors: ItemVectors,
    fit: pl.DataFrame,
    validation: pl.DataFrame,
    config: RankingConfig,
    *,
    relation: Relation = "next",
    metric: SelectionMetric = "hr+ndcg",
    k: int = 10,
    seed: int = 0,
) -> RankingFit:
    """Fit the blends of item and session queries on the validation split and choose where they help.

    Parameters
    ----------
    vectors
        Vectors trained on ``fit`` or a sample of it (with output vectors).
    fit, validation
        The validation split of the training sequences; the evidence is counted on ``fit``.
    config
        Candidates, evidence settings, cases and whether to choose.
    relation
        The relation the vectors alone answer by, which the blend must beat.
    metric, k
        What the blend and the vectors alone are compared by, on validation.
    seed
        Seed of the case samples.

    Returns
    -------
    RankingFit
    """
    evidence = Evidence.from_sequences(fit, vectors.item_ids, steps=config.steps, depth=config.depth)
    ranker = Ranker(evidence, inputs=vectors.vectors, outputs=vectors.context_vectors, candidates=config.candidates)
    plain = Ranker(evidence, inputs=None, outputs=None, candidates=config.candidates)
    stage = Ranking(evidence, {}, {}, candidates=config.candidates)
    blends: dict[str, Blend] = {}
    evidence_blends: dict[str, Blend] = {}
    defaults: dict[str, Rank] = {}
    scores: dict[str, float] = {}
    vocabulary = vectors.vocabulary
    for kind, protocol in _PROTOCOLS.items():
        cases = build_cases(validation, protocol)  # type: ignore[arg-type]
        rows = vocabulary.rows(cases.item_ids.tolist(), missing="negative")
        contexts, targets, keep = _contexts(cases, rows)
        fitting = np.flatnonzero(keep)
        blends[kind] = fit_blend(ranker, [contexts[i] for i in fitting], targets[fitting],
                                 max_cases=config.max_cases, seed=seed)
        evidence_blends[kind] = fit_blend(plain, [contexts[i] for i in fitting], targets[fitting],
                                          source="popularity", max_cases=config.max_cases, seed=seed)
        scored = _sample(cases, keep, _MAX_SCORED, seed)
        stage = dataclasses.replace(stage, blends={**stage.blends, kind: blends[kind]})
        methods = {"ranker": RankedMethod(vectors, stage),
                   "vectors": Item2VecMethod.from_vectors(vectors, relation=relation)}
        for variant, method in methods.items():
            result = evaluate_method(method, scored, ks=(k,))
            scores[f"{kind}/{variant}_score"] = selection_score(result.metrics, metric, k)
        scores[f"{kind}/n_cases"] = float(len(scored))
        better = scores[f"{kind}/ranker_score"] >= scores[f"{kind}/vectors_score"]
        defaults[kind] = "ranker" if better or not config.choose else "vectors"
    return RankingFit(blends, evidence_blends, defaults, scores, config, relation)


def why_no_ranking(config: RankingConfig, train_sequences: pl.DataFrame, vectors: ItemVectors) -> str | None:
    """Why a model trained on ``train_sequences`` gets no ranking stage, or None when it gets one."""
    if not config.enabled:
        return "ranking.enabled is false"
    if vectors.context_vectors is None:
        return "it orders 'next', and the vectors have no output vectors"
    if train_sequences.height < MIN_SEQUENCES:
        return f"too few sequences ({train_sequences.height}, under {MIN_SEQUENCES}) for a validation split"
    return None


def fit_ranking_stage(
    train_sequences: pl.DataFrame,
    selection: Selection,
    config: RankingConfig,
    selection_config: SelectionConfig,
    *,
    k: int = 10,
) -> RankingFit:
    """Fit the ranking stage of a training run on its selection's validation split.

    The weights are fitted with the vectors of the selection's sample of
    the validation's training part (the chosen candidate's are reused;
    without them, no automatic selection, :attr:`Selection.config` is
    trained on that sample) and the evidence counted on all of that part,
    as the final stage counts it on all the training sequences: counting is
    cheap, and evidence from a sample would weigh less in the blend than it
    will in the final model.

    Parameters
    ----------
    train_sequences
        All the training sequences (the test split is never seen here).
    selection
        How the final configuration was chosen (:func:`choose_config`), with its split and sample.
    config, selection_config
        The ranking options; the metric and seed of the selection.
    k
        Cut-off of the metric that chooses between the blend and the vectors.

    Raises
    ------
    ConfigError
        If the selection has no validation split (too few sequences, see :func:`why_no_ranking`).
    """
    parts = selection.parts
    if parts is None:
        raise ConfigError(f"no validation split to fit the ranking stage on: {selection.note}")
    chosen = selection.chosen
    reuse = chosen is not None and chosen.vectors is not None and chosen.config == selection.config
    vectors = chosen.vectors if reuse else train(parts.sample, selection.config)
    return fit_ranking(vectors, parts.fit, parts.validation, config, relation=selection.config.relation or "next",
                       metric=selection_config.metric, k=k, seed=selection_config.seed)
