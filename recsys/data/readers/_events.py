"""Events: CSV/TSV or Parquet files with user, item and time columns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from recsys.data.readers._files import CSV_SEPARATORS, EMPTY_FIX, PARQUET_SUFFIXES, TimeUnit, check_file
from recsys.errors import DataError, first_line

__all__ = ["read_events"]

_TIME_FIX = "use unix seconds or ISO 8601 (2024-01-31T12:00:00), or set --time-unit"
_COLUMN_FIX = "pass --user-column/--item-column/--time-column"
# ISO 8601 forms tried in turn; "%.f" makes the fraction of a second optional.
_ISO_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_ISO_OFFSET_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"


# ---------------------------------------------------------------- events


def _scan(
    path: Path,
    separator: str | None,
    *,
    has_header: bool = True,
    column_names: tuple[str, ...] | None = None,
) -> tuple[pl.LazyFrame, bool]:
    """Scan a CSV or Parquet file lazily; return the frame and whether it is CSV.

    CSV columns are all read as strings, so that ids keep their exact text and
    no type inference can fail half-way through the file. A CSV without a
    header gets ``column_names`` (default ``column_1``, ``column_2``...).
    """
    suffix = path.suffix.lower()
    is_csv = suffix not in PARQUET_SUFFIXES
    if is_csv and separator is None and suffix not in CSV_SEPARATORS:
        raise DataError(
            f"unknown events file type {suffix!r}",
            path=path,
            fix="use .csv, .tsv, .txt or .parquet, or pass --separator for other text files",
        )
    try:
        if is_csv:
            sep = separator if separator is not None else CSV_SEPARATORS[suffix]
            frame = pl.scan_csv(path, separator=sep, infer_schema=False, has_header=has_header)
            if column_names is not None:
                frame = _name_columns(frame, column_names, path)
        else:
            frame = pl.scan_parquet(path)
        frame.collect_schema()
    except pl.exceptions.NoDataError:
        raise DataError("empty file: no header and no rows", path=path, fix=EMPTY_FIX) from None
    except pl.exceptions.PolarsError as error:
        raise DataError(f"cannot read the file: {first_line(error)}", path=path) from None
    return frame, is_csv


def _name_columns(frame: pl.LazyFrame, names: tuple[str, ...], path: Path) -> pl.LazyFrame:
    """Name the columns of a headerless CSV; the file must have exactly that many."""
    found = frame.collect_schema().names()
    if len(found) != len(names):
        raise DataError(
            f"the file has {len(found)} columns but column_names names {len(names)}: {list(names)}",
            path=path,
            fix="give one name per column (and check the separator)",
        )
    return frame.rename(dict(zip(found, names)))


def _check_columns(frame: pl.LazyFrame, columns: dict[str, str], path: Path) -> pl.Schema:
    """Check that every ``columns`` value is a column of ``frame``; return its schema.

    Parameters
    ----------
    columns
        Role ("user", "item", "time") -> column name.
    """
    schema = frame.collect_schema()
    for role, name in columns.items():
        if name not in schema:
            raise DataError(
                f"missing {role} column; the file has columns {list(schema)}",
                path=path,
                column=name,
                fix=_COLUMN_FIX,
            )
    return schema


def _from_unix(numbers: pl.Expr, micros_per_unit: int) -> pl.Expr:
    """Datetime from unix time counted in units of ``micros_per_unit`` microseconds.

    Values out of range (or NaN, infinite) become null.
    """
    micros = (numbers * micros_per_unit).round().cast(pl.Int64, strict=False)
    return pl.from_epoch(micros, time_unit="us")


def _parse_iso(text: pl.Expr) -> pl.Expr:
    """Datetime from ISO 8601 text; offsets are converted to UTC, bad values become null."""
    text = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    naive = [text.str.to_datetime(f, time_unit="us", strict=False) for f in _ISO_NAIVE_FORMATS]
    aware = text.str.to_datetime(_ISO_OFFSET_FORMAT, time_unit="us", strict=False)
    return pl.coalesce(*naive, aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None))


def _parse_time(column: str, dtype: pl.DataType, unit: TimeUnit) -> pl.Expr:
    """Expression turning the time column into naive UTC ``datetime[us]``.

    Datetime and date columns are used as they are. Otherwise ``unit`` says
    how to read values: ``s``/``ms`` unix time, ``iso`` ISO 8601 text, and
    ``auto`` numbers as unix seconds and other text as ISO 8601.
    Values that cannot be read become null.
    """
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return col.cast(pl.Datetime("us"))
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us"))
    text = col.cast(pl.String).str.strip_chars()
    if unit == "iso":
        return _parse_iso(text)
    micros_per_unit = 1_000 if unit == "ms" else 1_000_000
    if dtype.is_numeric():
        return _from_unix(col.cast(pl.Float64), micros_per_unit)
    epoch = _from_unix(text.cast(pl.Float64, strict=False), micros_per_unit)
    return pl.coalesce(epoch, _parse_iso(text)) if unit == "auto" else epoch


def _validate_events(
    raw: pl.LazyFrame, *, path: Path, header_lines: int | None, columns: dict[str, str]
) -> None:
    """Collect the checks of an events frame in one pass and raise on the first bad row.

    ``raw`` has the contract columns plus ``_raw_time`` (the unparsed value);
    ``columns`` maps each role ("user", "item", "time") to its column in the file;
    ``header_lines`` is 1 or 0 for a text file with or without a header, None for Parquet.
    """
    bad = pl.any_horizontal(
        pl.col("user_id").is_null(), pl.col("item_id").is_null(), pl.col("timestamp").is_null()
    )
    try:
        checks = raw.select(
            pl.len().alias("rows"),
            pl.struct(pl.all()).filter(bad).first().alias("bad"),
        ).collect()
    except pl.exceptions.PolarsError as error:
        raise DataError(
            f"cannot read the file: {first_line(error)}",
            path=path,
            fix="check the separator and that the file is valid UTF-8 CSV or Parquet",
        ) from None
    if checks["rows"][0] == 0:
        raise DataError("empty file: no rows", path=path, fix=EMPTY_FIX)
    row: dict[str, Any] | None = checks["bad"][0]
    if row is not None:
        _raise_bad_row(row, path=path, header_lines=header_lines, columns=columns)


def _raise_bad_row(
    row: dict[str, Any], *, path: Path, header_lines: int | None, columns: dict[str, str]
) -> None:
    """Raise the :class:`DataError` describing the first bad events row."""
    index = row["event_index"]
    # A text file has lines (after its header, if any); Parquet has rows, not lines.
    line = None if header_lines is None else index + 1 + header_lines
    where = "" if header_lines is not None else f" in row {index + 1}"
    for key, role in (("user_id", "user"), ("item_id", "item")):
        if row[key] is None:
            raise DataError(
                f"missing {role} id{where}",
                path=path,
                line=line,
                column=columns[role],
                fix="fill in or remove the row",
            )
    if row["_raw_time"] is None:
        raise DataError(
            f"missing timestamp{where}",
            path=path,
            line=line,
            column=columns["time"],
            fix="fill in or remove the row",
        )
    raise DataError(
        f"unparseable timestamp{where}",
        path=path,
        line=line,
        column=columns["time"],
        value=row["_raw_time"],
        fix=_TIME_FIX,
    )


def read_events(
    path: str | Path,
    *,
    user_column: str = "user_id",
    item_column: str = "item_id",
    time_column: str = "timestamp",
    time_unit: TimeUnit = "auto",
    separator: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """Read an events file (CSV or Parquet) lazily, checking it once.

    Parameters
    ----------
    path
        ``.csv`` (comma), ``.tsv`` or ``.txt`` (tab) with a header row, or
        ``.parquet`` / ``.pq``.
    user_column, item_column, time_column
        Names of the columns holding the user (or session) id, the item id
        and the time of the event.
    time_unit
        ``s``: unix seconds (fractions keep microseconds); ``ms``: unix
        milliseconds; ``iso``: ISO 8601 text (``2024-01-31T12:00:00``,
        optional fraction and UTC offset); ``auto``: numbers are unix
        seconds, other text is ISO 8601. Datetime columns of a Parquet file
        are used as they are. Times with an offset are converted to UTC.
    separator
        Field separator of a text file; the default depends on the suffix.
        With a separator, any suffix is read as text (MovieLens ``u.data``).
    has_header
        Whether the first line of a text file names the columns.
    column_names
        Names of the columns of a text file without a header, in order
        (default ``column_1``, ``column_2``...).

    Returns
    -------
    polars.LazyFrame
        The events contract: ``user_id: str, item_id: str,
        timestamp: datetime[us], event_index: u64``, where ``event_index``
        is the row's position in the file (it breaks timestamp ties).

    Raises
    ------
    DataError
        If the file is missing or empty, a column is missing (listing the
        columns there are), or a row has a missing id or a missing or
        unparseable timestamp (naming the line and value).

    Notes
    -----
    Checking needs one pass over the file; the returned frame stays lazy and
    reads the file again when collected.
    """
    path = Path(path)
    check_file(path)
    names = None if column_names is None else tuple(column_names)
    frame, is_csv = _scan(path, separator, has_header=has_header, column_names=names)
    columns = {"user": user_column, "item": item_column, "time": time_column}
    schema = _check_columns(frame, columns, path)
    raw = frame.with_row_index("_event_index").select(
        pl.col(user_column).cast(pl.String).str.strip_chars().alias("user_id"),
        pl.col(item_column).cast(pl.String).str.strip_chars().alias("item_id"),
        _parse_time(time_column, schema[time_column], time_unit).alias("timestamp"),
        pl.col("_event_index").cast(pl.UInt64).alias("event_index"),
        pl.col(time_column).alias("_raw_time"),
    )
    header_lines = (1 if has_header else 0) if is_csv else None
    _validate_events(raw, path=path, header_lines=header_lines, columns=columns)
    return raw.drop("_raw_time")


