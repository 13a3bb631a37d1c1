"""Item id <-> row index mapping, in one place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import polars as pl

from recsys.errors import UnknownItemError

__all__ = ["Vocabulary", "item_frequencies"]


def item_frequencies(sequences: pl.DataFrame) -> pl.DataFrame:
    """Every item of the sequences with its count, most frequent first (ties by id).

    Returns
    -------
    polars.DataFrame
        ``token: u32`` (the row number: the item's row in the trained
        vectors), ``item_id: str`` and ``count: u32``.
    """
    return (
        sequences.select(pl.col("items").explode().alias("item_id"))
        .group_by("item_id")
        .len("count")
        .sort(["count", "item_id"], descending=[True, False])
        .with_row_index("token")
    )


class Vocabulary:
    """An immutable mapping between item ids (strings) and matrix rows.

    Parameters
    ----------
    item_ids
        The ids in row order. Must be unique.
    """

    def __init__(self, item_ids: Sequence[str]) -> None:
        self._ids: tuple[str, ...] = tuple(map(str, item_ids))
        self._index: dict[str, int] = dict(zip(self._ids, range(len(self._ids))))  # 2x a comprehension at 10^6 ids
        if len(self._index) != len(self._ids):
            raise ValueError("item ids must be unique")

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    @property
    def ids(self) -> tuple[str, ...]:
        """The item ids in row order."""
        return self._ids

    def row(self, item_id: str) -> int:
        """Return the row of ``item_id``.

        Raises
        ------
        UnknownItemError
            If the item is not in the vocabulary.
        """
        try:
            return self._index[item_id]
        except KeyError:
            raise UnknownItemError(item_id) from None

    def rows(
        self, item_ids: Iterable[str], *, missing: Literal["error", "negative"] = "error"
    ) -> np.ndarray:
        """Return the rows of several ids as an int64 array.

        Parameters
        ----------
        item_ids
            Ids to look up.
        missing
            ``"error"`` raises :class:`UnknownItemError` for the first unknown
            id; ``"negative"`` maps unknown ids to -1.
        """
        if missing == "error":
            return np.fromiter((self.row(i) for i in item_ids), dtype=np.int64)
        get = self._index.get
        return np.fromiter((get(i, -1) for i in item_ids), dtype=np.int64)
