"""How a registered model is updated with new sequences instead of retrained from scratch."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from recsys.config._base import _Config

__all__ = ["UpdateConfig"]


class UpdateConfig(_Config):
    """An incremental update of a model (``recsys update``, :func:`recsys.update`).

    The model's item2vec configuration is kept (no new selection): its
    input and output vectors, vocabulary and counts are the starting point
    and training continues on the new sequences with the schedule below.
    The defaults were measured on the time-ordered benchmark
    (``python benchmarks/incremental.py``, docs/quality.md): daily slices of
    rsc15, ml-100k by week and synthetic events with new releases, each day
    updated and scored on the next day's sequences against a full retrain.
    """

    alpha_scale: float = Field(0.1, gt=0.0, le=1.0)
    """The update's learning rate as a share of the model's own ``alpha``
    (it decays linearly to the model's ``min_alpha`` over the update's
    epochs). A trained model needs a much smaller step than random vectors:
    at the full rate a day's sequences pull every vector they touch as far
    as a whole training did, and the model forgets what the day did not
    show. On the time-ordered benchmark (docs/quality.md) the chain of
    updates kept, of the daily full retrain's NDCG@10 over the slices,
    99.2% / 97.2% / 95.0% on synthetic events at 0.1 / 0.25 / 0.5, 95.5% /
    96.4% / 96.0% on rsc15 and 96.2% / 93.8% / 89.9% on ml-100k; new items
    still learn from their starting point (from metadata where the model
    has a mapper)."""

    epochs: int | None = Field(None, gt=0, le=1000)
    """Passes over the new (and replayed) sequences; None: the model's own ``epochs``."""

    replay_fraction: float = Field(0.5, ge=0.0, le=10.0)
    """Old sequences trained with the new ones, as a share of the new
    training sequences (0.5: one old sequence for every two new ones), so
    that items missing from the new data keep their place among the others.
    They are drawn from ``old_data`` when it is given; otherwise they are
    walks over the model's successor evidence (the counts of what followed
    what that its ranking stage keeps: a walk starts at an item drawn by its
    plays and steps to a successor drawn by its count), as long as the new
    sequences on average. A model without a ranking stage and no
    ``old_data`` replays nothing. The cost of an update grows with
    ``1 + replay_fraction`` times the new data, never with the history."""

    min_count: int | None = Field(None, ge=1)
    """Occurrences in the new training sequences from which an item the
    model does not know gets a trained vector; under it, a vector from its
    metadata (the model's cold-start mapper, refitted on the updated
    vectors), or, without metadata, no place in the model yet (it comes in
    with a later update that sees it often enough). None: the model's own
    ``min_count``."""

    old_data: Path | None = None
    """The sequences the model was trained on (or any older sequences), read
    like the new data: the source of the replayed sequences, and with
    ``compare_full`` the old part of the full retrain."""

    compare_full: bool = False
    """Also train the model's configuration from scratch on ``old_data`` and
    the new training sequences, and score it on the same held-out cases as
    the update (``full-retrain/...`` metrics, ``update/full_retrain_seconds``):
    what the update gives up, and what it saves."""

    drift_warning: float = Field(0.5, ge=0.0, le=1.0)
    """Warn (``DriftWarning``) when, since the last full training, fewer than
    this share of the kept items' top-10 "next" neighbours (among the items
    both models know) are still there: the chain of updates has drifted far
    enough that a full retrain is due. Measured on the time-ordered
    benchmark (docs/quality.md): a daily full retrain itself keeps 58-72% of
    the day before's top-10 lists (retraining churns them that much anyway);
    the default chain kept 65% after 5 synthetic days and 54% after 3 rsc15
    days, within 5% of the daily retrain's NDCG@10, and crossed 50% on
    ml-100k after 4 weekly updates, the week after which it scored 85% of
    the retrain's NDCG@10. Under 50% the chain has moved further from its
    training than a daily retrain moves from the day before: retrain (which
    also re-selects the configuration)."""

    seed: int = Field(0, ge=0)
    """Seed of the replayed sequences, their order with the new ones, and the starting vectors of new items
    without metadata."""
