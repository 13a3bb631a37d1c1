"""The synthetic corpora: deterministic, with the structure they promise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.synthetic import (
    SynthConfig,
    generate_playlists,
    planted_next_counts,
    two_cluster_corpus,
    write_playlists,
    write_synthetic,
)
from recsys.errors import DataError


@pytest.fixture(scope="module")
def corpus() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_playlists()


def _tracks(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    sequences, metadata = corpus
    return (
        sequences.with_columns(pl.int_ranges(pl.col("items").list.len()).alias("position"))
        .explode("items", "position")
        .join(metadata, left_on="items", right_on="item_id", how="left", maintain_order="left")
    )


def test_generation_is_deterministic(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    again = generate_playlists(SynthConfig())
    assert corpus[0].equals(again[0]) and corpus[1].equals(again[1])
    other = generate_playlists(SynthConfig(seed=8))
    assert not corpus[0].equals(other[0])


def test_shapes_and_contracts(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    sequences, metadata = corpus
    config = SynthConfig()
    assert sequences.schema == pl.Schema(SEQUENCES_SCHEMA)
    assert sequences.height == config.n_playlists
    assert sequences["sequence_id"][0] == "p00001"
    lengths = sequences["items"].list.len()
    assert lengths.min() >= config.min_length and lengths.max() <= config.max_length
    assert abs(lengths.mean() - config.mean_length) < 1.5
    assert metadata.columns == ["item_id", "title", "artist", "genre"]
    assert metadata["item_id"].to_list() == [str(i) for i in range(1, 961)]
    assert metadata["artist"].n_unique() == 96 and metadata["genre"].n_unique() == 8


def test_playlists_stick_to_one_genre(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    majority = (
        _tracks(corpus)
        .group_by("sequence_id", "genre")
        .len()
        .group_by("sequence_id")
        .agg(pl.col("len").max() / pl.col("len").sum())
    )
    assert majority["len"].mean() >= 0.85


def test_artists_come_in_runs(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    tracks = _tracks(corpus).with_columns(
        pl.col("artist").shift(1).over("sequence_id").alias("previous_artist")
    )
    following = tracks.filter(pl.col("position") > 0)
    assert (following["artist"] == following["previous_artist"]).mean() >= 0.45


def test_playlists_hold_distinct_tracks(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    sequences = corpus[0]
    assert sequences["items"].list.n_unique().equals(sequences["items"].list.len())


def test_popularity_is_skewed(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    counts = _tracks(corpus)["items"].value_counts(sort=True)["count"]
    assert counts[0] > 5 * counts.median()


def test_planted_next_counts_are_the_corpus_own_transitions(corpus: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Same ids as the corpus, new playlists, and the generator's structure: same artist first."""
    item_ids, counts = planted_next_counts(n_playlists=20_000)
    sequences, metadata = corpus
    assert list(item_ids) == metadata["item_id"].to_list() and counts.shape == (960, 960)
    row = {item: i for i, item in enumerate(item_ids)}
    observed = [(row[a], row[b]) for items in sequences["items"] for a, b in zip(items, items[1:])]
    first, second = np.array(observed).T
    # consecutive tracks of the shipped corpus are common pairs of the planted counts (ids mapped right)
    assert np.asarray(counts[first, second]).mean() > 20 * counts.mean()
    artist = metadata["artist"].to_numpy()
    dense = counts.toarray()
    assert (artist[dense.argmax(axis=1)] == artist).mean() > 0.95
    same_artist = dense[artist[:, None] == artist[None, :]].sum() / dense.sum()
    assert 0.5 <= same_artist < 0.7  # artist_run = 0.5, plus a new artist that happens to be the same
    again = planted_next_counts(n_playlists=20_000)[1]
    other = planted_next_counts(n_playlists=20_000, seed=3)[1]
    assert (again != counts).nnz == 0 and (other != counts).nnz > 0


def test_files_are_small_and_round_trip(tmp_path: Path) -> None:
    playlists, metadata = write_synthetic(tmp_path / "sample")
    assert playlists.stat().st_size + metadata.stat().st_size < 1024 * 1024
    sequences, expected_metadata = generate_playlists()
    lines = playlists.read_text(encoding="utf-8").splitlines()
    assert [line.split(" ") for line in lines] == sequences["items"].to_list()
    assert pl.read_csv(metadata, infer_schema=False).equals(expected_metadata)
    assert sorted(p.name for p in playlists.parent.iterdir()) == ["metadata.csv", "playlists.txt"]


def test_write_playlists_rejects_ids_with_spaces(tmp_path: Path) -> None:
    sequences = pl.DataFrame(
        {"sequence_id": ["x"], "items": [["a b", "c"]]}, schema=SEQUENCES_SCHEMA
    )
    with pytest.raises(DataError, match="whitespace"):
        write_playlists(sequences, tmp_path / "p.txt")
    assert not list(tmp_path.iterdir())


def test_config_rejects_inconsistent_lengths() -> None:
    with pytest.raises(ValueError, match="min_length"):
        SynthConfig(mean_length=3)
    with pytest.raises(ValueError, match="tracks of a genre"):
        SynthConfig(artists_per_genre=2, items_per_artist=5)
    with pytest.raises(ValueError, match="extra"):
        SynthConfig(n_genre=3)  # type: ignore[call-arg]


def test_two_clusters_never_mix() -> None:
    corpus = two_cluster_corpus()
    assert corpus.schema == pl.Schema(SEQUENCES_SCHEMA)
    assert corpus.height == 400
    groups = corpus.select(pl.col("items").list.eval(pl.element().str.head(1)).list.unique())
    assert groups["items"].list.len().max() == 1
    items = corpus["items"].explode()
    assert items.n_unique() == 40
    assert (corpus["items"].list.n_unique() == 10).all()
