"""Item metadata of the public research datasets, in their original layouts.

* :func:`read_yes_metadata`: the Cornell yes playlists' ``song_hash.txt``
  with the Last.fm tags of ``tags.txt`` / ``tag_hash.txt`` (Chen et al., KDD 2012);
* :func:`read_movielens_items`: MovieLens ``u.item`` with the genre names of
  ``u.genre`` (GroupLens).

Both return the metadata contract (``item_id`` first, string columns) and
raise :class:`~recsys.errors.DataError` naming the file and line of the first
problem. :func:`read_metadata` reads any supported metadata layout, these
two and the generic ones of :mod:`recsys.data.readers`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl

from recsys.data._schema import check_metadata
from recsys.data.readers import check_file, read_metadata_csv, read_song_hash
from recsys.data.readers._files import read_utf8
from recsys.errors import DataError

__all__ = ["read_yes_metadata", "read_movielens_items", "read_metadata", "MOVIELENS_GENRES"]

MOVIELENS_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
"""The 19 genres of MovieLens 100K, in the order of ``u.item``'s flags."""

_ITEM_FIELDS = 5  # id, title, release date, video release date, IMDb URL


def _lines(text: str) -> list[str]:
    """Lines of ``text`` without line ends; a final empty line is dropped."""
    lines = text.replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _read_tag_names(path: Path) -> dict[str, str]:
    """``tag_hash.txt``: one ``id, name`` per line -> {id: name}."""
    names: dict[str, str] = {}
    for number, line in enumerate(_lines(read_utf8(path)), start=1):
        if not line.strip():
            continue
        tag_id, sep, name = line.partition(",")
        if not sep or not tag_id.strip():
            raise DataError(
                "expected 'id, name'", path=path, line=number, value=line,
                fix="write one tag per line as its integer id, a comma and its name",
            )
        names[tag_id.strip()] = name.strip()
    return names


def _read_tags(path: Path, names: dict[str, str]) -> list[str | None]:
    """``tags.txt``: line i holds the tag ids of song i (``#`` for none) -> tag names joined by ', '."""
    tags: list[str | None] = []
    for number, line in enumerate(_lines(read_utf8(path)), start=1):
        ids = line.split()
        if ids in ([], ["#"]):
            tags.append(None)
            continue
        unknown = [i for i in ids if i not in names]
        if unknown:
            raise DataError(
                "tag id not in the tag names file", path=path, line=number, value=unknown[0],
                fix="use the tag_hash.txt that belongs to this tags.txt",
            )
        tags.append(", ".join(names[i] for i in ids))
    return tags


def read_yes_metadata(
    song_hash: str | Path, *, tags: str | Path | None = None, tag_names: str | Path | None = None
) -> pl.DataFrame:
    """Read the yes playlists' song metadata and Last.fm tags.

    Parameters
    ----------
    song_hash
        ``song_hash.txt``: ``id<TAB>title<TAB>artist`` per song (see
        :func:`~recsys.data.readers.read_song_hash`).
    tags
        ``tags.txt``: line i (0-based) holds the space-separated tag ids of
        song i, ``#`` for none. Default: ``tags.txt`` beside ``song_hash``,
        if it exists (without it there is no ``tags`` column).
    tag_names
        ``tag_hash.txt``: ``id, name`` per line. Default: ``tag_hash.txt``
        beside ``tags``.

    Returns
    -------
    polars.DataFrame
        ``item_id, title, artist`` and, with tags, ``tags``: the song's tag
        names joined by ``", "`` (null for a song without tags).

    Raises
    ------
    DataError
        If a file is missing or malformed, ``tags.txt`` has more lines than
        there are songs, or names a tag id that ``tag_hash.txt`` lacks.
    """
    song_hash = Path(song_hash)
    songs = read_song_hash(song_hash)
    tags_path = Path(tags) if tags is not None else song_hash.parent / "tags.txt"
    if tags is None and not tags_path.exists():
        return songs
    names_path = Path(tag_names) if tag_names is not None else tags_path.parent / "tag_hash.txt"
    check_file(names_path)
    song_tags = _read_tags(tags_path, _read_tag_names(names_path))
    if len(song_tags) > songs.height:
        raise DataError(
            f"{len(song_tags)} lines of tags for {songs.height} songs",
            path=tags_path,
            fix="use the tags.txt that belongs to this song_hash.txt",
        )
    frame = pl.DataFrame(
        {"item_id": [str(i) for i in range(len(song_tags))], "tags": song_tags},
        schema={"item_id": pl.String, "tags": pl.String},
    )
    return songs.join(frame, on="item_id", how="left", maintain_order="left")


