"""Readers for every supported input format, checked once at the boundary.

Each reader turns one file format into one of the contracts of
:mod:`recsys.data._schema` (events, sequences or metadata) and raises
:class:`~recsys.errors.DataError` naming the file, line, column and value of
the first problem it finds, with a fix.

* :func:`read_playlists`: one sequence per line, whitespace-separated ids;
* :func:`read_events`: CSV or Parquet with user, item and time columns;
* :func:`read_mpd`: Spotify Million Playlist Dataset JSON slices;
* :func:`read_sequences`: the sequences contract as Parquet (``recsys prepare``);
* :func:`read_song_hash`, :func:`read_metadata_csv`, :func:`read_metadata`:
  item metadata.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl

from recsys.data._schema import check_metadata, check_sequences
from recsys.errors import DataError, first_line

__all__ = [
    "check_file",
    "read_playlists",
    "read_events",
    "read_mpd",
    "read_sequences",
    "sequences_files",
    "read_song_hash",
    "read_metadata_csv",
    "read_metadata",
]

TimeUnit = Literal["auto", "s", "ms", "iso"]

_UTF8_BOM = b"\xef\xbb\xbf"
_CSV_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_TIME_FIX = "use unix seconds or ISO 8601 (2024-01-31T12:00:00), or set --time-unit"
_COLUMN_FIX = "pass --user-column/--item-column/--time-column"
_EMPTY_FIX = "check the file: it should have a header row and at least one row of data"
_MPD_FIX = "check the MPD layout: {'playlists': [{'pid', 'tracks': [{'pos', 'track_uri'}]}]}"
# ISO 8601 forms tried in turn; "%.f" makes the fraction of a second optional.
_ISO_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_ISO_OFFSET_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
# The yes dataset escapes "/" and "\" as in JSON ("AC\/DC").
_SONG_HASH_ESCAPE = re.compile(r"\\([\\/\"])")


# ---------------------------------------------------------------- shared helpers


def check_file(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` is an existing file."""
    if not path.exists():
        raise DataError("file not found", path=path, fix="check the path and the working directory")
    if not path.is_file():
        raise DataError("not a file", path=path, fix="pass the path of a file, not a directory")


def _read_utf8(path: Path) -> str:
    """Read ``path`` as UTF-8 text (an optional byte-order mark is ignored).

    Raises
    ------
    DataError
        If the file is missing or holds bytes that are not UTF-8, naming the
        line of the first bad byte.
    """
    check_file(path)
    data = path.read_bytes().removeprefix(_UTF8_BOM)
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


def _drop_single_items(sequences: pl.DataFrame, *, path: Path, unit: str) -> pl.DataFrame:
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


# ---------------------------------------------------------------- playlists


def read_playlists(path: str | Path, *, skip_lines: int = 0) -> pl.DataFrame:
    """Read a playlists text file: one sequence per line, whitespace-separated ids.

    Parameters
    ----------
    path
        Text file in UTF-8. Any whitespace separates ids (trailing spaces, as
        in the yes dataset, and Windows line ends are fine).
    skip_lines
        Number of header lines to skip at the top of the file (the original
        yes_complete ``train.txt`` has 2).

    Returns
    -------
    polars.DataFrame
        The sequences contract. ``sequence_id`` is the 1-based line number in
        the file, as a string, so that later messages can point to the line.

    Raises
    ------
    DataError
        If the file is missing, is not UTF-8 (naming the line), or has no
        line with at least 2 items.

    Warns
    -----
    UserWarning
        When lines with a single item are dropped: a single item has no context.
    """
    path = Path(path)
    text = _read_utf8(path)
    lines = (
        pl.DataFrame({"items": [text]})
        .select(pl.col("items").str.split("\n").explode())
        .with_row_index("line", offset=1)
        .slice(skip_lines)
        .select(
            pl.col("line").cast(pl.String).alias("sequence_id"),
            pl.col("items").str.extract_all(r"\S+"),
        )
        .filter(pl.col("items").list.len() > 0)
    )
    if lines.height == 0:
        skipped = f" after skipping {skip_lines} line(s)" if skip_lines else ""
        raise DataError(
            f"empty file: no playlists{skipped}",
            path=path,
            fix="write one playlist per line, item ids separated by spaces",
        )
    sequences = _drop_single_items(lines, path=path, unit="line")
    if sequences.height == 0:
        raise DataError(
            "no line with at least 2 items",
            path=path,
            fix="write one playlist per line, item ids separated by spaces",
        )
    return check_sequences(sequences, source=path)


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
    is_csv = suffix not in _PARQUET_SUFFIXES
    if is_csv and separator is None and suffix not in _CSV_SEPARATORS:
        raise DataError(
            f"unknown events file type {suffix!r}",
            path=path,
            fix="use .csv, .tsv, .txt or .parquet, or pass --separator for other text files",
        )
    try:
        if is_csv:
            sep = separator if separator is not None else _CSV_SEPARATORS[suffix]
            frame = pl.scan_csv(path, separator=sep, infer_schema=False, has_header=has_header)
            if column_names is not None:
                frame = _name_columns(frame, column_names, path)
        else:
            frame = pl.scan_parquet(path)
        frame.collect_schema()
    except pl.exceptions.NoDataError:
        raise DataError("empty file: no header and no rows", path=path, fix=_EMPTY_FIX) from None
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
        raise DataError("empty file: no rows", path=path, fix=_EMPTY_FIX)
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


