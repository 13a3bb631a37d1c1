"""The data regimes of the robustness benchmark: each a train/test pair built from shared or synthetic data.

A regime is a *kind* of data rather than a dataset: tiny and sparse
sessions, long dense histories, strongly sequential replays, long playlists,
e-commerce clicks. Each is built deterministically (fixed seeds) from the
shipped synthetic generators or from ``../shared/data`` (regimes whose files
are absent are skipped). Every regime is split the same way: a random 10%
of whole sequences (more, up to 30%, if that holds fewer than 2,000 items) is held out for test, unless the dataset
brings its own test file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recsys.config import load_pipeline_config
from recsys.data.load import load_training_data
from recsys.data.split import random_split
from recsys.data.synthetic import SynthConfig, generate_playlists
from recsys.data.synthetic_replay import ReplayConfig, generate_replays

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "pipelines" / "configs"
SHARED = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Regime:
    """One regime: its name, what it stands for, and its train/test sequences."""

    name: str
    kind: str
    train: pl.DataFrame
    test: pl.DataFrame


def _split(sequences: pl.DataFrame, seed: int = 42) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out 10% of the sequences, more (up to 30%) when that gives fewer than 2,000 test items."""
    words = int(sequences["items"].list.len().sum())
    fraction = max(0.1, min(0.3, 2000 / max(words, 1)))
    return random_split(sequences, test_fraction=fraction, seed=seed)


def _dataset(name: str) -> pl.DataFrame | tuple[pl.DataFrame, pl.DataFrame]:
    """All sequences of a shared dataset (train and test pooled), through its pipeline config."""
    prepared = load_training_data(load_pipeline_config(CONFIGS / f"{name}.toml"))
    return prepared.train, prepared.test


def _sample(sequences: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    return sequences.sample(n=min(n, sequences.height), seed=seed, shuffle=True).sort("sequence_id")


def synthetic() -> tuple[pl.DataFrame, pl.DataFrame]:
    return _split(generate_playlists(SynthConfig())[0])


def replay() -> tuple[pl.DataFrame, pl.DataFrame]:
    return _split(generate_replays(ReplayConfig())[0])


def one_listener() -> tuple[pl.DataFrame, pl.DataFrame]:
    """One listener replaying 40 favourite albums over 1,500 sessions."""
    config = ReplayConfig(n_listeners=1, sessions_per_listener=1500, favourites=40, favourite_share=0.9)
    return _split(generate_replays(config)[0])


def sparse_synthetic() -> tuple[pl.DataFrame, pl.DataFrame]:
    """2,000 short sessions over a 6,000-item catalogue: most items are seen once or twice."""
    config = SynthConfig(n_genres=12, artists_per_genre=50, items_per_artist=10, n_playlists=2000,
                         mean_length=5.0, min_length=2, max_length=20, seed=5)
    return _split(generate_playlists(config)[0])


def sparse_sessions() -> tuple[pl.DataFrame, pl.DataFrame]:
    """2,000 click sessions sampled from rsc15 (train and test pooled)."""
    train, test = _dataset("rsc15")
    return _split(_sample(pl.concat([train, test]), 2000, seed=1))


def small_playlists() -> tuple[pl.DataFrame, pl.DataFrame]:
    """300 yes playlists."""
    train, test = _dataset("yes")
    return _split(_sample(pl.concat([train, test]), 300, seed=1))


def dense_histories() -> tuple[pl.DataFrame, pl.DataFrame]:
    """ml-100k: 943 users' rating histories ordered by time."""
    return _dataset("ml-100k")


def small_dense_histories() -> tuple[pl.DataFrame, pl.DataFrame]:
    """300 ml-100k users."""
    train, test = _dataset("ml-100k")
    return _split(_sample(pl.concat([train, test]), 300, seed=1))


def long_playlists() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The yes radio playlists (mean length 176)."""
    return _dataset("yes")


def ecommerce() -> tuple[pl.DataFrame, pl.DataFrame]:
    """rsc15 clicks with the session-rec time split."""
    return _dataset("rsc15")


REGIMES: dict[str, tuple[str, Callable[[], tuple[pl.DataFrame, pl.DataFrame]], tuple[str, ...]]] = {
    "synthetic": ("planted genres, shipped data", synthetic, ()),
    "replay": ("albums replayed in order, 20 listeners", replay, ()),
    "one-listener": ("one listener's replays of 40 albums", one_listener, ()),
    "sparse-synthetic": ("2k short sessions, 6k items", sparse_synthetic, ()),
    "sparse-sessions": ("2k rsc15 sessions", sparse_sessions, ("rsc15",)),
    "small-playlists": ("300 yes playlists", small_playlists, ("yes",)),
    "small-dense": ("300 ml-100k users", small_dense_histories, ("ml-100k",)),
    "dense-histories": ("ml-100k", dense_histories, ("ml-100k",)),
    "long-playlists": ("yes playlists", long_playlists, ("yes",)),
    "ecommerce": ("rsc15 clicks", ecommerce, ("rsc15",)),
}
"""name -> (kind, builder, shared datasets it needs)."""


def available(name: str) -> bool:
    """Whether the files a regime needs are present."""
    needs = REGIMES[name][2]
    return all(load_pipeline_config(CONFIGS / f"{n}.toml").data.path.exists() for n in needs)


def build(name: str) -> Regime:
    """Build one regime's train and test sequences."""
    kind, builder, _needs = REGIMES[name]
    train, test = builder()
    return Regime(name=name, kind=kind, train=train, test=test)
