"""Cold start: features, the metadata mapper, add_items, cold flags, bad metadata (known-answer corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys import Recommender, train
from recsys.coldstart import ColdStart, MetadataFeatures, MetadataMapper, choose_roles
from recsys.config import ColdStartConfig, Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.errors import ConfigError, DataError, UnknownItemError
from recsys.item2vec import ItemVectors

FAST = Item2VecConfig(vector_size=16, epochs=10, workers=1)


def _metadata(ids: list[str]) -> pl.DataFrame:
    """Cluster a's items are jazz by three jazz artists, cluster b's rock by three rock artists."""
    rows = []
    for item in ids:
        cluster, number = item[0], int(item[1:])
        genre = "jazz" if cluster == "a" else "rock"
        rows.append({"item_id": item, "title": f"{genre} tune number {number}",
                     "artist": f"{genre} band {number % 3}", "tags": f"{genre}, live|{genre} classics"})
    return pl.DataFrame(rows)


NEW = pl.DataFrame({
    "item_id": ["a-new", "b-new"],
    "title": ["a brand new jazz tune", "a brand new rock tune"],
    "artist": ["jazz band 1", "rock band 2"],
    "tags": ["Jazz; live", "ROCK|Live"],
})


@pytest.fixture(scope="module")
def vectors() -> ItemVectors:
    return train(two_cluster_corpus(), FAST)


@pytest.fixture(scope="module")
def metadata(vectors: ItemVectors) -> pl.DataFrame:
    return _metadata(list(vectors.item_ids))


@pytest.fixture(scope="module")
def cold_start(vectors: ItemVectors, metadata: pl.DataFrame) -> ColdStart:
    return ColdStart(MetadataMapper(ColdStartConfig(min_df=1)).fit(vectors, metadata))


@pytest.fixture(scope="module")
def recommender(vectors: ItemVectors, metadata: pl.DataFrame, cold_start: ColdStart) -> Recommender:
    return Recommender(vectors, metadata, cold_start=cold_start).add_items(NEW)


# ------------------------------------------------------------------ features
def test_roles_are_chosen_by_column_name() -> None:
    columns = ["item_id", "title", "artist", "tags", "genres", "release_date", "genre", "colour"]
    assert choose_roles(columns) == {"title": "text", "artist": "categorical", "tags": "tags", "genres": "tags",
                                     "release_date": "year", "genre": "categorical"}
    assert choose_roles(columns, {"colour": "categorical"}) == {"colour": "categorical"}
    with pytest.raises(ConfigError, match="'size'.*lacks"):
        choose_roles(columns, {"size": "text"})


def test_features_normalise_tags_and_years_and_round_trip(tmp_path: Path) -> None:
    frame = pl.DataFrame({
        "item_id": ["1", "2", "3", "4"],
        "tags": ["Rock, Pop", "rock|pop", "jazz;  POP", None],
        "released": ["01-Jan-1995", "1997", "no date", "12-Mar-1995"],
        "artist": ["x", "y", "x", None],
    })
    features = MetadataFeatures({"tags": "tags", "released": "year", "artist": "categorical"}, min_df=1).fit(frame)
    matrix = features.transform(frame).toarray()
    tags = features.blocks_[0].encoder.vocabulary_
    assert set(tags) == {"rock", "pop", "jazz"}
    assert np.allclose(matrix[0, :3], matrix[1, :3])  # "Rock, Pop" and "rock|pop" are the same tags
    assert matrix[3, :3].sum() == 0  # no tags: no tag features
    years = features.blocks_[1].encoder.categories_
    assert years[0].tolist() == ["1995", "1997"] and years[1].tolist() == ["1990s"]
    assert matrix[2, 3:6].sum() == 0  # no year found: zeros
    features.save(tmp_path)
    loaded = MetadataFeatures.load(tmp_path)
    unseen = pl.DataFrame({"item_id": ["9"], "tags": ["pop, metal"], "released": ["2001"], "artist": ["z"]})
    assert np.array_equal(loaded.transform(frame).toarray(), matrix)
    assert np.array_equal(loaded.transform(unseen).toarray(), features.transform(unseen).toarray())
    assert json.loads((tmp_path / "features.json").read_text())["roles"]["tags"] == "tags"


def test_a_column_without_shared_words_gives_no_features() -> None:
    frame = pl.DataFrame({"item_id": ["1", "2"], "title": ["one", "two"]})
    with pytest.raises(DataError, match="no metadata feature"):
        MetadataFeatures({"title": "text"}, min_df=2).fit(frame)


# -------------------------------------------------------------------- mapper
def test_mapper_reports_its_fit(cold_start: ColdStart) -> None:
    report = cold_start.mapper.report_
    assert report.n_items == 40 and report.n_validation == 8 and report.n_features > 10
    assert report.input.r2 > 0.3 and report.output is not None and report.output.r2 > 0.3
    assert 0 < report.input.neighbour_recall <= 1 and report.output.scale >= 1
    metrics = report.metrics()
    assert {"cold_start/input.r2", "cold_start/output.neighbour_recall_at_10", "cold_start/output.scale"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())


def test_save_load_round_trip_without_pickle(recommender: Recommender, tmp_path: Path) -> None:
    assert recommender.cold_start is not None
    directory = recommender.cold_start.save(tmp_path / "cold_start")
    for array in directory.glob("*.np[yz]"):
        np.load(array, allow_pickle=False)  # plain arrays: loading never runs code
    loaded = ColdStart.load(directory)
    assert loaded.item_ids == ("a-new", "b-new")
    assert np.array_equal(loaded.vectors, recommender.cold_start.vectors)
    more = pl.DataFrame({"item_id": ["c"], "title": ["jazz tune"], "artist": ["jazz band 0"], "tags": ["jazz"]})
    ours = recommender.cold_start.add(more, catalogue=set(recommender.item_ids))
    theirs = loaded.add(more, catalogue=set(recommender.item_ids))
    assert np.array_equal(ours.vectors, theirs.vectors) and np.array_equal(ours.context_vectors, theirs.context_vectors)


def test_a_fixed_seed_repeats(vectors: ItemVectors, metadata: pl.DataFrame, cold_start: ColdStart) -> None:
    again = MetadataMapper(ColdStartConfig(min_df=1)).fit(vectors, metadata)
    first, second = cold_start.mapper.predict(NEW), again.predict(NEW)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert again.report_.input == cold_start.mapper.report_.input


def test_too_few_warm_items_with_metadata(vectors: ItemVectors) -> None:
    with pytest.raises(DataError, match="only 3 trained items have metadata"):
        MetadataMapper().fit(vectors, _metadata(["a1", "a2", "b1"]))


# ------------------------------------------------------------- add_items
def test_new_items_stay_in_their_cluster(recommender: Recommender) -> None:
    """Two clusters that never co-occur: a new jazz item is recommended with jazz items only, and the other way."""
    for relation in ("similar", "next"):
        for new, cluster in (("a-new", "a"), ("b-new", "b")):
            ids, _ = recommender.recommend(new, k=10, relation=relation)
            assert len(ids) == 10 and all(i[0] == cluster for i in ids), (relation, new, ids)
        for item in recommender.trained_vectors.item_ids:
            ids, _ = recommender.recommend(item, k=20, relation=relation)  # the 20 other items of its cluster
            assert all(i[0] == item[0] for i in ids), (relation, item, ids)


def test_results_flag_cold_items(recommender: Recommender) -> None:
    assert recommender.is_cold("a-new") and not recommender.is_cold("a1")
    assert recommender.cold_item_ids == ("a-new", "b-new") and len(recommender) == 42
    result = recommender.recommend("a1", k=41, relation="similar")
    assert result.cold.dtype == bool and result.cold.shape == result.item_ids.shape
    assert result.cold.tolist() == [i in ("a-new", "b-new") for i in result.item_ids]
    assert result.cold.sum() == 2  # k covers the whole catalogue: both new items are there, flagged
    batch = recommender.recommend_many(["a-new", "b1"], k=41)
    assert batch.cold.shape == batch.item_ids.shape == (2, 41)
    assert batch.cold[0].tolist() == [i == "b-new" for i in batch.item_ids[0]]
    frame = recommender.recommend_frame("b-new", k=41)
    assert frame.filter(pl.col("cold"))["item_id"].to_list() == ["a-new"]
    assert frame.filter(pl.col("item_id") == "a-new")["artist"].to_list() == ["jazz band 1"]  # metadata joined
    assert recommender.to_frame(recommender.recommend("a2", k=3))["cold"].dtype == pl.Boolean


def test_an_item_the_model_had_metadata_for_but_never_trained_is_added_once(
    vectors: ItemVectors, metadata: pl.DataFrame, cold_start: ColdStart
) -> None:
    """Metadata of an item with too few plays to train is in the model; adding the item replaces that row."""
    stale = NEW.filter(pl.col("item_id") == "a-new").with_columns(pl.lit("an old title").alias("title"))
    added = Recommender(vectors, pl.concat([metadata, stale]), cold_start=cold_start).add_items(NEW)
    assert added.metadata is not None and added.metadata["item_id"].is_duplicated().sum() == 0
    frame = added.recommend_frame("b-new", k=41)
    assert frame.height == 41 and frame.filter(pl.col("item_id") == "a-new")["title"].to_list() == [
        "a brand new jazz tune"
    ]


def test_explain_says_the_vector_came_from_metadata(recommender: Recommender) -> None:
    explanation = recommender.explain("a-new", "a1")
    assert explanation.from_metadata == (True, False) and explanation.counts[0] == 0
    assert recommender.explain("a1", "a2").from_metadata == (False, False)


def test_add_items_leaves_the_model_unchanged(recommender: Recommender, vectors: ItemVectors) -> None:
    assert recommender.trained_vectors is vectors
    assert np.array_equal(recommender.item_vectors.vectors[: len(vectors)], vectors.vectors)
    again = recommender.add_items(NEW.with_columns(pl.col("item_id") + "-2"))
    assert len(again.cold_item_ids) == 4 and len(recommender.cold_item_ids) == 2
    with pytest.raises(UnknownItemError):
        recommender.recommend("a-new-2")


def test_a_model_without_a_mapper_says_how_to_get_one(vectors: ItemVectors) -> None:
    with pytest.raises(ConfigError, match="no metadata mapper.*--metadata"):
        Recommender(vectors).add_items(NEW)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (NEW.drop("item_id"), "missing column in item metadata"),
        (NEW.with_columns(pl.lit("red").alias("colour")), r"unknown metadata column\(s\) \['colour'\]"),
        (NEW.with_columns(pl.when(pl.col("item_id") == "b-new").then(pl.lit("  ")).otherwise(pl.col(c)).alias(c)
                          for c in ("title", "artist", "tags")), "'b-new' have no metadata"),
        (NEW.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in ("title", "artist", "tags")),
         "have no metadata to make a vector from"),
        (pl.concat([NEW, pl.DataFrame({"item_id": ["a3"], "title": ["x"], "artist": ["y"], "tags": ["z"]})]),
         "'a3' are already in the catalogue"),
        (pl.concat([NEW, NEW.head(1)]), "repeated item ids 'a-new'"),
        (NEW.head(0), "no items to add"),
    ],
    ids=["no-id-column", "unknown-column", "blank-text", "empty-text", "already-known", "repeated", "no-rows"],
)
def test_bad_metadata_is_one_clear_error(recommender: Recommender, frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        recommender.add_items(frame, source="new.csv")
    assert "\n" not in str(error.value) and str(error.value).startswith("new.csv")
