"""Sentence embeddings for the cold-start mapper (the ``text`` extra), offline.

The tests that embed text need ``recsys[text]`` (``make install-text``; CI
installs it) and skip only where it is absent; the error for a config that
asks for them without the extra is checked everywhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import require

from recsys import Recommender, train
from recsys.coldstart import ColdStart, MetadataMapper
from recsys.coldstart.text import SentenceEncoder, text_extra_available
from recsys.config import ColdStartConfig, Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.errors import ConfigError
from recsys.item2vec import ItemVectors
from tests.test_coldstart import NEW, _metadata


@pytest.fixture
def text_extra() -> None:
    """The text extra, or a skip (a failure in CI, where .ci/run installs it)."""
    if not text_extra_available():
        require("the text extra is not installed (make install-text)")


needs_text = pytest.mark.usefixtures("text_extra")


@pytest.fixture(scope="module")
def vectors() -> ItemVectors:
    return train(two_cluster_corpus(), Item2VecConfig(vector_size=16, epochs=10, workers=1))


def test_asking_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch, vectors: ItemVectors) -> None:
    monkeypatch.setattr(SentenceEncoder, "_shared", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"text extra: pip install torch==2\.13\.0 .*'\.\[text\]'"):
        MetadataMapper(ColdStartConfig(sentence_embeddings=True, min_df=1)).fit(vectors, _metadata(list(vectors.item_ids)))


@needs_text
def test_the_packaged_model_embeds_offline() -> None:
    encoder = SentenceEncoder.load()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and encoder.dimension == 384
    rock, guitar, symphony, empty = encoder.encode(["loud rock song", "electric guitar rock track",
                                                    "classical symphony for orchestra", "  "])
    assert np.isclose(np.linalg.norm(rock), 1.0, atol=1e-5) and not empty.any()
    assert rock @ guitar > rock @ symphony


@needs_text
def test_mapper_with_sentence_embeddings_round_trips(vectors: ItemVectors, tmp_path: Path) -> None:
    config = ColdStartConfig(sentence_embeddings=True, min_df=1)
    mapper = MetadataMapper(config).fit(vectors, _metadata(list(vectors.item_ids)))
    plain = MetadataMapper(ColdStartConfig(min_df=1)).fit(vectors, _metadata(list(vectors.item_ids)))
    assert mapper.report_.n_features == plain.report_.n_features + 384
    cold_start = ColdStart(mapper).add(NEW, catalogue=set(vectors.item_ids))
    loaded = ColdStart.load(cold_start.save(tmp_path / "cold_start"))
    assert loaded.mapper.features_.sentence_embeddings
    again = loaded.add(NEW.with_columns(pl.col("item_id") + "-x"), catalogue=set(vectors.item_ids))
    assert np.allclose(again.vectors[2:], cold_start.vectors, atol=1e-5)  # same metadata, same vectors


@needs_text
def test_a_new_items_next_is_ranked_without_running_the_sentence_model(
    vectors: ItemVectors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cold-query ranking's metadata cosine uses the vectorizers' features only, in the fit and when serving."""
    metadata = _metadata(list(vectors.item_ids))
    mapper = MetadataMapper(ColdStartConfig(sentence_embeddings=True, min_df=1)).fit(
        vectors, metadata, two_cluster_corpus()
    )
    assert mapper.query_ranker_ is not None and mapper.query_ranker_.n_pairs >= 20
    recommender = Recommender(vectors, metadata, cold_start=ColdStart(mapper)).add_items(NEW)
    monkeypatch.setattr(SentenceEncoder, "encode", lambda *args, **kwargs: pytest.fail("the sentence model ran"))
    ids, _ = recommender.recommend("a-new", k=5, relation="next")
    assert len(ids) == 5 and all(i[0] == "a" for i in ids)
    features = mapper.unit_features(recommender.item_ids, recommender.metadata)
    assert features.shape == (len(recommender), mapper.features_.n_block_features)
