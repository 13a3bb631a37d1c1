"""Readers of the public datasets' own layouts, and their pipeline configs on the real files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from recsys.config import load_pipeline_config
from recsys.data.datasets import MOVIELENS_GENRES, read_movielens_items, read_yes_metadata
from recsys.data.load import load_training_data
from recsys.data.datasets import read_metadata
from recsys.data.readers import read_events
from recsys.errors import ConfigError, DataError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = PROJECT_ROOT / "pipelines" / "configs"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_yes_metadata_joins_tag_names(tmp_path: Path) -> None:
    song_hash = _write(tmp_path / "song_hash.txt", "0 \tSong A\tArtist\n1 \tAC\\/DC song\tAC\\/DC\n2 \tC\tX\n")
    _write(tmp_path / "tags.txt", "1 0\n#\n")
    _write(tmp_path / "tag_hash.txt", "0, rock\n1, pop\n")
    metadata = read_metadata(song_hash, format="yes")
    assert metadata.columns == ["item_id", "title", "artist", "tags"]
    assert metadata["tags"].to_list() == ["pop, rock", None, None]
    assert metadata["artist"][1] == "AC/DC"


def test_yes_metadata_without_tags_file_is_song_hash_alone(tmp_path: Path) -> None:
    song_hash = _write(tmp_path / "song_hash.txt", "0\tA\tB\n")
    assert read_yes_metadata(song_hash).columns == ["item_id", "title", "artist"]


@pytest.mark.parametrize(
    ("tags", "message"),
    [("7\n", "tag id not in the tag names file"), ("0\n0\n0\n", "3 lines of tags for 2 songs")],
)
def test_yes_bad_tags_name_the_problem(tmp_path: Path, tags: str, message: str) -> None:
    song_hash = _write(tmp_path / "song_hash.txt", "0\tA\tB\n1\tC\tD\n")
    _write(tmp_path / "tags.txt", tags)
    _write(tmp_path / "tag_hash.txt", "0, rock\n")
    with pytest.raises(DataError, match=message):
        read_yes_metadata(song_hash)


def test_movielens_items_in_latin1_with_genre_names(tmp_path: Path) -> None:
    flags = ["0"] * 19
    toy, noir = list(flags), list(flags)
    toy[3] = toy[5] = "1"
    noir[10] = "1"
    lines = [f"1|Toy Story (1995)|01-Jan-1995||http://x|{'|'.join(toy)}",
             f"2|Café noir (1947)|||http://y|{'|'.join(noir)}",
             f"3|Nothing||||{'|'.join(flags)}"]
    path = _write(tmp_path / "u.item", "\n".join(lines) + "\n", encoding="latin-1")
    items = read_movielens_items(path)
    assert items.rows() == [
        ("1", "Toy Story (1995)", "01-Jan-1995", "Animation|Comedy"),
        ("2", "Café noir (1947)", None, "Film-Noir"),
        ("3", "Nothing", None, None),
    ]
    _write(tmp_path / "u.genre", "".join(f"G{i}|{i}\n" for i in range(19)) + "\n")
    assert read_metadata(path, format="movielens")["genres"][0] == "G3|G5"


def test_movielens_bad_line_names_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.item", "1|A|||url|" + "|".join(["0"] * len(MOVIELENS_GENRES)) + "\n2|B|||url|0|1\n")
    with pytest.raises(DataError, match=r"u.item:2: expected 5 fields and 19 genre flags"):
        read_movielens_items(path)


def test_headerless_events_with_column_names(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.data", "196\t242\t3\t881250949\n186\t302\t3\tsoon\n")
    columns = ["user_id", "item_id", "rating", "timestamp"]
    with pytest.raises(DataError, match=r"u.data:2: column 'timestamp': unparseable timestamp"):
        read_events(path, separator="\t", has_header=False, column_names=columns)
    with pytest.raises(DataError, match="the file has 4 columns but column_names names 2"):
        read_events(path, separator="\t", has_header=False, column_names=["a", "b"])
    _write(path, "196\t242\t3\t881250949\n")
    events = read_events(path, separator="\t", has_header=False, column_names=columns).collect()
    assert events.select("user_id", "item_id").row(0) == ("196", "242")


def test_column_names_need_a_headerless_file() -> None:
    with pytest.raises(ConfigError, match="has_header = false"):
        load_pipeline_config(base={"data": {"path": "x", "column_names": ["a"]}})


# ------------------------------------------------------------------ the real files in ../shared/data


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "train_sequences", "items", "metadata_columns"),
    [
        ("yes", 900, 23_912, ["item_id", "title", "artist", "tags"]),
        ("rsc15", 14_560, 2_888, None),
        ("ml-100k", 849, 1_676, ["item_id", "title", "release_date", "genres"]),
    ],
)
def test_dataset_configs_read_the_real_data(
    shared_data: Path, name: str, train_sequences: int, items: int, metadata_columns: list[str] | None
) -> None:
    prepared = load_training_data(load_pipeline_config(CONFIGS / f"{name}.toml"))
    assert prepared.counts["train_sequences"] == train_sequences
    assert prepared.counts["items"] == items
    assert not set(prepared.train["sequence_id"]) & set(prepared.test["sequence_id"])
    if metadata_columns is None:
        assert prepared.metadata is None
    else:
        assert prepared.metadata is not None and prepared.metadata.columns == metadata_columns


@pytest.mark.realdata
def test_movielens_sequences_are_users_in_time_order(shared_data: Path) -> None:
    prepared = load_training_data(load_pipeline_config(CONFIGS / "ml-100k.toml"))
    sequences = pl.concat([prepared.train, prepared.test])
    assert sequences.height == 943 and sequences["items"].list.len().sum() == 100_000
    ratings = pl.read_csv(shared_data / "ml-100k" / "u.data", separator="\t", has_header=False,
                          new_columns=["user", "item", "rating", "time"], schema_overrides={"user": pl.String})
    first = ratings.filter(pl.col("user") == "1").sort("time", maintain_order=True)
    by_user = dict(zip(sequences["sequence_id"].to_list(), sequences["items"].to_list()))
    assert by_user["1:1"] == [str(i) for i in first["item"].to_list()]


@pytest.mark.realdata
def test_missing_dataset_file_is_a_clear_data_error(shared_data: Path) -> None:
    config = load_pipeline_config(CONFIGS / "rsc15.toml", overrides=["data.test_path=nowhere/test.txt"])
    with pytest.raises(DataError, match="nowhere/test.txt: file not found"):
        load_training_data(config)
