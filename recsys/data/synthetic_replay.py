"""Synthetic listening histories with strong sequential structure: albums replayed in order.

Real listening logs (one person's scrobbles, a family's smart speaker) look
nothing like curated playlists: the same albums come back again and again,
played track after track in their order, with skips, a stop before the
end, and the odd unrelated track in between. What comes *after* a track is
then almost certain, while what comes *before* it is just as close in a
symmetric window, which is exactly what a symmetric skip-gram window cannot
tell apart. :func:`generate_replays` plants that structure with known
answers: the right next item is the next track of the same album.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from recsys.data._schema import SEQUENCES_SCHEMA

__all__ = ["ReplayConfig", "generate_replays"]


class ReplayConfig(BaseModel):
    """Shape of the synthetic listening histories."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    n_listeners: int = Field(20, ge=1)
    """Listeners; each has favourite albums of their own."""

    sessions_per_listener: int = Field(60, ge=1)
    """Listening sessions of each listener (each one sequence)."""

    n_albums: int = Field(300, ge=1)
    """Albums in the catalogue."""

    min_tracks: int = Field(6, ge=2)
    """Fewest tracks on an album."""

    max_tracks: int = Field(14, ge=2)
    """Most tracks on an album."""

    favourites: int = Field(15, ge=1)
    """Albums a listener returns to; drawn by global album popularity (Zipf)."""

    favourite_share: float = Field(0.8, ge=0.0, le=1.0)
    """Probability that an album played is one of the listener's favourites
    (otherwise it is drawn from the whole catalogue by popularity)."""

    albums_per_session: float = Field(2.0, ge=1.0)
    """Mean number of albums played in a session (a geometric number, at least 1)."""

    from_start: float = Field(0.7, ge=0.0, le=1.0)
    """Probability that an album is played from its first track (otherwise
    from a random track)."""

    stop: float = Field(0.08, ge=0.0, lt=1.0)
    """Probability of stopping an album after each track."""

    skip: float = Field(0.08, ge=0.0, lt=1.0)
    """Probability of skipping a track of the album."""

    stray: float = Field(0.05, ge=0.0, lt=1.0)
    """Probability that a random track from anywhere is played between two tracks."""

    zipf_exponent: float = Field(1.0, ge=0.0)
    """Album popularity is proportional to ``1 / rank**zipf_exponent``."""

    seed: int = Field(11, ge=0)
    """Seed of the random generator; the same config gives the same histories."""


def _album_tracks(config: ReplayConfig, rng: np.random.Generator) -> list[np.ndarray]:
    sizes = rng.integers(config.min_tracks, max(config.max_tracks, config.min_tracks) + 1, size=config.n_albums)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return [np.arange(start, start + size) for start, size in zip(starts, sizes)]


def _play_album(
    tracks: np.ndarray, config: ReplayConfig, rng: np.random.Generator, n_items: int, out: list[int]
) -> None:
    """Append one play of an album: in order, from the start or a random track, with skips,
    stray tracks and an early stop."""
    first = 0 if rng.random() < config.from_start else int(rng.integers(0, tracks.size))
    for track in tracks[first:]:
        if rng.random() < config.skip:
            continue
        if rng.random() < config.stray:
            out.append(int(rng.integers(0, n_items)))
        out.append(int(track))
        if rng.random() < config.stop:
            break


def generate_replays(config: ReplayConfig = ReplayConfig()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generate listening sessions in which albums are replayed in track order.

    Parameters
    ----------
    config
        Shape and seed.

    Returns
    -------
    sequences : polars.DataFrame
        The sequences contract; ids ``"l003-s0041"`` (listener, session).
        Consecutive repeats of a track never occur; sessions shorter than 2
        are dropped.
    metadata : polars.DataFrame
        ``item_id, title, artist, album`` of every track; ids ``"t1"``...
    """
    rng = np.random.default_rng(config.seed)
    albums = _album_tracks(config, rng)
    n_items = int(sum(a.size for a in albums))
    popularity = 1.0 / np.arange(1, config.n_albums + 1) ** config.zipf_exponent
    popularity = rng.permutation(popularity)
    popularity /= popularity.sum()
    ids, sequences = [], []
    count = min(config.favourites, config.n_albums)
    for listener in range(config.n_listeners):
        favourites = rng.choice(config.n_albums, size=count, replace=False, p=popularity)
        for session in range(config.sessions_per_listener):
            played: list[int] = []
            for _ in range(int(rng.geometric(1.0 / config.albums_per_session))):
                if rng.random() < config.favourite_share:
                    album = int(favourites[rng.integers(0, count)])
                else:
                    album = int(rng.choice(config.n_albums, p=popularity))
                _play_album(albums[album], config, rng, n_items, played)
            kept = [t for i, t in enumerate(played) if i == 0 or t != played[i - 1]]
            if len(kept) >= 2:
                ids.append(f"l{listener:03d}-s{session:04d}")
                sequences.append([f"t{t + 1}" for t in kept])
    frame = pl.DataFrame({"sequence_id": ids, "items": sequences}, schema=SEQUENCES_SCHEMA)
    album_of = np.concatenate([np.full(a.size, i) for i, a in enumerate(albums)])
    number = np.concatenate([np.arange(1, a.size + 1) for a in albums])
    metadata = pl.DataFrame(
        {
            "item_id": [f"t{t + 1}" for t in range(n_items)],
            "title": [f"Track {n} of album {a + 1}" for n, a in zip(number, album_of)],
            "artist": [f"Artist {a // 3 + 1}" for a in album_of],
            "album": [f"Album {a + 1}" for a in album_of],
        }
    )
    return frame, metadata