# ---------------------------------------------------------------- Spotify MPD


def _load_json(path: Path) -> Any:
    """Parse a JSON file, raising :class:`DataError` with the line and column of a syntax error."""
    try:
        return json.loads(_read_utf8(path))
    except json.JSONDecodeError as error:
        raise DataError(
            f"invalid JSON at column {error.colno}: {error.msg}",
            path=path,
            line=error.lineno,
            fix="check that the file is a complete Million Playlist Dataset slice",
        ) from None


def _require(mapping: Any, key: str, *, path: Path, where: str) -> Any:
    """``mapping[key]``, or a :class:`DataError` naming the key and where it is missing."""
    if not isinstance(mapping, dict):
        raise DataError(f"{where} is not a JSON object", path=path, fix=_MPD_FIX)
    if key not in mapping:
        raise DataError(
            f"{where} has no {key!r} key",
            path=path,
            column=key,
            fix=_MPD_FIX,
        )
    return mapping[key]


def _mpd_files(path: Path) -> list[Path]:
    """The JSON files to read: ``path`` itself, or the ``*.json`` files of a directory by name."""
    if not path.is_dir():
        check_file(path)
        return [path]
    files = sorted(path.glob("*.json"))
    if not files:
        raise DataError("no .json files in the directory", path=path, fix="check the path")
    return files


def _read_mpd_file(
    path: Path, sequences: dict[str, list[Any]], tracks: dict[str, list[Any]]
) -> None:
    """Append the playlists and tracks of one MPD slice to column lists."""
    playlists = _require(_load_json(path), "playlists", path=path, where="the top-level object")
    if not isinstance(playlists, list):
        raise DataError("'playlists' is not a JSON array", path=path, fix=_MPD_FIX)
    for i, playlist in enumerate(playlists):
        where = f"playlists[{i}]"
        pid = _require(playlist, "pid", path=path, where=where)
        entries = _require(playlist, "tracks", path=path, where=where)
        for j, track in enumerate(entries):
            uri = _require(track, "track_uri", path=path, where=f"{where}.tracks[{j}]")
            tracks["item_id"].append(uri)
            tracks["title"].append(track.get("track_name"))
            tracks["artist"].append(track.get("artist_name"))
            tracks["album"].append(track.get("album_name"))
        ordered = sorted(enumerate(entries), key=lambda pair: pair[1].get("pos", pair[0]))
        sequences["sequence_id"].append(str(pid))
        sequences["items"].append([track["track_uri"] for _, track in ordered])


