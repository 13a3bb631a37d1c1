"""Data-adaptive defaults: the item2vec options left unset, filled from corpus statistics.

The rules were fitted on validation splits of the regimes of
``benchmarks/robustness.py`` (sparse sessions, replayed albums, dense
histories, long playlists, e-commerce clicks) and of the real datasets;
docs/quality.md gives the measurements. Each rule is one function of
:class:`CorpusStats`, so a reader can see why a run used what it used.
"""

from __future__ import annotations

import math
from typing import Literal

from recsys.config import Item2VecConfig
from recsys.selection._stats import CorpusStats

__all__ = [
    "MAX_ALPHA",
    "FORWARD_AMOUNT_FACTOR",
    "LONG_SEQUENCE",
    "resolve_defaults",
    "training_amount",
    "default_context",
    "default_epochs",
    "default_sample",
    "SEQUENTIAL_SUCCESSOR_SHARE",
]

Context = Literal["symmetric", "forward"]

BASE_ALPHA = 0.025
"""word2vec's skip-gram learning rate: the rate whenever the epochs allow it."""

MAX_ALPHA = 0.1
"""The highest learning rate the rules give the symmetric context (the
forward context: :data:`FORWARD_AMOUNT_FACTOR` times this). Measured stable
up to 0.2 (symmetric) and 0.35 (forward) on the sparse regimes; a rate near 1
makes the vectors diverge."""

MIN_EPOCHS, MAX_EPOCHS = 20, 100
"""Epochs chosen by the rules stay in this range."""

EPOCH_WORDS = 4_000_000
"""Items read in all by training beyond 20 epochs, at most: epochs above 20 are
only spent on corpora smaller than ``EPOCH_WORDS / 20`` items."""

PAIR_AMOUNT = 150.0
"""Training amount (``alpha * epochs``) times context pairs per item, for the
symmetric context. Validation splits: dense rating histories (~320 pairs per
item) were best at 0.5 (word2vec's 0.025 for 20 epochs), e-commerce sessions
(~50 pairs per item: short sessions make few pairs) at about 2.5 (HR@10
0.4453 at 0.5, 0.4929 at 2.5), short sparse sessions (~10) at 2.5-5 (HR@10
0.0236 at 0.5, 0.2635 at 2.5)."""

LONG_SEQUENCE = 50.0
"""Mean sequence length from which the training amount stays at 0.5 however
few pairs the items have: long playlists and rating histories overfit with
more (validation NDCG@10, yes playlists, 25 epochs: 0.0351 at 2.5, 0.0441 at
0.625; 300 ml-100k users: 0.0631 at 0.5, 0.0549 at 1.25), while short sessions
with as few pairs per item wanted 2.5 and more."""

FORWARD_AMOUNT_FACTOR = 4.0
"""The forward context trains about a quarter of the pairs of the symmetric
one per epoch (5 successors weighted 1/d**2 against up to 5 neighbours on
each side), so it trains at 4 times the learning rate for the same epochs:
replayed albums, validation NDCG@10 at 50 epochs 0.3738 with 0.025, 0.6106
with 0.1."""

SEQUENTIAL_SUCCESSOR_SHARE = 0.5
"""Without the automatic selection, corpora whose items go to their most
frequent successor at least this often train with the forward context
(replayed albums: 0.79; sessions, playlists and rating histories: 0.08-0.34)."""

SAMPLE_FROM_WORDS = 1_000_000
"""Corpora of at least this many items down-sample popular items (``sample=1e-3``)."""


def training_amount(stats: CorpusStats) -> float:
    """How far training should move the vectors, as ``alpha * epochs`` for the symmetric context.

    ``PAIR_AMOUNT / pairs_per_item``, clipped to [0.5, 5], for sequences
    shorter than :data:`LONG_SEQUENCE` on average; 0.5 (word2vec's 20 epochs
    at 0.025) for longer ones. The forward context trains the same epochs at
    :data:`FORWARD_AMOUNT_FACTOR` times the learning rate.
    """
    if stats.mean_length >= LONG_SEQUENCE:
        return 0.5
    return min(max(PAIR_AMOUNT / max(stats.pairs_per_item, 1e-9), 0.5), 5.0)


def default_context(stats: CorpusStats) -> Context:
    """``forward`` for strongly sequential corpora (see :data:`SEQUENTIAL_SUCCESSOR_SHARE`), else ``symmetric``."""
    return "forward" if stats.successor_share >= SEQUENTIAL_SUCCESSOR_SHARE else "symmetric"


def default_epochs(stats: CorpusStats, amount: float) -> int:
    """Enough epochs to reach ``amount`` at word2vec's learning rate, within what the corpus size affords.

    At least 20; at most 100, and at most ``EPOCH_WORDS / n_words`` (never
    below 20), so that large corpora keep word2vec's 20 passes.
    """
    affordable = max(MIN_EPOCHS, min(MAX_EPOCHS, EPOCH_WORDS // max(stats.n_words, 1)))
    return max(MIN_EPOCHS, min(affordable, math.ceil(amount / BASE_ALPHA)))


def default_sample(stats: CorpusStats) -> float:
    """0 below :data:`SAMPLE_FROM_WORDS` training items, 1e-3 from there on."""
    return 1e-3 if stats.n_words >= SAMPLE_FROM_WORDS else 0.0


def resolve_defaults(config: Item2VecConfig, stats: CorpusStats) -> Item2VecConfig:
    """Fill the options left unset (None) in ``config`` from the corpus statistics.

    ``context`` by :func:`default_context`, ``epochs`` by
    :func:`default_epochs`, ``alpha`` as the training amount divided by the
    epochs (between 0.025 and :data:`MAX_ALPHA`), times :data:`FORWARD_AMOUNT_FACTOR` for the
    forward context (which trains fewer pairs per epoch), ``sample`` by
    :func:`default_sample`, ``relation`` "next". Options set by the user are
    kept as they are.

    Parameters
    ----------
    config
        The configuration, some options possibly None.
    stats
        Statistics of the training sequences.

    Returns
    -------
    Item2VecConfig
        A configuration with every option set.
    """
    context: Context = config.context or default_context(stats)
    amount = training_amount(stats)
    epochs = config.epochs or default_epochs(stats, amount)
    factor = FORWARD_AMOUNT_FACTOR if context == "forward" else 1.0
    alpha = config.alpha or round(factor * min(max(BASE_ALPHA, amount / epochs), MAX_ALPHA), 4)
    update = {
        "context": context,
        "epochs": epochs,
        "alpha": max(alpha, config.min_alpha),
        "sample": default_sample(stats) if config.sample is None else config.sample,
        "relation": config.relation or "next",
    }
    return config.model_copy(update=update)
