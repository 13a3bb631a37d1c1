"""Readers for every supported input format, checked once at the boundary.

Each reader turns one file format into one of the contracts of
:mod:`recsys.data._schema` (events, sequences or metadata) and raises
:class:`~recsys.errors.DataError` naming the file, line, column and value of
the first problem it finds, with a fix.

* :func:`read_playlists`: one sequence per line, whitespace-separated ids;
* :func:`read_events`: CSV or Parquet with user, item and time columns;
* :func:`read_mpd`: Spotify Million Playlist Dataset JSON slices;
* :func:`read_sequences`: the sequences contract as Parquet (``recsys prepare``);
* :func:`read_song_hash`, :func:`read_metadata_csv`: item metadata (the
  public datasets' own layouts, and :func:`recsys.data.datasets.read_metadata`
  for any of them, are in :mod:`recsys.data.datasets`).
"""

from recsys.data.readers._events import read_events
from recsys.data.readers._files import CSV_SEPARATORS, PARQUET_SUFFIXES, TimeUnit, check_file, guess_format
from recsys.data.readers._metadata import read_metadata_csv, read_song_hash
from recsys.data.readers._sequences import read_mpd, read_playlists, read_sequences, sequences_files

__all__ = [
    "CSV_SEPARATORS",
    "PARQUET_SUFFIXES",
    "TimeUnit",
    "check_file",
    "guess_format",
    "read_events",
    "read_metadata_csv",
    "read_mpd",
    "read_playlists",
    "read_sequences",
    "read_song_hash",
    "sequences_files",
]
