"""Item metadata: the yes ``song_hash.txt`` layout and CSV files with an id column."""

from __future__ import annotations

import html
import re
from pathlib import Path

import polars as pl

from recsys.data._schema import check_metadata
from recsys.data.readers._files import EMPTY_FIX, check_file, read_utf8
from recsys.errors import DataError, first_line

__all__ = ["read_metadata_csv", "read_song_hash"]

# The yes dataset escapes "/" and "\" as in JSON ("AC\/DC").
_SONG_HASH_ESCAPE = re.compile(r"\\([\\/\"])")


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
    for number, line in enumerate(read_utf8(path).split("\n"), start=1):
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
        raise DataError("empty file: no header and no rows", path=path, fix=EMPTY_FIX) from None
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
