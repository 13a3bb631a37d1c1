"""What every reader shares: the file checks, UTF-8 text, the suffixes of tables, dropping one-item sequences."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import polars as pl

from recsys.errors import DataError

__all__ = [
    "CSV_SEPARATORS", "EMPTY_FIX", "PARQUET_SUFFIXES", "TimeUnit", "check_file", "drop_single_items", "guess_format",
    "read_utf8",
]

TimeUnit = Literal["auto", "s", "ms", "iso"]
DataFormat = Literal["playlists", "events", "mpd", "sequences"]
PARQUET_MAGIC = b"PAR1"

UTF8_BOM = b"\xef\xbb\xbf"
CSV_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EMPTY_FIX = "check the file: it should have a header row and at least one row of data"


def check_file(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` is an existing file."""
    if not path.exists():
        raise DataError("file not found", path=path, fix="check the path and the working directory")
    if not path.is_file():
        raise DataError("not a file", path=path, fix="pass the path of a file, not a directory")


def guess_format(path: Path) -> DataFormat:
    """The input format a file's name (and a Parquet file's columns) suggests.

    A directory or Parquet with an ``items`` column is ``sequences`` (what
    ``recsys prepare`` writes); other Parquet, CSV and TSV files are
    ``events``; JSON is ``mpd``; anything else is ``playlists`` (one sequence
    per line).
    """
    suffix = path.suffix.lower()
    if path.is_dir():
        return "sequences"
    if suffix in PARQUET_SUFFIXES:
        return "sequences" if path.is_file() and "items" in pl.read_parquet_schema(path) else "events"
    if suffix in (".csv", ".tsv"):
        return "events"
    return "mpd" if suffix == ".json" else "playlists"


def read_utf8(path: Path) -> str:
    """Read ``path`` as UTF-8 text (an optional byte-order mark is ignored).

    Raises
    ------
    DataError
        If the file is missing or holds bytes that are not UTF-8, naming the
        line of the first bad byte.
    """
    check_file(path)
    data = path.read_bytes().removeprefix(UTF8_BOM)
    if data.startswith(PARQUET_MAGIC):
        raise DataError(
            "a Parquet file where text was expected", path=path,
            fix="pass --format events for an events log (user_id, item_id, timestamp) or --format sequences "
                "for what `recsys prepare` wrote (data.format in a config)",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            "bytes that are not valid UTF-8",
            path=path,
            line=line,
            value=error.object[error.start : error.end],
            fix="re-encode the file as UTF-8 (for example: iconv -f latin1 -t utf-8)",
        ) from None


def drop_single_items(sequences: pl.DataFrame, *, path: Path, unit: str) -> pl.DataFrame:
    """Drop sequences with fewer than 2 items, warning how many were dropped.

    Parameters
    ----------
    sequences
        Frame with ``sequence_id`` and ``items`` columns.
    path
        The file the sequences came from, named in the warning.
    unit
        How a sequence is called in the warning ("line", "playlist").
    """
    short = pl.col("items").list.len() < 2
    dropped = sequences.filter(short)
    if dropped.height:
        warnings.warn(
            f"{path}: dropped {dropped.height} {unit}(s) with fewer than 2 items "
            f"(a single item has no context), the first is {unit} {dropped['sequence_id'][0]}",
            UserWarning,
            stacklevel=3,
        )
    return sequences.filter(~short)
