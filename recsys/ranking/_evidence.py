"""What the training sequences saw follow what: sequential rules' counts, kept per catalogue row.

For every training sequence and every two positions ``i < j`` at most
``steps`` apart, the pair ``items[i] -> items[j]`` gains ``1 / (j - i)``
(session-rec's sequential rules with their ``div`` weighting; an item
followed by itself makes no pair). Row ``q`` of :attr:`Evidence.successors`
holds what followed ``q``, its column what came before. Each row keeps its
``depth`` heaviest successors only, so the evidence is never larger than a
neighbour table of the same depth, while :attr:`Evidence.totals` keeps each
row's full sum (the share of a successor is of everything that followed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys._atomic import staged_directory
from recsys.errors import ModelLoadError

__all__ = ["Evidence", "EVIDENCE_FILES", "log_plays"]

_FORMAT_VERSION = 1
EVIDENCE_FILES = ("evidence.json", "indptr.npy", "indices.npy", "weights.npy", "totals.npy", "plays.npy")
"""The files :meth:`Evidence.write` writes."""


def log_plays(counts: np.ndarray) -> np.ndarray:
    """``log(1 + plays)`` of each item, float32: the popularity signal."""
    return np.log1p(np.asarray(counts, dtype=np.float64)).astype(np.float32)


def _coded(sequences: pl.DataFrame, item_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sequence number and catalogue row (-1: not in the catalogue) of every item, in play order."""
    catalogue = pl.DataFrame({"items": list(item_ids), "row": np.arange(len(item_ids), dtype=np.int64)},
                             schema={"items": pl.String, "row": pl.Int64})
    coded = (
        sequences.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("sequence"), "items")
        .explode("items")
        .with_row_index("position")
        .join(catalogue, on="items", how="left")
        .sort("position")
    )
    return coded["sequence"].to_numpy(), coded["row"].fill_null(-1).to_numpy().astype(np.int64)


def _keep_heaviest(matrix: sp.csr_matrix, depth: int) -> sp.csr_matrix:
    """Each row's ``depth`` largest entries (ties: lower column first)."""
    lengths = np.diff(matrix.indptr)
    if lengths.size == 0 or lengths.max(initial=0) <= depth:
        return matrix
    row = np.repeat(np.arange(matrix.shape[0]), lengths)
    order = np.lexsort((matrix.indices, -matrix.data, row))
    rank = np.arange(order.size) - np.repeat(matrix.indptr[:-1], lengths)
    keep = order[rank < depth]
    kept = sp.csr_matrix((matrix.data[keep], (row[keep], matrix.indices[keep])), shape=matrix.shape)
    kept.sort_indices()
    return kept


