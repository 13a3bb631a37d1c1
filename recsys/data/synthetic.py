"""Deterministic synthetic corpora whose structure is known in advance.

:func:`generate_playlists` plants three kinds of structure that a good item
model should recover: playlists stick to one genre, tracks by the same artist
follow one another, and popularity within a genre and an artist is Zipf-like.
:func:`two_cluster_corpus` is the smallest known-answer corpus: two groups of
items that never share a sequence, so neither group may ever be recommended
for the other.

Everything is drawn from one :class:`numpy.random.Generator` seeded from the
config, so the same config always gives the same frames and files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys.data._schema import SEQUENCES_SCHEMA, check_sequences
from recsys.errors import ConfigError, DataError

__all__ = [
    "GENRES",
    "SynthConfig",
    "generate_playlists",
    "planted_next_counts",
    "write_playlists",
    "write_synthetic",
    "two_cluster_corpus",
]

GENRES: tuple[str, ...] = (
    "rock",
    "jazz",
    "hip-hop",
    "classical",
    "electronic",
    "country",
    "reggae",
    "metal",
    "folk",
    "blues",
    "soul",
    "punk",
)
"""Genre names, in the order genres are numbered."""


class SynthConfig(BaseModel):
    """Shape of the synthetic playlist corpus.

    Items are numbered genre by genre and artist by artist; their string ids
    are a seeded permutation of ``"1"..str(n_items)``, so an id says nothing
    about genre or popularity.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    n_genres: int = Field(8, ge=1, le=len(GENRES))
    """Number of genres (named after :data:`GENRES`)."""

    artists_per_genre: int = Field(12, ge=1)
    """Artists in each genre; every artist belongs to exactly one genre."""

    items_per_artist: int = Field(10, ge=1)
    """Tracks by each artist."""

    n_playlists: int = Field(3000, ge=1)
    """Number of playlists."""

    mean_length: float = Field(20.0, gt=0)
    """Mean playlist length before clipping to ``max_length``. Lengths are
    ``min_length`` plus a geometric number of extra tracks, a long tail like
    real playlists."""

    min_length: int = Field(5, ge=2)
    """Shortest playlist."""

    max_length: int = Field(60, ge=2)
    """Longest playlist (longer draws are clipped). A playlist holds distinct
    tracks, so it must fit in one genre: at most
    ``artists_per_genre * items_per_artist``."""

    genre_purity: float = Field(0.9, ge=0.0, le=1.0)
    """Probability that a new artist is drawn from the playlist's main genre;
    otherwise the genre is drawn uniformly from all genres (the main one
    included)."""

    artist_run: float = Field(0.5, ge=0.0, lt=1.0)
    """Probability that a track continues the previous track's artist (unless
    all of that artist's tracks are already in the playlist)."""

    zipf_exponent: float = Field(1.0, ge=0.0)
    """Popularity of the r-th artist of a genre and of the r-th track of an
    artist is proportional to ``1 / r**zipf_exponent`` (0: uniform)."""

    seed: int = Field(7, ge=0)
    """Seed of the random generator; the same config gives the same corpus."""

    @model_validator(mode="after")
    def _check_lengths(self) -> "SynthConfig":
        if not self.min_length <= self.mean_length <= self.max_length:
            raise ValueError(
                f"need min_length <= mean_length <= max_length, got "
                f"{self.min_length}, {self.mean_length}, {self.max_length}"
            )
        items_per_genre = self.artists_per_genre * self.items_per_artist
        if self.max_length > items_per_genre:
            raise ValueError(
                f"max_length ({self.max_length}) exceeds the {items_per_genre} tracks of a genre; "
                "lower it or add artists or tracks"
            )
        return self

    @property
    def n_items(self) -> int:
        """Size of the catalogue."""
        return self.n_genres * self.artists_per_genre * self.items_per_artist


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Probabilities proportional to ``1 / rank**exponent`` for ranks 1..n."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


