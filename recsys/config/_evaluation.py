"""How models are evaluated and how ``recsys train`` chooses item2vec's configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from recsys.config._base import SESSION_WINDOW, BaselineName, _Config

__all__ = ["EvaluationConfig", "SelectionConfig", "SelectionMetric"]


class EvaluationConfig(_Config):
    """How models are evaluated."""

    ks: tuple[int, ...] = (5, 10, 20)
    """Cut-offs for HR@k, NDCG@k, MRR@k, precision@k, recall@k, coverage@k
    and popularity@k."""

    baselines: tuple[BaselineName, ...] = ("popular", "cooccurrence")
    """Baselines evaluated on the same pairs as item2vec: ``popular``,
    ``cooccurrence``, ``transitions`` (counts of the next item), ``sr``
    (sequential rules), ``vsknn`` (session-rec's session kNN), ``cosine`` and
    ``bm25`` (implicit item-item), ``als`` and ``bpr`` (implicit matrix
    factorization)."""

    protocols: tuple[Literal["next_item", "last_item", "session"], ...] = ("next_item",)
    """``next_item``: every item of a test sequence predicts the next one;
    ``last_item``: the second-to-last item predicts the last one;
    ``session``: at every position, the sequence so far (its last
    ``session_window`` items) predicts the next item not already in it.
    ``recsys train`` uses the first; ``recsys evaluate`` all of them."""

    session_window: int = Field(SESSION_WINDOW, ge=1)
    """Session protocol: most items of a context, the latest ones. A case
    whose target is already among them is dropped, so no method is asked for
    an item its context holds (and ``exclude_seen`` masks)."""

    bootstrap_resamples: int = Field(1000, ge=0)
    """Bootstrap resamples of the queries for the 95% confidence intervals
    of HR, NDCG and MRR (0: no intervals)."""

    seed: int = Field(0, ge=0)
    """Seed of the bootstrap and of the baselines that draw random numbers."""

    exclude_seen: bool = True
    """Session protocol: never recommend an item already in the context (no
    target is one of them, see ``session_window``); false: only the current
    item is excluded, as in the item-to-item protocols."""

    batch_size: int = Field(2048, gt=0)
    """Queries scored per matrix product."""

    @property
    def headline_k(self) -> int:
        """The cut-off of the headline metrics (``hr_at_10``...): 10 when evaluated, else the smallest k."""
        return 10 if 10 in self.ks else min(self.ks)

    @model_validator(mode="after")
    def _check_ks(self) -> "EvaluationConfig":
        if not self.ks or any(k <= 0 for k in self.ks):
            raise ValueError(f"ks must be positive integers, got {list(self.ks)}")
        if not self.protocols:
            raise ValueError("protocols must name at least one protocol")
        return self


SelectionMetric = Literal["hr+ndcg", "ndcg", "hr", "mrr"]
"""What the automatic selection ranks candidates by (``hr+ndcg``: the mean of the two)."""


class SelectionConfig(_Config):
    """How ``recsys train`` chooses item2vec's configuration on a validation split."""

    auto: bool = True
    """Choose among a few candidate configurations on validation (context
    forward or symmetric, relation, training amount), each a nested MLflow
    run, before the final training. False trains exactly the configuration
    given, its unset options filled by the data-adaptive rules."""

    budget: float = Field(0.1, ge=0.0)
    """What the candidates may cost together, in multiples of the final
    training's estimated cost (the costlier of the two contexts on all the
    training sequences, counted in pair updates so that a busy machine does
    not change the choice). The candidates train on a sample of the
    validation's training part sized to fit it: the two contexts always, the
    search on the learning rate and the window while the budget lasts. Small
    data gets at least :data:`recsys.selection.MIN_BUDGET` pair updates, a
    few seconds, whatever the multiple."""

    max_sample_items: int = Field(2_000_000, ge=1_000)
    """The candidates train on at most this many items (plays) of the
    validation's training part, however large the data."""

    validation_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    """Share of the training sequences held out for validation (raised up to
    0.3 when that holds fewer than 2,000 items; at most 5,000 sequences)."""

    metric: SelectionMetric = "hr+ndcg"
    """What the candidates are ranked by on validation, at the headline
    cut-off: ``hr+ndcg`` is the mean of HR and NDCG, so that a candidate
    that ranks its hits higher but finds fewer of them does not win."""

    seed: int = Field(7, ge=0)
    """Seed of the validation split."""

    min_coverage: float = Field(0.01, ge=0.0, le=1.0)
    """Collapse guard: flag a model whose validation top-k lists cover less
    than this share of the items they could hold."""

    max_concentration: float = Field(0.5, gt=0.0, le=1.0)
    """Collapse guard: flag a model whose k most recommended items fill more
    than this share of all validation top-k slots."""
