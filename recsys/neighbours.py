"""The exact top-k neighbours of every item: a lookup table and an offline export.

Both are computed in blocks of query rows with faiss's exact inner-product
search (blocked matrix products and a heap per query), so memory stays
bounded whatever the catalogue size. Scores are inner products of query
and candidate vectors: given unit vectors, the cosines of
:class:`recsys.index.ExactIndex` up to float32 rounding; given input and raw
output vectors, the "next" relation's dot products.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.index import knn

__all__ = ["ExportReport", "NeighbourTable", "export_neighbours", "neighbour_blocks"]

Progress = Callable[[int, int], None]
"""Called with (items done, items in all) after every block."""

_BLOCK_ROWS = 4096


def neighbour_blocks(
    vectors: np.ndarray,
    k: int,
    *,
    candidates: np.ndarray | None = None,
    block_rows: int = _BLOCK_ROWS,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Exact top-``k`` inner-product neighbours of every row, the row itself excluded, block by block.

    Parameters
    ----------
    vectors
        float32 query vectors, shape ``(n_items, dim)`` (unit rows for cosines).
    k
        Neighbours per item, clipped to ``n_items - 1``.
    candidates
        float32 vectors searched, row for row with ``vectors`` (for example
        output vectors); None searches ``vectors`` themselves.
    block_rows
        Query rows per block.

    Yields
    ------
    start, rows, scores
        The first row of the block and, for each row of the block, the int64
        rows and float32 scores of its neighbours, best first.
    """
    candidates = vectors if candidates is None else candidates
    n_items = len(vectors)
    k = min(k, n_items - 1)
    for start in range(0, n_items, block_rows):
        queries = vectors[start : start + block_rows]
        if k == 0:
            yield start, np.empty((len(queries), 0), dtype=np.int64), np.empty((len(queries), 0), dtype=np.float32)
            continue
        yield start, *knn(queries, candidates, k, exclude_rows=np.arange(start, start + len(queries)))


@dataclass(frozen=True, eq=False)
class NeighbourTable:
    """The exact top-``depth`` neighbours of every item, answered by lookup.

    Attributes
    ----------
    rows
        int32 neighbour rows, shape ``(n_items, depth)``, best first.
    scores
        float32 scores (cosines, or dot products for the "next" relation), same shape.
    """

    rows: np.ndarray
    scores: np.ndarray

    @property
    def depth(self) -> int:
        """Neighbours stored per item."""
        return self.rows.shape[1]

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        depth: int,
        *,
        candidates: np.ndarray | None = None,
        on_progress: Progress | None = None,
    ) -> "NeighbourTable":
        """Compute the table of query ``vectors`` against ``candidates`` (see :func:`neighbour_blocks`)."""
        n_items = len(vectors)
        width = min(depth, n_items - 1)
        rows = np.empty((n_items, width), dtype=np.int32)
        scores = np.empty((n_items, width), dtype=np.float32)
        for start, block_rows, block_scores in neighbour_blocks(vectors, width, candidates=candidates):
            stop = start + len(block_rows)
            rows[start:stop], scores[start:stop] = block_rows, block_scores
            if on_progress is not None:
                on_progress(stop, n_items)
        rows.setflags(write=False)
        scores.setflags(write=False)
        return cls(rows, scores)

    def lookup(self, rows: int | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (at most :attr:`depth`) neighbour rows and scores of a row (1-D) or of rows (2-D).

        The arrays are read-only views for one row, copies for several.
        """
        return self.rows[rows, :k], self.scores[rows, :k]


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_neighbours` wrote."""

    path: Path
    """The Parquet file."""
    n_items: int
    """Items whose neighbours were written."""
    k: int
    """Neighbours per item (``k`` clipped to the catalogue size minus one)."""
    seconds: float
    """Wall time."""


def export_neighbours(
    vectors: np.ndarray,
    item_ids: Sequence[str],
    path: str | Path,
    *,
    k: int = 50,
    candidates: np.ndarray | None = None,
    on_progress: Progress | None = None,
    answered_elsewhere: tuple[np.ndarray, Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]] | None = None,
) -> ExportReport:
    """Write the exact top-``k`` neighbours of every item to a Parquet file.

    Columns: ``item_id`` (string), ``rank`` (int32, 1 = most similar),
    ``neighbour_id`` (string), ``score`` (float32 inner product: the cosine
    for unit vectors, the "next" score for input against output vectors); an item is never
    its own neighbour. Blocks are written as they are computed, so memory
    stays bounded; the file is written beside its final place and renamed
    into it, so a crash never leaves half a file.

    Parameters
    ----------
    vectors
        float32 query vectors, e.g. the unit vectors :attr:`recsys.Recommender.vectors`.
    item_ids
        Ids in row order (:attr:`recsys.Recommender.item_ids`).
    path
        Output file.
    k
        Neighbours per item.
    candidates
        Vectors searched, row for row with ``vectors``; None searches ``vectors``.
    on_progress
        Called with (items done, items in all) after every block.
    answered_elsewhere
        ``(flags, search)``: the items whose flag is true take their
        neighbours from ``search(rows, k)`` (rows and scores, each row
        itself excluded) instead of from the vectors, as a new item's
        "next" does (:class:`recsys.coldstart.ranker.ColdNextScorer`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ids = np.asarray(item_ids, dtype=object)
    width = min(k, len(ids) - 1)
    schema = pa.schema(
        [("item_id", pa.string()), ("rank", pa.int32()), ("neighbour_id", pa.string()), ("score", pa.float32())]
    )
    handle, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        blocks = neighbour_blocks(vectors, width, candidates=candidates)
        if answered_elsewhere is not None and answered_elsewhere[0].all():  # the vectors' lists are never used
            search = answered_elsewhere[1]
            blocks = ((start, *search(np.arange(start, min(start + _BLOCK_ROWS, len(ids))), width))
                      for start in range(0, len(ids), _BLOCK_ROWS))
            answered_elsewhere = None
        with pq.ParquetWriter(staging, schema) as writer:
            for start, rows, scores in blocks:
                block = len(rows)
                if answered_elsewhere is not None:
                    flags, search = answered_elsewhere
                    local = np.flatnonzero(flags[start : start + block])
                    if local.size:
                        rows, scores = rows.copy(), scores.copy()
                        rows[local], scores[local] = search(start + local, width)
                writer.write_table(
                    pa.table(
                        [
                            pa.array(np.repeat(ids[start : start + block], width), type=pa.string()),
                            pa.array(np.tile(np.arange(1, width + 1, dtype=np.int32), block)),
                            pa.array(ids[rows.ravel()], type=pa.string()),
                            pa.array(scores.ravel()),
                        ],
                        schema=schema,
                    )
                )
                if on_progress is not None:
                    on_progress(start + block, len(ids))
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return ExportReport(path=target, n_items=len(ids), k=width, seconds=time.perf_counter() - started)