def _draw_lengths(config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Playlist lengths: ``min_length`` plus a geometric tail, clipped."""
    p = 1.0 / (config.mean_length - config.min_length + 1.0)
    lengths = config.min_length - 1 + rng.geometric(p, size=config.n_playlists)
    return np.minimum(lengths, config.max_length)


def _draw_new_artists(
    config: SynthConfig, rng: np.random.Generator, main_genre: np.ndarray
) -> np.ndarray:
    """A new artist for each position: from the main genre with probability
    ``genre_purity``, else from a uniform random genre; Zipf within the genre."""
    n_tracks = main_genre.size
    other_genre = rng.integers(config.n_genres, size=n_tracks)
    genre = np.where(rng.random(n_tracks) < config.genre_purity, main_genre, other_genre)
    weights = _zipf_weights(config.artists_per_genre, config.zipf_exponent)
    return genre * config.artists_per_genre + rng.choice(
        config.artists_per_genre, size=n_tracks, p=weights
    )


def _occurrences(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group number of each key and how many times it occurred before."""
    _, group, counts = np.unique(key, return_inverse=True, return_counts=True)
    order = np.argsort(group, kind="stable")
    starts = np.cumsum(counts) - counts
    occurrence = np.empty(key.size, dtype=np.int64)
    occurrence[order] = np.arange(key.size) - np.repeat(starts, counts)
    return group, occurrence


def _draw_items(
    config: SynthConfig, rng: np.random.Generator, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Playlist number and item number of every track, in play order.

    The k-th track of an artist in a playlist is the k-th of a Zipf-weighted
    random order of that artist's tracks (Gumbel top-k: weighted sampling
    without replacement), so every playlist holds distinct tracks.
    """
    playlist = np.repeat(np.arange(config.n_playlists), lengths)
    n_tracks = playlist.size
    n_artists = config.n_genres * config.artists_per_genre
    main_genre = rng.integers(config.n_genres, size=config.n_playlists)[playlist]
    is_new = rng.random(n_tracks) >= config.artist_run
    is_new[np.cumsum(lengths) - lengths] = True
    last_new = np.maximum.accumulate(np.where(is_new, np.arange(n_tracks), 0))
    artist = _draw_new_artists(config, rng, main_genre)[last_new]
    while True:
        pair, occurrence = _occurrences(playlist * n_artists + artist)
        exhausted = np.flatnonzero(occurrence >= config.items_per_artist)
        if exhausted.size == 0:
            break
        artist[exhausted] = _draw_new_artists(config, rng, main_genre[exhausted])
    weights = _zipf_weights(config.items_per_artist, config.zipf_exponent)
    keys = np.log(weights) + rng.gumbel(size=(pair.max() + 1, config.items_per_artist))
    track = np.argsort(-keys, axis=1)[pair, occurrence]
    return playlist, artist * config.items_per_artist + track


def _metadata(config: SynthConfig, labels: np.ndarray) -> pl.DataFrame:
    """Metadata of every item, ordered by numeric id."""
    artist = np.arange(config.n_items) // config.items_per_artist
    genre = [GENRES[g] for g in artist // config.artists_per_genre]
    in_genre = artist % config.artists_per_genre + 1
    frame = pl.DataFrame(
        {
            "item_id": labels.astype(str),
            "title": [f"Song {n}" for n in range(1, config.n_items + 1)],
            "artist": [f"{g} artist {a:02d}" for g, a in zip(genre, in_genre)],
            "genre": genre,
        }
    )
    return frame[np.argsort(labels)]


def generate_playlists(config: SynthConfig = SynthConfig()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generate playlists with planted genre, artist and popularity structure.

    Each playlist has a main genre. A track either continues the previous
    track's artist (probability ``artist_run``) or starts a new artist, drawn
    from the main genre with probability ``genre_purity`` and from a uniform
    random genre otherwise; artists within a genre and tracks within an artist
    are Zipf-distributed. No playlist holds the same track twice: an
    artist's tracks are drawn without replacement within a playlist, and an
    artist whose tracks are used up is replaced by a new one.

    Parameters
    ----------
    config
        Corpus shape and seed.

    Returns
    -------
    sequences : polars.DataFrame
        The sequences contract (``sequence_id: str, items: list[str]``), ids
        ``"p00001"``, ``"p00002"``...
    metadata : polars.DataFrame
        ``item_id, title, artist, genre`` (all strings) for every item of the
        catalogue, ordered by numeric id; item ids are ``"1"..str(n_items)``.
    """
    rng = np.random.default_rng(config.seed)
    labels = rng.permutation(config.n_items) + 1
    playlist, item = _draw_items(config, rng, _draw_lengths(config, rng))
    width = max(5, len(str(config.n_playlists)))
    sequences = (
        pl.DataFrame({"playlist": playlist, "item": labels[item].astype(str)})
        .group_by("playlist", maintain_order=True)
        .agg(pl.col("item").alias("items"))
        .select(
            (pl.lit("p") + (pl.col("playlist") + 1).cast(pl.String).str.zfill(width)).alias(
                "sequence_id"
            ),
            "items",
        )
    )
    return sequences, _metadata(config, labels)


def planted_next_counts(
    config: SynthConfig = SynthConfig(), *, n_playlists: int = 400_000, seed: int | None = None
) -> tuple[tuple[str, ...], sp.csr_matrix]:
    """How often each track follows each other in a huge corpus drawn like :func:`generate_playlists`.

    The tracks keep the ids ``generate_playlists(config)`` gives them; only
    the playlists are new (``n_playlists`` of them, from ``seed``). Row ``q``
    normalised is, up to sampling noise, the generator's own probability of
    each next track after ``q``: ranking by it is the best any method can
    do for a next-item case that shows only the query (the Bayes limit),
    which makes it the yardstick of what is reachable on this data.

    Parameters
    ----------
    config
        The corpus whose item ids and structure are meant; its
        ``n_playlists`` is replaced by ``n_playlists``.
    n_playlists
        Playlists to count over (400,000 give about 8 million pairs).
    seed
        Seed of the new playlists; default ``config.seed + 1`` (not the
        shipped corpus's own playlists).

    Returns
    -------
    item_ids : tuple of str
        ``"1"..str(n_items)``, the row and column order.
    counts : scipy.sparse.csr_matrix
        ``(n_items, n_items)`` int64: pairs of consecutive tracks in a playlist.
    """
    labels = np.random.default_rng(config.seed).permutation(config.n_items)
    big = config.model_copy(update={"n_playlists": n_playlists})
    rng = np.random.default_rng(config.seed + 1 if seed is None else seed)
    playlist, item = _draw_items(big, rng, _draw_lengths(big, rng))
    within = playlist[:-1] == playlist[1:]
    rows, columns = labels[item[:-1][within]], labels[item[1:][within]]
    counts = sp.coo_matrix(
        (np.ones(rows.size, dtype=np.int64), (rows, columns)), shape=(config.n_items, config.n_items)
    ).tocsr()
    return tuple(str(i) for i in range(1, config.n_items + 1)), counts


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_playlists(sequences: pl.DataFrame, path: str | Path) -> Path:
    """Write sequences in the playlists text format, atomically.

    One line per sequence, item ids separated by single spaces, in the
    frame's row order. The file appears complete or not at all.

    Parameters
    ----------
    sequences
        Frame following the sequences contract.
    path
        Destination file; its directory must exist.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DataError
        If the frame breaks the contract, or an item id is empty or contains
        whitespace (the format could not read it back).
    """
    path = Path(path)
    sequences = check_sequences(sequences)
    unwritable = pl.element().filter(pl.element().str.contains(r"^$|\s"))
    bad = sequences.select("sequence_id", pl.col("items").list.eval(unwritable)).filter(
        pl.col("items").list.len() > 0
    )
    if bad.height:
        sequence_id, items = bad.row(0)
        raise DataError(
            f"item id in sequence {sequence_id!r} is empty or contains whitespace",
            path=path,
            column="items",
            value=items[0],
            fix="map item ids to tokens without spaces before writing playlists",
        )
    lines = sequences.select(pl.col("items").list.join(" "))["items"]
    _write_atomic(path, "\n".join(lines) + "\n")
    return path


def write_synthetic(
    directory: str | Path, config: SynthConfig = SynthConfig()
) -> tuple[Path, Path]:
    """Generate a synthetic corpus and write it to ``directory``.

    Parameters
    ----------
    directory
        Output directory, created if missing.
    config
        Corpus shape and seed.

    Returns
    -------
    tuple of pathlib.Path
        ``playlists.txt`` (playlists text format) and ``metadata.csv``
        (header ``item_id,title,artist,genre``), each written atomically.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sequences, metadata = generate_playlists(config)
    playlists_path = write_playlists(sequences, directory / "playlists.txt")
    metadata_path = directory / "metadata.csv"
    _write_atomic(metadata_path, metadata.write_csv())
    return playlists_path, metadata_path


def two_cluster_corpus(
    n_items_per_cluster: int = 20, n_sequences: int = 400, length: int = 10, seed: int = 0
) -> pl.DataFrame:
    """Known-answer corpus: two groups of items that never share a sequence.

    Even-numbered sequences draw from items ``a0, a1, ...``, odd-numbered ones
    from ``b0, b1, ...``; each sequence holds ``length`` distinct items of its
    group in random order.

    Parameters
    ----------
    n_items_per_cluster
        Items in each group.
    n_sequences
        Number of sequences (half per group, rounded up for ``a``).
    length
        Items per sequence, between 2 and ``n_items_per_cluster``.
    seed
        Seed of the random generator.

    Returns
    -------
    polars.DataFrame
        The sequences contract, ids ``"s0000"``, ``"s0001"``...

    Raises
    ------
    ConfigError
        If ``length`` is out of range or ``n_sequences`` is not positive.
    """
    if not 2 <= length <= n_items_per_cluster:
        raise ConfigError(
            f"length must be between 2 and n_items_per_cluster "
            f"({n_items_per_cluster}), got {length}"
        )
    if n_sequences < 1:
        raise ConfigError(f"n_sequences must be positive, got {n_sequences}")
    rng = np.random.default_rng(seed)
    picks = rng.random((n_sequences, n_items_per_cluster)).argsort(axis=1)[:, :length]
    prefix = np.where(np.arange(n_sequences) % 2 == 0, "a", "b")[:, None]
    items = np.char.add(prefix, picks.astype(str))
    width = max(4, len(str(n_sequences - 1)))
    return pl.DataFrame(
        {
            "sequence_id": [f"s{i:0{width}d}" for i in range(n_sequences)],
            "items": items.tolist(),
        },
        schema=SEQUENCES_SCHEMA,
    )
