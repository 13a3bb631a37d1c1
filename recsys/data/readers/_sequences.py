"""Sequences read directly: one playlist per line, Spotify MPD JSON slices, the sequences contract as Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from recsys.data._schema import check_metadata, check_sequences
from recsys.data.readers._files import PARQUET_SUFFIXES, check_file, drop_single_items, read_utf8
from recsys.errors import DataError, first_line

__all__ = ["read_mpd", "read_playlists", "read_sequences", "sequences_files"]

_MPD_FIX = "check the MPD layout: {'playlists': [{'pid', 'tracks': [{'pos', 'track_uri'}]}]}"


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
    text = read_utf8(path)
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
    sequences = drop_single_items(lines, path=path, unit="line")
    if sequences.height == 0:
        raise DataError(
            "no line with at least 2 items",
            path=path,
            fix="write one playlist per line, item ids separated by spaces",
        )
    return check_sequences(sequences, source=path)




# ---------------------------------------------------------------- Spotify MPD


def _load_json(path: Path) -> Any:
    """Parse a JSON file, raising :class:`DataError` with the line and column of a syntax error."""
    try:
        return json.loads(read_utf8(path))
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
    frame = drop_single_items(frame, path=path, unit="playlist")
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
        p for p in path.iterdir() if p.is_file() and p.suffix in PARQUET_SUFFIXES and not p.name.startswith(("_", "."))
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
    return check_sequences(drop_single_items(sequences, path=path, unit="sequence"), source=path)


