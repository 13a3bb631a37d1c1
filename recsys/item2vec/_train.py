"""Training exactly the configuration given: the symmetric context by gensim, the forward one by its kernel."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from recsys.config import Item2VecConfig
from recsys.data._schema import check_sequences
from recsys.errors import ConfigError
from recsys.item2vec._forward import train_forward_vectors
from recsys.item2vec._gensim import effective_workers, train_symmetric
from recsys.item2vec._vectors import EpochReport, ItemVectors

__all__ = ["ADAPTIVE_OPTIONS", "train", "unresolved_options"]

ADAPTIVE_OPTIONS = ("context", "epochs", "alpha", "sample", "relation")
"""Options of :class:`Item2VecConfig` that default to None: set from the training
sequences by :mod:`recsys.selection` (or :func:`recsys.train`) when left unset."""


def unresolved_options(config: Item2VecConfig) -> tuple[str, ...]:
    """The training options of ``config`` still unset (None), which :func:`train` cannot train with.

    ``relation`` is not among them: it chooses how the vectors answer, not
    how they are trained (None answers "next", see
    :attr:`ItemVectors.default_relation`).
    """
    return tuple(name for name in ADAPTIVE_OPTIONS if name != "relation" and getattr(config, name) is None)


def train(
    sequences: pl.DataFrame,
    config: Item2VecConfig,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> ItemVectors:
    """Train item vectors on sequences: exactly the configuration given.

    The symmetric context trains with gensim's Word2Vec
    (:mod:`recsys.item2vec._gensim`), the forward context with the compiled
    forward-window kernel (:mod:`recsys.item2vec._forward`). Every option
    must be set: the data-adaptive defaults (:data:`ADAPTIVE_OPTIONS`, None
    in a fresh :class:`Item2VecConfig`) are resolved one layer up, by
    :func:`recsys.train` (the entry point for Python users, which fills them
    from the sequences) or the automatic selection of ``recsys train``.

    Parameters
    ----------
    sequences
        Sequences contract frame (``sequence_id``, ``items``).
    config
        Hyperparameters, every option set.
    on_epoch
        Called after every epoch with its :class:`EpochReport` (for progress
        bars and logging).

    Returns
    -------
    ItemVectors
        Vectors of every item seen at least ``config.min_count`` times, most
        frequent first, with ``config`` as their configuration.

    Raises
    ------
    ConfigError
        If an option is unset (None), naming it.
    DataError
        If there are no sequences or no item reaches ``min_count``.

    Notes
    -----
    Training is deterministic with one worker and a fixed seed, in both
    modes (gensim 4 seeds the initial vectors from ``seed`` alone). With
    several workers the thread schedule changes results slightly from run
    to run, and the per-epoch loss is not computed (see
    :attr:`EpochReport.loss`).
    """
    missing = unresolved_options(config)
    if missing:
        raise ConfigError(
            f"item2vec option(s) {', '.join(missing)} unset: recsys.item2vec.train trains exactly the configuration "
            "it is given; set them, or train with recsys.train, which sets them from the sequences"
        )
    sequences = check_sequences(sequences)
    if config.context == "forward":
        if config.whole_sequence:  # the window spans the longest sequence
            config = config.model_copy(update={"window": max(int(sequences["items"].list.len().max()), 1)})
        return train_forward_vectors(sequences, config, workers=effective_workers(config), on_epoch=on_epoch)
    return train_symmetric(sequences, config, on_epoch=on_epoch)
