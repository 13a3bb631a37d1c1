"""Where the data comes from and how it becomes train and test sequences."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from recsys.config._base import _Config

__all__ = ["DataConfig", "SessionConfig", "SplitConfig"]


class DataConfig(_Config):
    """Where the input is and how to read it."""

    name: str = Field("default", min_length=1)
    """Dataset name: names the MLflow experiment and tags the run."""

    path: Path
    """Input: playlists text, events CSV/Parquet, an MPD JSON slice, or
    sequences Parquet (a file or a directory of parts)."""

    test_path: Path | None = None
    """Test data in a file of its own, read like ``path`` (a split made by
    the dataset's authors, such as session-rec's ``_test.txt``); needs
    ``split.method = "file"``."""

    format: Literal["playlists", "events", "mpd", "sequences"] = "playlists"
    """``playlists``: one sequence per line, whitespace-separated ids;
    ``events``: CSV or Parquet with user, item and timestamp columns;
    ``mpd``: a Spotify Million Playlist Dataset JSON slice;
    ``sequences``: the sequences contract as Parquet, a file or a directory
    of parts (as ``recsys prepare`` writes with either engine)."""

    skip_lines: int = Field(0, ge=0)
    """Header lines to skip in a playlists file (the public yes_complete
    ``train.txt`` has 2)."""

    separator: str | None = None
    """Field separator of an events CSV (default: ',' for .csv, tab for .tsv/.txt)."""

    has_header: bool = True
    """Events text file: the first row names the columns. Without one, the
    columns are named by ``column_names`` (MovieLens ``u.data``)."""

    column_names: tuple[str, ...] | None = None
    """Events text file without a header: the names of its columns, in
    order (default ``column_1``, ``column_2``...)."""

    user_column: str = "user_id"
    """Events: column holding the user (or session) id."""

    item_column: str = "item_id"
    """Events: column holding the item id."""

    time_column: str = "timestamp"
    """Events: column holding the time of the event."""

    time_unit: Literal["auto", "s", "ms", "iso"] = "auto"
    """Events: unix seconds (integer or fractional), milliseconds, or ISO 8601
    strings; ``auto`` decides from the column's type."""

    metadata: Path | None = None
    """Optional item metadata: the yes ``song_hash.txt`` layout or a CSV."""

    metadata_format: Literal["auto", "song_hash", "csv", "yes", "movielens"] = "auto"
    """``song_hash``: ``id<TAB>title<TAB>artist``; ``csv``: header row with an id
    column; ``yes``: ``song_hash.txt`` plus the Last.fm tags of ``tags.txt``
    and ``tag_hash.txt`` beside it; ``movielens``: MovieLens ``u.item``
    (title, release date, genres); ``auto``: csv for ``.csv`` files,
    song_hash otherwise."""

    metadata_id_column: str = "item_id"
    """Metadata CSV: the column holding the item id."""

    min_item_count: int = Field(1, ge=1)
    """Drop items seen fewer times than this in the training data (and the
    sequences that become shorter than 2)."""

    cache_dir: Path | None = None
    """Events: where sessionized sequences are cached as Parquet, keyed by
    the input's content digest and the reader and session settings (default:
    ``$RECSYS_CACHE_DIR``, else ``.recsys-cache`` in the working directory)."""


class SessionConfig(_Config):
    """How events become sequences."""

    gap_minutes: float = Field(30.0, gt=0)
    """Cut a user's events into a new session where the gap to the previous
    event exceeds this many minutes (30 is the Airbnb default); a gap of
    exactly this length stays in the same session."""

    drop_repeats: bool = True
    """Remove consecutive repeats of the same item within a session."""

    max_length: int | None = Field(None, ge=2)
    """Keep at most this many most recent items of a session (None: no limit)."""


class SplitConfig(_Config):
    """How sequences are split into training and test data."""

    method: Literal["random", "time", "file"] = "random"
    """``random``: a random fraction of whole sequences is held out;
    ``time``: events (format ``events`` only) before the cut-off train, after it test;
    ``file``: ``data.path`` trains and ``data.test_path`` tests."""

    test_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    """Random split: share of sequences held out. Time split: share of the
    time range (the latest part) held out."""

    seed: int = Field(42, ge=0)
    """Seed of the random split."""

    max_test_sequences: int | None = Field(5_000, ge=1)
    """Random split: hold out at most this many sequences, however large the
    data (None: no limit); the others train. Evaluation time grows with test
    cases times catalogue size (and, for the co-occurrence baseline, with
    the training data), while 5,000 sessions (~37,000 next-item cases)
    already measure HR@10 to about +-0.003."""
