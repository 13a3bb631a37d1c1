"""Evaluation protocols: which query each method answers and which item it should find.

A protocol turns held-out test sequences into cases: a context (the items
a method is given, in order, the last one being "now") and a target (the
item that came next). Every method answers exactly the same cases.

* ``next_item``: every position of a test sequence; the context is the
  current item alone, the target the item after it (the foundation's default);
* ``last_item``: one case per sequence; the context is the second-to-last
  item, the target the last one (Caselles-Dupré et al., "Word2vec applied to
  Recommendation: Hyperparameters Matter", RecSys 2018);
* ``session``: every position; the context is the sequence so far, its
  last ``session_window`` items at most (20 by default), and the target is
  the next item *not already in it*: a case whose target is in its context
  is dropped, since recommending what the session holds is a different
  task (session-based evaluation, as in the session-rec framework).

Which sequences are test sequences is the split's business
(:mod:`recsys.data.split`: whole sequences at random, events before and
after a cut-off, or a test file of the dataset's own).
:func:`train_validation_split` carves a validation part out of the
training sequences for tuning, so that the test split never feeds it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import polars as pl

from recsys.config import SESSION_WINDOW
from recsys.data._schema import check_sequences
from recsys.data.split import random_split
from recsys.errors import ConfigError

__all__ = ["Protocol", "PROTOCOLS", "EvaluationCases", "build_cases", "train_validation_split"]

Protocol = Literal["next_item", "last_item", "session"]
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)
"""Every protocol, in the order reports show them."""


@dataclass(frozen=True, eq=False)
class EvaluationCases:
    """The contexts and targets of one protocol on one set of test sequences.

    Case ``i`` gives a method the items ``item_ids[begin[i]:end[i]]`` (in
    order, at least one) and asks for ``item_ids[end[i]]``.

    Attributes
    ----------
    protocol
        The protocol that made the cases (``pairs`` for :meth:`from_pairs`).
    item_ids
        The test items, all sequences one after another.
    begin, end
        ``(n_cases,)`` int64 positions in ``item_ids``.
    sequence_ids
        ``(n_cases,)`` the test sequence of each case.
    positions
        ``(n_cases,)`` the 0-based position of each target in its sequence.
    """

    protocol: str
    item_ids: np.ndarray
    begin: np.ndarray
    end: np.ndarray
    sequence_ids: np.ndarray
    positions: np.ndarray

    def __len__(self) -> int:
        return len(self.end)

    @property
    def single_item(self) -> bool:
        """Whether every context is one item (item-to-item protocols)."""
        return bool(np.all(self.end - self.begin == 1))

    @classmethod
    def from_pairs(cls, pairs: pl.DataFrame) -> "EvaluationCases":
        """Cases from a frame of ``query_id, target_id`` pairs (one-item contexts).

        Parameters
        ----------
        pairs
            Frame with ``query_id`` and ``target_id`` columns, and optionally
            ``sequence_id`` and the query's ``position`` (as
            :func:`recsys.data.split.next_item_pairs` makes them).
        """
        n = pairs.height
        item_ids = np.empty(2 * n, dtype=object)
        item_ids[0::2] = pairs["query_id"].to_list()
        item_ids[1::2] = pairs["target_id"].to_list()
        sequence_ids = pairs["sequence_id"].to_list() if "sequence_id" in pairs.columns else range(n)
        positions = pairs["position"].to_numpy() + 1 if "position" in pairs.columns else np.ones(n)
        return cls(
            protocol="pairs",
            item_ids=item_ids,
            begin=np.arange(0, 2 * n, 2, dtype=np.int64),
            end=np.arange(1, 2 * n, 2, dtype=np.int64),
            sequence_ids=np.asarray(sequence_ids, dtype=object),
            positions=positions.astype(np.int64),
        )

    def digest(self) -> str:
        """A fingerprint of the cases (items, contexts, targets): equal digests, equal cases."""
        digest = hashlib.sha256("\x1f".join(self.item_ids.tolist()).encode())
        digest.update(self.begin.tobytes())
        digest.update(self.end.tobytes())
        return digest.hexdigest()[:16]

    def to_frame(self) -> pl.DataFrame:
        """The cases as a frame: ``sequence_id, position, context: list[str], target_id``."""
        return pl.DataFrame(
            {
                "sequence_id": [str(s) for s in self.sequence_ids],
                "position": self.positions,
                "context": [self.item_ids[b:e].tolist() for b, e in zip(self.begin, self.end)],
                "target_id": self.item_ids[self.end].tolist(),
            },
            schema={"sequence_id": pl.String, "position": pl.Int64, "context": pl.List(pl.String),
                    "target_id": pl.String},
        )


def build_cases(test: pl.DataFrame, protocol: Protocol, *, session_window: int = SESSION_WINDOW) -> EvaluationCases:
    """Turn test sequences into the cases of a protocol.

    Parameters
    ----------
    test
        Held-out sequences (the sequences contract). Sequences shorter than
        2 give no case.
    protocol
        ``next_item``, ``last_item`` or ``session`` (see the module docstring).
    session_window
        ``session`` only: most items of a context, the latest ones. A case
        whose target is among them is dropped.

    Returns
    -------
    EvaluationCases
        Ordered by sequence (input order), then position.

    Raises
    ------
    ConfigError
        If the protocol is unknown or ``session_window`` is below 1.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; protocols are {', '.join(PROTOCOLS)}")
    if session_window < 1:
        raise ConfigError(f"session_window must be at least 1, got {session_window}")
    test = check_sequences(test) if test.height else test
    lengths = test["items"].list.len().to_numpy().astype(np.int64)
    offsets = np.cumsum(lengths) - lengths
    item_ids = np.asarray(test["items"].explode().to_list() if test.height else [], dtype=object)
    if protocol == "last_item":
        sequence = np.flatnonzero(lengths >= 2)
        position = lengths[sequence] - 1
    else:
        per_sequence = np.maximum(lengths - 1, 0)
        sequence = np.repeat(np.arange(lengths.size), per_sequence)
        first_case = np.cumsum(per_sequence) - per_sequence
        position = np.arange(sequence.size) - np.repeat(first_case, per_sequence) + 1
    end = offsets[sequence] + position
    begin = end - 1
    if protocol == "session":
        begin = np.maximum(offsets[sequence], end - session_window)
        new_target = _previous_occurrence(item_ids)[end] < begin
        sequence, position, begin, end = sequence[new_target], position[new_target], begin[new_target], end[new_target]
    return EvaluationCases(
        protocol=protocol,
        item_ids=item_ids,
        begin=begin.astype(np.int64),
        end=end.astype(np.int64),
        sequence_ids=np.asarray(test["sequence_id"].to_list(), dtype=object)[sequence],
        positions=position.astype(np.int64),
    )


def _previous_occurrence(item_ids: np.ndarray) -> np.ndarray:
    """For each position, the last earlier position of the same item anywhere (-1 for a first occurrence)."""
    _, codes = np.unique(item_ids, return_inverse=True)
    order = np.argsort(codes.ravel(), kind="stable")
    previous = np.full(item_ids.size, -1, dtype=np.int64)
    same = codes.ravel()[order[1:]] == codes.ravel()[order[:-1]]
    previous[order[1:][same]] = order[:-1][same]
    return previous


def train_validation_split(
    train: pl.DataFrame, *, validation_fraction: float = 0.1, seed: int = 42
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Carve a validation part out of the training sequences, for tuning.

    Tuning fits on the first part and scores on the second; the test split,
    made before and apart from this one, never feeds it.

    Parameters
    ----------
    train
        Training sequences (the sequences contract).
    validation_fraction
        Share of the training sequences held out for validation, in (0, 1).
    seed
        Seed of the split (:func:`recsys.data.split.random_split`).

    Returns
    -------
    fit, validation : polars.DataFrame
        Disjoint sets of whole training sequences.
    """
    return random_split(train, test_fraction=validation_fraction, seed=seed)