def _genre_names(path: Path) -> tuple[str, ...]:
    """``u.genre``: ``name|index`` per line -> names in index order."""
    pairs = []
    for number, line in enumerate(_lines(path.read_bytes().decode("latin-1")), start=1):
        if not line.strip():
            continue
        name, sep, index = line.rpartition("|")
        if not sep or not index.strip().isdigit():
            raise DataError("expected 'name|index'", path=path, line=number, value=line,
                            fix="use the u.genre file of the same MovieLens release")
        pairs.append((int(index), name))
    return tuple(name for _, name in sorted(pairs))


def read_movielens_items(path: str | Path, *, genres: str | Path | None = None) -> pl.DataFrame:
    """Read MovieLens ``u.item``: movie titles, release dates and genres.

    Parameters
    ----------
    path
        ``u.item``, Latin-1 text: ``id|title|release date|video release
        date|IMDb URL`` followed by one 0/1 flag per genre.
    genres
        ``u.genre`` (``name|index`` per line) naming the flags. Default:
        ``u.genre`` beside ``path`` if it exists, else :data:`MOVIELENS_GENRES`.

    Returns
    -------
    polars.DataFrame
        ``item_id, title, release_date, genres`` (genre names joined by
        ``"|"``, null for a movie without any), one row per movie.

    Raises
    ------
    DataError
        If a file is missing, or a line has the wrong number of fields or a
        flag other than 0 or 1 (naming the line).
    """
    path = Path(path)
    check_file(path)
    genre_path = Path(genres) if genres is not None else path.parent / "u.genre"
    if genres is not None:
        check_file(genre_path)
    names = _genre_names(genre_path) if genre_path.exists() else MOVIELENS_GENRES
    rows: dict[str, list[str | None]] = {"item_id": [], "title": [], "release_date": [], "genres": []}
    for number, line in enumerate(_lines(path.read_bytes().decode("latin-1")), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        flags = fields[_ITEM_FIELDS:]
        if len(flags) != len(names) or any(f not in ("0", "1") for f in flags):
            raise DataError(
                f"expected {_ITEM_FIELDS} fields and {len(names)} genre flags (0 or 1) "
                f"separated by '|', found {len(fields)} fields",
                path=path, line=number, value=line,
                fix="check that the file is a MovieLens u.item and u.genre is the matching genre list",
            )
        rows["item_id"].append(fields[0].strip())
        rows["title"].append(fields[1].strip() or None)
        rows["release_date"].append(fields[2].strip() or None)
        rows["genres"].append("|".join(n for n, f in zip(names, flags) if f == "1") or None)
    if not rows["item_id"]:
        raise DataError("empty file: no movies", path=path, fix="check the file")
    return check_metadata(pl.DataFrame(rows, schema=dict.fromkeys(rows, pl.String)), source=path)


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
        ``song_hash`` (:func:`~recsys.data.readers.read_song_hash`), ``csv``
        (:func:`~recsys.data.readers.read_metadata_csv`), ``yes`` (song_hash with the Last.fm tags
        beside it, :func:`read_yes_metadata`),
        ``movielens`` (``u.item``, :func:`read_movielens_items`),
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
        return read_yes_metadata(path) if format == "yes" else read_movielens_items(path)
    return read_song_hash(path)
