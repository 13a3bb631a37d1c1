"""Search structures stored beside the model: built once, reused by later loads, never trusted when stale."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest

import recsys.recommender._spaces
from recsys import tracking
from recsys.config import Item2VecConfig
from recsys.errors import ModelLoadError, StoredStructureWarning
from recsys.item2vec import ItemVectors
from recsys.recommender import Recommender
from recsys.search_store import SEARCH_DIR, SearchStore, model_digest


def _vectors(n_items: int = 400, dim: int = 16, seed: int = 0) -> ItemVectors:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, dim))
    vectors = (centres[rng.integers(0, 8, n_items)] + 0.3 * rng.normal(size=(n_items, dim))).astype(np.float32)
    return ItemVectors(
        item_ids=tuple(f"i{i}" for i in range(n_items)),
        vectors=vectors,
        counts=rng.integers(1, 100, n_items),
        config=Item2VecConfig(vector_size=dim),
        context_vectors=rng.normal(size=(n_items, dim)).astype(np.float32),
    )


def _answers(recommender: Recommender) -> list[list[str]]:
    queries = [f"i{i}" for i in range(0, len(recommender), 7)]
    return [list(recommender.recommend(q, k=10, relation=r)[0]) for r in ("similar", "next") for q in queries]


@pytest.mark.parametrize("index", ["auto", "hnsw"])
def test_structures_are_built_once_then_loaded(tmp_path: Path, index: str) -> None:
    model = _vectors().save(tmp_path / "model")
    first = Recommender.from_directory(model, index=index).prepare()
    kind = "table" if index == "auto" else "hnsw"
    assert {(p.relation, p.kind, p.source) for p in first.preparations.values()} == {
        ("similar", kind, "built"), ("next", kind, "built")}
    assert sorted(p.name for p in (model / SEARCH_DIR).iterdir()) == [f"next-{kind}", f"similar-{kind}"]

    second = Recommender.from_directory(model, index=index).prepare()
    assert {p.source for p in second.preparations.values()} == {"stored"}
    assert "loaded from" in second.preparations["similar"].summary()
    assert _answers(second) == _answers(first)
    assert second.ann_reports == first.ann_reports
    assert second.search_mode == ("table" if index == "auto" else "hnsw")
    if kind == "table":
        assert isinstance(second._search.spaces["similar"].table.rows, np.memmap)  # shared, not copied


def test_a_changed_model_is_never_served_with_old_structures(tmp_path: Path) -> None:
    model = _vectors().save(tmp_path / "model")
    Recommender.from_directory(model).prepare()
    # another model's files copied over this one's, its stored structures left behind
    original = ItemVectors.load(model)
    other = dataclasses.replace(original, vectors=original.vectors[::-1].copy())  # same shape, other neighbours
    other_dir = other.save(tmp_path / "other")
    for name in ("items.parquet", "vectors.npy", "context_vectors.npy", "config.json", "manifest.json"):
        shutil.copy(other_dir / name, model / name)
    with pytest.warns(StoredStructureWarning) as caught:
        rebuilt = Recommender.from_directory(model).prepare()
    pattern = (r"(similar|next)-table: it was built for model digest \w+\.\.\., but "
               r"the model files now digest to \w+\.\.\. \(were they changed\?\)")
    stale = sorted(re.search(pattern, str(w.message)).group(1) for w in caught)  # type: ignore[union-attr]
    assert stale == ["next", "similar"]  # each stored table is named once
    assert {p.source for p in rebuilt.preparations.values()} == {"built"}
    fresh = Recommender(ItemVectors.load(model))  # exact search on the changed vectors
    assert _answers(rebuilt)[:5] == [list(fresh.recommend(f"i{i}", k=10, relation="similar")[0]) for i in range(0, 35, 7)]
    entry = json.loads((model / SEARCH_DIR / "similar-table" / "entry.json").read_text(encoding="utf-8"))
    assert entry["model_digest"] == model_digest(model) == other.digest
    assert {p.source for p in Recommender.from_directory(model).prepare().preparations.values()} == {"stored"}


def test_a_model_file_edited_in_place_is_refused_before_any_structure_is_used(tmp_path: Path) -> None:
    model = _vectors().save(tmp_path / "model")
    Recommender.from_directory(model).prepare()
    np.save(model / "vectors.npy", np.load(model / "vectors.npy")[::-1].copy())
    with pytest.raises(ModelLoadError, match="vectors.npy: does not match the SHA-256 in manifest.json"):
        Recommender.from_directory(model)


def test_damaged_or_foreign_structures_are_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _vectors(n_items=300).save(tmp_path / "model")
    Recommender.from_directory(model, index="hnsw").prepare()
    graph = model / SEARCH_DIR / "next-hnsw" / "graph.faiss"
    graph.write_bytes(graph.read_bytes()[:1000])
    with pytest.warns(StoredStructureWarning, match="graph.faiss is missing or not the size recorded"):
        again = Recommender.from_directory(model, index="hnsw").prepare()
    assert again.preparations["next"].source == "built" and again.preparations["similar"].source == "stored"

    Recommender.from_directory(model).prepare()
    monkeypatch.setattr(recsys.recommender._spaces, "TABLE_DEPTH", 20)  # other settings: not this structure, no warning
    shallow = Recommender.from_directory(model).prepare()
    assert {p.source for p in shallow.preparations.values()} == {"built"}
    assert shallow._search.spaces["similar"].table.depth == 20


def test_an_unwritable_store_still_serves(tmp_path: Path) -> None:
    model = _vectors(n_items=200).save(tmp_path / "model")
    (model / SEARCH_DIR).write_text("not a folder", encoding="utf-8")
    with pytest.warns(StoredStructureWarning, match="cannot store search structures in .*; they will be built again"):
        recommender = Recommender.from_directory(model).prepare()
    assert recommender.search_mode == "table"
    assert "stored in" not in recommender.preparations["similar"].summary()
    assert Recommender.from_directory(model, store=False).store is None


def test_registration_ships_the_structures_with_the_model(mlflow_store: str) -> None:
    vectors = _vectors(n_items=250, seed=3)
    experiment = tracking.experiment_id("search-store-test")
    with mlflow.start_run(experiment_id=experiment):
        uri = tracking.log_model(vectors, registered_model="search-store-test")
    model_dir = tracking.local_model_dir(uri)
    store = model_dir / "artifacts" / "item_vectors" / SEARCH_DIR
    assert sorted(p.name for p in store.iterdir()) == ["next-table", "similar-table"]
    served = Recommender.load("models:/search-store-test/latest").prepare()
    assert {p.source for p in served.preparations.values()} == {"stored"}
    assert SearchStore(store.parent).digest == model_digest(store.parent)