def read_mpd(path: str | Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read Spotify Million Playlist Dataset slices: playlists and track metadata.

    Parameters
    ----------
    path
        A JSON slice ``{"playlists": [{"pid", "tracks": [{"pos",
        "track_uri", "track_name", "artist_name", "album_name"}]}]}``, or a
        directory whose ``*.json`` files are read in name order.

    Returns
    -------
    sequences : polars.DataFrame
        The sequences contract: ``sequence_id`` is the playlist's ``pid``,
        ``items`` its track URIs ordered by ``pos`` (file order without it).
    metadata : polars.DataFrame
        ``item_id`` (track URI), ``title``, ``artist``, ``album``; one row per track.

    Raises
    ------
    DataError
        If a file is missing or not valid JSON (naming line and column), a
        required key is missing (naming the key and the playlist), or no
        playlist has at least 2 tracks.

    Warns
    -----
    UserWarning
        When playlists with fewer than 2 tracks are dropped.
    """
    path = Path(path)
    sequences: dict[str, list[Any]] = {"sequence_id": [], "items": []}
    tracks: dict[str, list[Any]] = {"item_id": [], "title": [], "artist": [], "album": []}
    for file in _mpd_files(path):
        _read_mpd_file(file, sequences, tracks)
    frame = pl.DataFrame(sequences, schema={"sequence_id": pl.String, "items": pl.List(pl.String)})
    frame = _drop_single_items(frame, path=path, unit="playlist")
    metadata = pl.DataFrame(tracks, schema=dict.fromkeys(tracks, pl.String))
    return check_sequences(frame, source=path), check_metadata(metadata, source=path)


# ---------------------------------------------------------------- sequences


def sequences_files(path: str | Path) -> list[Path]:
    """The Parquet files of a sequences input: ``path`` itself, or a directory's parts in name order.

    In a directory, files whose names start with ``_`` or ``.`` (Spark's
    ``_SUCCESS``, checksums, staging files) are not parts.

    Raises
    ------
    DataError
        If ``path`` is missing, or a directory without Parquet files.
    """
    path = Path(path)
    if not path.is_dir():
        check_file(path)
        return [path]
    parts = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix in _PARQUET_SUFFIXES and not p.name.startswith(("_", "."))
    )
    if not parts:
        raise DataError(
            "no Parquet files in the directory",
            path=path,
            fix="pass the directory `recsys prepare` wrote (or a sequences .parquet file)",
        )
    return parts


def read_sequences(path: str | Path) -> pl.DataFrame:
    """Read the sequences contract from Parquet: a file, or a directory of parts read in name order.

    This is what ``recsys prepare`` writes with either engine (Spark writes
    ``part-*.parquet`` files, sorted by user and session across the parts).

    Parameters
    ----------
    path
        A ``.parquet`` file or a directory of them, with columns
        ``sequence_id: str`` and ``items: list[str]``.

    Returns
    -------
    polars.DataFrame
        The sequences contract, rows in file order.

    Raises
    ------
    DataError
        If the input is missing, unreadable, breaks the contract (naming
        the column) or has no sequence with at least 2 items.

    Warns
    -----
    UserWarning
        When sequences with fewer than 2 items are dropped.
    """
    path = Path(path)
    files = sequences_files(path)
    try:
        frame = pl.read_parquet([str(file) for file in files])
    except pl.exceptions.PolarsError as error:
        raise DataError(
            f"cannot read the sequences: {first_line(error)}",
            path=path,
            fix="pass Parquet files with the columns sequence_id (string) and items (list of strings)",
        ) from None
    sequences = check_sequences(frame, source=path)
    return check_sequences(_drop_single_items(sequences, path=path, unit="sequence"), source=path)


# ---------------------------------------------------------------- metadata


def _clean_song_field(text: str) -> str | None:
    """Undo the yes dataset's escapes (``\\/``, ``&amp;``), strip; None if empty."""
    text = html.unescape(_SONG_HASH_ESCAPE.sub(r"\1", text)).strip()
    return text or None


def read_song_hash(path: str | Path) -> pl.DataFrame:
    """Read item metadata in the yes dataset's ``song_hash.txt`` layout.

    Parameters
    ----------
    path
        UTF-8 text, one song per line: ``id<TAB>title<TAB>artist``. Ids may
        carry trailing spaces. Titles and artists are unescaped (the yes data
        writes ``AC\\/DC`` and ``&amp;``) and stripped; empty ones become null.

    Returns
    -------
    polars.DataFrame
        ``item_id``, ``title``, ``artist`` (strings), one row per id.

    Raises
    ------
    DataError
        If the file is missing, not UTF-8, empty, or a line does not have
        exactly 3 tab-separated fields or has an empty id (naming the line).
    """
    path = Path(path)
    rows: dict[str, list[str | None]] = {"item_id": [], "title": [], "artist": []}
    for number, line in enumerate(_read_utf8(path).split("\n"), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) != 3 or not fields[0].strip():
            raise DataError(
                f"expected 3 tab-separated fields (id, title, artist), found {len(fields)}"
                + ("" if fields[0].strip() else " and an empty id"),
                path=path,
                line=number,
                value=line,
                fix="separate id, title and artist by single tabs, or use --metadata-format csv",
            )
        rows["item_id"].append(fields[0].strip())
        rows["title"].append(_clean_song_field(fields[1]))
        rows["artist"].append(_clean_song_field(fields[2]))
    if not rows["item_id"]:
        raise DataError("empty file: no songs", path=path, fix="check the file")
    return check_metadata(pl.DataFrame(rows, schema=dict.fromkeys(rows, pl.String)), source=path)


def read_metadata_csv(
    path: str | Path, *, id_column: str = "item_id", separator: str = ","
) -> pl.DataFrame:
    """Read item metadata from a CSV file with a header row.

    Parameters
    ----------
    path
        CSV file in UTF-8. Every column is read as text.
    id_column
        The column holding the item id; it is renamed to ``item_id``.
    separator
        Field separator.

    Returns
    -------
    polars.DataFrame
        ``item_id`` first, then the file's other columns, one row per id
        (the first row of a repeated id wins).

    Raises
    ------
    DataError
        If the file is missing or cannot be parsed, or the id column is
        missing (listing the columns there are).
    """
    path = Path(path)
    check_file(path)
    try:
        frame = pl.read_csv(path, separator=separator, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise DataError("empty file: no header and no rows", path=path, fix=_EMPTY_FIX) from None
    except pl.exceptions.PolarsError as error:
        raise DataError(
            f"cannot read the file: {first_line(error)}",
            path=path,
            fix="check the separator and that the file is valid UTF-8 CSV",
        ) from None
    if id_column not in frame.columns:
        raise DataError(
            f"missing id column; the file has columns {frame.columns}",
            path=path,
            column=id_column,
            fix="pass --metadata-id-column with the name of the id column",
        )
    if id_column != "item_id" and "item_id" in frame.columns:
        raise DataError(
            f"both {id_column!r} and 'item_id' columns exist",
            path=path,
            column="item_id",
            fix="rename or drop one of them",
        )
    return check_metadata(frame.rename({id_column: "item_id"}), source=path)


def read_metadata(
    path: str | Path,
    *,
    format: Literal["auto", "song_hash", "csv", "yes", "movielens"] = "auto",
    id_column: str = "item_id",
) -> pl.DataFrame:
    """Read item metadata in any supported layout.

    Parameters
    ----------
    path
        Metadata file.
    format
        ``song_hash`` (:func:`read_song_hash`), ``csv``
        (:func:`read_metadata_csv`), ``yes`` (song_hash with the Last.fm tags
        beside it, :func:`recsys.data.datasets.read_yes_metadata`),
        ``movielens`` (``u.item``, :func:`recsys.data.datasets.read_movielens_items`),
        or ``auto``: csv for a ``.csv`` file, song_hash otherwise.
    id_column
        The id column of a CSV file.

    Returns
    -------
    polars.DataFrame
        The metadata contract: ``item_id`` first, other columns as strings.
    """
    path = Path(path)
    if format == "auto":
        format = "csv" if path.suffix.lower() == ".csv" else "song_hash"
    if format == "csv":
        return read_metadata_csv(path, id_column=id_column)
    if format in ("yes", "movielens"):
        # datasets.py builds on this module's helpers, so it is imported here, not at the top
        from recsys.data.datasets import read_movielens_items, read_yes_metadata

        return read_yes_metadata(path) if format == "yes" else read_movielens_items(path)
    return read_song_hash(path)