@dataclass(frozen=True, eq=False)
class Evidence:
    """Observed successors of every catalogue item, and its plays.

    Attributes
    ----------
    successors
        ``(n_items, n_items)`` CSR float32: row ``q`` holds the distance
        weighted counts of the items that followed ``q`` (its ``depth``
        heaviest), columns sorted.
    totals
        ``(n_items,)`` float32: each row's sum before it was cut to ``depth``.
    plays
        ``(n_items,)`` float32: occurrences of each item in the sequences.
    steps
        Farthest distance counted.
    depth
        Successors kept per item, at most.
    """

    successors: sp.csr_matrix
    totals: np.ndarray
    plays: np.ndarray
    steps: int
    depth: int
    predecessors: sp.csr_matrix = field(init=False, repr=False)
    """:attr:`successors` transposed (row ``c``: what ``c`` followed), as CSR."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "predecessors", self.successors.T.tocsr())
        self.predecessors.sort_indices()

    def __len__(self) -> int:
        return self.successors.shape[0]

    @classmethod
    def from_sequences(
        cls, sequences: pl.DataFrame, item_ids: Sequence[str], *, steps: int = 10, depth: int = 100
    ) -> "Evidence":
        """Count what followed what in ``sequences``, over the catalogue ``item_ids``.

        Parameters
        ----------
        sequences
            The sequences contract (an ``items`` list column, in play order).
        item_ids
            The catalogue, in row order; other items are skipped (they still
            count as a step between two catalogue items).
        steps
            Farthest distance between an item and a successor it counts.
        depth
            Successors kept per item (the heaviest).
        """
        sequence, row = _coded(sequences, item_ids)
        n = len(item_ids)
        before, after, weight = [], [], []
        for distance in range(1, steps + 1):
            same = (sequence[distance:] == sequence[:-distance])
            first, then = row[:-distance][same], row[distance:][same]
            keep = (first >= 0) & (then >= 0) & (first != then)
            before.append(first[keep])
            after.append(then[keep])
            weight.append(np.full(int(keep.sum()), 1.0 / distance, dtype=np.float32))
        counts = sp.csr_matrix(
            (np.concatenate(weight), (np.concatenate(before), np.concatenate(after))), shape=(n, n), dtype=np.float32
        )
        counts.sum_duplicates()
        plays = np.bincount(row[row >= 0], minlength=n).astype(np.float32)
        totals = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        return cls(_keep_heaviest(counts, depth), totals, plays, steps, depth)

    def extended(self, n_new: int, *, plays: float = 0.0) -> "Evidence":
        """The same evidence over a catalogue with ``n_new`` items appended: never seen in training, so
        with no counts, and ``plays`` plays each (the median, say, so that popularity neither buries
        nor favours them)."""
        if n_new == 0:
            return self
        n = len(self) + n_new
        indptr = np.concatenate([self.successors.indptr, np.full(n_new, self.successors.indptr[-1])])
        grown = sp.csr_matrix((self.successors.data, self.successors.indices, indptr), shape=(n, n))
        zeros = np.zeros(n_new, dtype=np.float32)
        return Evidence(grown, np.concatenate([self.totals, zeros]),
                        np.concatenate([self.plays, np.full(n_new, plays, dtype=np.float32)]), self.steps, self.depth)

    def updated(self, sequences: pl.DataFrame, *, item_ids: Sequence[str], catalogue: Sequence[str]) -> "Evidence":
        """This evidence moved to another catalogue, with the counts of ``sequences`` added.

        An incremental update's evidence: what the model saw so far, and what
        followed what in its new sequences, counted with the same ``steps``
        and weights. Each row keeps its ``depth`` heaviest successors of the
        sum (the old rows were already cut to ``depth``, so a successor that
        had fallen off an old row counts from the new sequences only);
        totals and plays add up exactly.

        Parameters
        ----------
        sequences
            The new sequences (the sequences contract).
        item_ids
            This evidence's catalogue, in row order.
        catalogue
            The catalogue of the result, in row order: every item of
            ``item_ids`` (an item it lacks loses its counts) and the new ones.

        Returns
        -------
        Evidence
            Rows as ``catalogue``.
        """
        if len(item_ids) != len(self):
            raise ValueError(f"{len(item_ids)} item ids for evidence over {len(self)} items")
        position = {item: row for row, item in enumerate(catalogue)}
        rows = np.fromiter((position.get(item, -1) for item in item_ids), dtype=np.int64, count=len(item_ids))
        n = len(catalogue)
        moved = self._moved(rows, n)
        counted = Evidence.from_sequences(sequences, catalogue, steps=self.steps, depth=n)  # every successor
        total = (moved + counted.successors).tocsr()
        total.sum_duplicates()
        keep = rows >= 0
        totals, plays = counted.totals.copy(), counted.plays.copy()
        totals[rows[keep]] += self.totals[keep]
        plays[rows[keep]] += self.plays[keep]
        return Evidence(_keep_heaviest(total, self.depth), totals, plays, self.steps, self.depth)

    def _moved(self, rows: np.ndarray, n: int) -> sp.csr_matrix:
        """The successor counts with row and column ``i`` moved to ``rows[i]`` (-1: dropped), ``n`` rows."""
        coo = self.successors.tocoo()
        source, target = rows[coo.row], rows[coo.col]
        keep = (source >= 0) & (target >= 0)
        return sp.csr_matrix((coo.data[keep], (source[keep], target[keep])), shape=(n, n), dtype=np.float32)

    def walks(self, lengths: np.ndarray, *, seed: int = 0) -> list[np.ndarray]:
        """Sequences of rows drawn from the evidence: a stand-in for sequences it was counted on.

        Walk ``i`` starts at an item drawn by its plays and steps to a
        successor drawn by its weight in :attr:`successors` (what followed the
        item within ``steps``, nearer successors weighing more), for up to
        ``lengths[i]`` items; a walk stops early at an item nothing followed.
        Walks shorter than 2 items are left out.

        Parameters
        ----------
        lengths
            The longest each walk may be.
        seed
            Seed of the draws.

        Returns
        -------
        list of numpy.ndarray
            int64 rows of each walk.
        """
        rng = np.random.default_rng(seed)
        n_walks = len(lengths)
        if n_walks == 0 or self.successors.nnz == 0 or self.plays.sum() <= 0:
            return []
        indptr, indices = self.successors.indptr, self.successors.indices
        cumulative = np.cumsum(self.successors.data, dtype=np.float64)
        before = np.where(indptr[:-1] > 0, cumulative[np.maximum(indptr[:-1] - 1, 0)], 0.0)
        totals = np.where(indptr[1:] > indptr[:-1], cumulative[np.maximum(indptr[1:] - 1, 0)], 0.0) - before
        plays = self.plays.astype(np.float64)
        steps = np.full((n_walks, int(max(lengths))), -1, dtype=np.int64)
        steps[:, 0] = rng.choice(len(self), size=n_walks, p=plays / plays.sum())
        for step in range(1, steps.shape[1]):
            current = steps[:, step - 1]
            going = (current >= 0) & (step < lengths)
            going[going] = totals[current[going]] > 0
            rows = current[going]
            drawn = before[rows] + rng.random(rows.size) * totals[rows]
            place = np.clip(np.searchsorted(cumulative, drawn, side="right"), indptr[rows], indptr[rows + 1] - 1)
            steps[going, step] = indices[place]
        walks = [row[row >= 0] for row in steps]
        return [walk for walk in walks if walk.size >= 2]

    @property
    def nbytes(self) -> int:
        """Bytes the saved evidence takes (its arrays)."""
        s = self.successors
        return s.indptr.nbytes + s.indices.nbytes + s.data.nbytes + self.totals.nbytes + self.plays.nbytes

    # ------------------------------------------------------------ persistence
    def write(self, directory: Path) -> None:
        """Write the arrays (``.npy``, no pickle) and ``evidence.json`` into an existing ``directory``."""
        s = self.successors
        np.save(directory / "indptr.npy", s.indptr.astype(np.int64))
        np.save(directory / "indices.npy", s.indices.astype(np.int32))
        np.save(directory / "weights.npy", s.data.astype(np.float32))
        np.save(directory / "totals.npy", self.totals.astype(np.float32))
        np.save(directory / "plays.npy", self.plays.astype(np.float32))
        (directory / "evidence.json").write_text(
            json.dumps({"format_version": _FORMAT_VERSION, "steps": self.steps, "depth": self.depth,
                        "n_items": len(self)}) + "\n",
            encoding="utf-8")

    def save(self, directory: str | Path) -> Path:
        """Write the evidence to ``directory`` (replaced atomically)."""
        target = Path(directory)
        with staged_directory(target) as staging:
            self.write(staging)
        return target

    @classmethod
    def load(cls, directory: str | Path) -> "Evidence":
        """Read what :meth:`write` (or :meth:`save`) wrote.

        Raises
        ------
        ModelLoadError
            If a file is missing, unreadable or inconsistent.
        """
        source = Path(directory)
        try:
            header = json.loads((source / "evidence.json").read_text(encoding="utf-8"))
            arrays = {name: np.load(source / f"{name}.npy", allow_pickle=False)
                      for name in ("indptr", "indices", "weights", "totals", "plays")}
            n = int(header["n_items"])
            successors = sp.csr_matrix((arrays["weights"], arrays["indices"], arrays["indptr"]), shape=(n, n))
            if arrays["totals"].shape != (n,) or arrays["plays"].shape != (n,):
                raise ValueError(f"totals and plays must hold {n} items")
            return cls(successors, arrays["totals"], arrays["plays"], int(header["steps"]), int(header["depth"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(f"{source}: unreadable successor evidence ({error}); "
                                 "restore the files or log the model again") from None
