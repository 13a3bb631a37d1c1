"""The typed contracts between pipeline stages (see DESIGN.md).

* events: ``user_id: str, item_id: str, timestamp: datetime[us]`` and an
  optional ``event_index: u64`` that breaks timestamp ties in input order;
* sequences: ``sequence_id: str, items: list[str]`` in play order;
* metadata: ``item_id: str`` plus any number of string columns.

Readers produce these and check them once; later stages trust them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from recsys.errors import DataError

__all__ = [
    "EVENTS_SCHEMA",
    "SEQUENCES_SCHEMA",
    "check_sequences",
    "check_metadata",
]

EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "timestamp": pl.Datetime("us"),
}
SEQUENCES_SCHEMA: dict[str, pl.DataType] = {
    "sequence_id": pl.String(),
    "items": pl.List(pl.String()),
}


def check_sequences(sequences: pl.DataFrame, *, source: str | Path | None = None) -> pl.DataFrame:
    """Check that ``sequences`` follows the sequences contract.

    Parameters
    ----------
    sequences
        Frame with ``sequence_id`` and ``items`` columns.
    source
        Where the frame came from, used in error messages.

    Returns
    -------
    polars.DataFrame
        The frame, with columns in contract order.

    Raises
    ------
    DataError
        If a column is missing or has the wrong type, or there are no sequences.
    """
    for name, dtype in SEQUENCES_SCHEMA.items():
        if name not in sequences.columns:
            raise DataError(
                "missing column in sequences",
                path=source,
                column=name,
                fix=f"provide a {name!r} column of type {dtype}",
            )
        if sequences.schema[name] != dtype:
            raise DataError(
                f"column has type {sequences.schema[name]}, expected {dtype}",
                path=source,
                column=name,
                fix="cast the column or use one of recsys.data's readers",
            )
    if sequences.height == 0:
        raise DataError(
            "no sequences with at least 2 items",
            path=source,
            fix="check the input file and the min_item_count / session settings",
        )
    return sequences.select(list(SEQUENCES_SCHEMA))


def check_metadata(metadata: pl.DataFrame, *, source: str | Path | None = None) -> pl.DataFrame:
    """Check the metadata contract: a unique string ``item_id`` column first.

    Parameters
    ----------
    metadata
        Frame with an ``item_id`` column and any other columns.
    source
        Where the frame came from, used in error messages.

    Returns
    -------
    polars.DataFrame
        The frame with ``item_id`` first, other columns cast to strings and
        duplicate ids dropped (first wins).
    """
    if "item_id" not in metadata.columns:
        raise DataError(
            "missing column in item metadata",
            path=source,
            column="item_id",
            fix="name the id column with --metadata-id-column or rename it to 'item_id'",
        )
    others = [c for c in metadata.columns if c != "item_id"]
    return metadata.select(
        pl.col("item_id").cast(pl.String).str.strip_chars(),
        *[pl.col(c).cast(pl.String) for c in others],
    ).unique(subset="item_id", keep="first", maintain_order=True)
