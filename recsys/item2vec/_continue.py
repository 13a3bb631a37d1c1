"""Continuing a trained model on new sequences instead of training from scratch.

:func:`continue_training` starts from a model's input and output vectors,
vocabulary and counts, appends the new items it is told to train (their
starting vectors given, or drawn as word2vec draws them), and trains its
own configuration on the new sequences with another number of epochs and
learning rate: gensim's Word2Vec for the symmetric context (the model's
vectors and ``syn1neg`` put in place of the ones it draws), the forward
kernel for the forward context (its arrays start from the model's). The
rows of the model keep their place; the new items follow them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from recsys.data._schema import check_sequences
from recsys.errors import ConfigError
from recsys.item2vec._forward import initial_vectors, train_forward
from recsys.item2vec._gensim import Start, effective_workers, train_symmetric
from recsys.item2vec._vectors import EpochReport, ItemVectors, check_finite

__all__ = ["continue_training", "occurrences"]


def occurrences(sequences: pl.DataFrame, item_ids: Sequence[str]) -> np.ndarray:
    """How often each of ``item_ids`` occurs in ``sequences`` (int64, in the order of ``item_ids``)."""
    counted = sequences.select(pl.col("items").explode().alias("item_id")).group_by("item_id").len("n")
    frame = pl.DataFrame({"item_id": list(item_ids)}, schema={"item_id": pl.String})
    joined = frame.join(counted, on="item_id", how="left", maintain_order="left")
    return joined["n"].fill_null(0).to_numpy().astype(np.int64)


def continue_training(
    vectors: ItemVectors,
    sequences: pl.DataFrame,
    *,
    epochs: int,
    alpha: float,
    new_items: Sequence[str] = (),
    new_vectors: tuple[np.ndarray, np.ndarray] | None = None,
    counts: np.ndarray | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> ItemVectors:
    """Continue training ``vectors`` on ``sequences``: their configuration, another schedule.

    Parameters
    ----------
    vectors
        The trained model (with output vectors: negative sampling updates
        the input vectors against them, so training cannot continue without).
    sequences
        The sequences to train on (new ones, and any old ones replayed).
        Items in neither the model nor ``new_items`` are skipped, as items
        under ``min_count`` are in training.
    epochs
        Passes over ``sequences``.
    alpha
        Learning rate at the start; it decays linearly to the configuration's
        ``min_alpha`` over the ``epochs``.
    new_items
        Items to add to the catalogue and train, after the model's rows.
    new_vectors
        Their starting input and output vectors (for example predicted from
        metadata); None draws input vectors as word2vec does (seeded by the
        configuration's seed) and starts output vectors at zero.
    counts
        Plays of every item of the result (the model's rows, then
        ``new_items``): they set the negative-sampling and down-sampling
        distributions and become the result's counts. None: the model's
        counts plus the occurrences in ``sequences``.
    on_epoch
        Called after every epoch with its report.

    Returns
    -------
    ItemVectors
        Rows ``vectors.item_ids + new_items``, the configuration of
        ``vectors`` (what the model is), the epochs' reports.

    Raises
    ------
    ConfigError
        If the model has no output vectors, a new item is already in the
        model, or ``epochs`` or ``alpha`` is not positive.
    DataError
        If ``sequences`` breaks the sequences contract.
    """
    if vectors.context_vectors is None:
        raise ConfigError("training cannot continue from a model without output vectors (negative sampling updates "
                          "the input vectors against them); train a new model instead")
    if epochs < 1 or not alpha > 0:
        raise ConfigError(f"continuing needs epochs >= 1 and alpha > 0, got epochs={epochs}, alpha={alpha}")
    known = vectors.vocabulary
    repeated = [item for item in new_items if item in known]
    if repeated or len(set(new_items)) != len(new_items):
        raise ConfigError(f"new items must be new and distinct; {repeated[:3] or 'repeated ids'} are not")
    sequences = check_sequences(sequences)
    config = vectors.config
    item_ids = tuple(vectors.item_ids) + tuple(new_items)
    n_new, dim = len(new_items), config.vector_size
    if new_vectors is None:
        new_vectors = (initial_vectors(n_new, dim, config.seed + len(vectors)), np.zeros((n_new, dim), np.float32))
    inputs = np.vstack([np.asarray(vectors.vectors, dtype=np.float32), new_vectors[0]])
    outputs = np.vstack([np.asarray(vectors.context_vectors, dtype=np.float32), new_vectors[1]])
    if counts is None:
        counts = np.concatenate([vectors.counts, np.zeros(n_new, dtype=np.int64)]) + occurrences(sequences, item_ids)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (len(item_ids),):
        raise ConfigError(f"counts for {len(item_ids)} items expected, got shape {counts.shape}")
    frequencies = pl.DataFrame({"token": np.arange(len(item_ids), dtype=np.uint32), "item_id": list(item_ids),
                                "count": counts}, schema={"token": pl.UInt32, "item_id": pl.String, "count": pl.Int64})
    schedule = config.model_copy(update={"epochs": epochs, "alpha": alpha, "min_alpha": min(config.min_alpha, alpha)})
    if schedule.whole_sequence:  # the window spans the longest sequence, as in training
        schedule = schedule.model_copy(update={"window": max(int(sequences["items"].list.len().max()), 1)})
    if config.context == "forward":
        trained, context, reports = train_forward(sequences, frequencies, schedule, workers=effective_workers(schedule),
                                                  on_epoch=on_epoch, start=(inputs, outputs))
        check_finite(trained, schedule)
        return ItemVectors(item_ids, trained, counts, config, context, tuple(reports))
    result = train_symmetric(sequences, schedule, on_epoch=on_epoch,
                             start=Start(frequencies, inputs, outputs))
    rows = result.vocabulary.rows(item_ids)  # gensim sorts its vocabulary by count: back to the model's order
    assert result.context_vectors is not None
    return ItemVectors(item_ids, result.vectors[rows], counts, config, result.context_vectors[rows], result.epochs)
