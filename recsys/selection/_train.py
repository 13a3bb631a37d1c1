"""The one entry point that trains item2vec with the data-adaptive defaults: :func:`train_adaptive`.

:func:`recsys.item2vec.train` trains exactly the configuration it is given.
Python users who leave options unset (``Item2VecConfig()``) train through
this function, re-exported as :func:`recsys.train`: it fills the unset
options from the sequences by the rules of :func:`resolve_defaults`, without
the automatic selection (which ``recsys train`` runs, see
:func:`choose_config`), and trains.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from recsys.config import Item2VecConfig
from recsys.data._schema import check_sequences
from recsys.item2vec import ADAPTIVE_OPTIONS, EpochReport, ItemVectors, train
from recsys.selection._defaults import resolve_defaults
from recsys.selection._stats import corpus_stats

__all__ = ["resolved_config", "train_adaptive"]


def resolved_config(config: Item2VecConfig, sequences: pl.DataFrame) -> Item2VecConfig:
    """``config`` with the options left unset filled from ``sequences`` by the data-adaptive rules."""
    if all(getattr(config, name) is not None for name in ADAPTIVE_OPTIONS):
        return config
    return resolve_defaults(config, corpus_stats(check_sequences(sequences)))


def train_adaptive(
    sequences: pl.DataFrame,
    config: Item2VecConfig | None = None,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> ItemVectors:
    """Train item2vec on ``sequences``, the options ``config`` leaves unset filled from the data.

    Parameters
    ----------
    sequences
        The sequences contract (``sequence_id``, ``items``).
    config
        Hyperparameters; None is :class:`Item2VecConfig()`, every adaptive
        option set from the data (context, epochs, learning rate,
        down-sampling, relation).
    on_epoch
        Called after every epoch with its :class:`~recsys.item2vec.EpochReport`.

    Returns
    -------
    ItemVectors
        Their ``config`` has every option set, as trained.

    Raises
    ------
    DataError
        If there are no sequences or no item reaches ``min_count``.
    """
    sequences = check_sequences(sequences)
    return train(sequences, resolved_config(config or Item2VecConfig(), sequences), on_epoch=on_epoch)
